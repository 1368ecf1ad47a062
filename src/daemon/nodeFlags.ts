/**
 * Flags for the node that runs libcamd, wherever it is started: systemd/libcamd.service,
 * scripts/demo, the `libcamd` command's first line (src/daemon/main.cts), the benchmarks
 * and the tests (test/systemd.test.ts checks the first three carry them). V8 takes them
 * only as the process starts (its command line or NODE_OPTIONS), so libcamd cannot set them
 * itself.
 *
 * --max-semi-space-size=4: V8's young generation at 4 MB a half instead of Node's 16. Most
 * of the slowest 1-hour range queries (360 index entries) were those a garbage collection
 * fell in, and what such a query lost grew with the young generation. On one seeded index,
 * process against process, alternating: p99 median 2.0 ms with the flag against 3.0 ms
 * without (2 MB was worse, 3.7). Recording 16 cameras at 2 and 4 Mbit/s took no more CPU
 * and the same RSS with it (BENCHMARKS.md, Store).
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
