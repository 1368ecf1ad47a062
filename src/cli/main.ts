#!/usr/bin/env node
import { runLibcam } from './run.js';

process.exitCode = await runLibcam(process.argv);
