#!/usr/bin/env node
// Passes tap's TAP output through and ends with `N passed, N failed[, N skipped]`.
// A test is a subtest inside a file (indented 4 spaces); a file that failed without a
// failing subtest (it crashed, or timed out) counts as one failure of its own.
import { createInterface } from 'node:readline';

let passed = 0;
let failed = 0;
let skipped = 0;
let fileFailures = 0;
const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  process.stdout.write(`${line}\n`);
  const sub = /^ {4}(not )?ok \d+/.exec(line);
  if (sub) {
    if (/# (SKIP|TODO)/i.test(line)) skipped += 1;
    else if (sub[1]) {
      failed += 1;
      fileFailures += 1;
    } else passed += 1;
    continue;
  }
  const top = /^(not )?ok \d+/.exec(line);
  if (top) {
    if (top[1] && fileFailures === 0) failed += 1;
    fileFailures = 0;
  }
}
process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
