/**
 * Flags for the node that runs libcamd, wherever it is started: systemd/libcamd.service,
 * scripts/demo, the benchmarks and the tests (test/systemd.test.ts checks the first two
 * carry them). V8 reads them only from the command line or NODE_OPTIONS, before the heap
 * exists, so libcamd cannot set them itself.
 *
 * --max-semi-space-size=4: V8's young generation at 4 MB a half instead of 16. What a
 * scavenge costs grows with the young generation, and a 1-hour range query (360 index
 * entries) that meets one took 2-3 ms instead of 0.4: those queries were the whole 99th
 * percentile. Smaller, more frequent scavenges took it from 2.2-2.6 ms to 0.8-2.1 ms;
 * recording 16 cameras at 2 and 4 Mbit/s cost the same CPU and RSS either way
 * (BENCHMARKS.md, Store).
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
