#!/usr/bin/env node
import { runLibcam } from './run.js';

// `libcam recordings | head -1`: a reader that stops reading is no error of ours.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

process.exitCode = await runLibcam(process.argv);
