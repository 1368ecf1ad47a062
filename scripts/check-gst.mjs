#!/usr/bin/env node
// Builds the GStreamer registry of an account and checks that every element libcam and its
// tests use is in it (the list is src/pipeline/elements.ts, which libcamd checks at start
// too). A missing element gets one rescan from scratch (a registry can keep a plugin
// blacklisted after one failed scan, seen on a fresh machine with libgstlibav); still
// missing: exit 1 naming the element and its Debian package.
//
//   node scripts/check-gst.mjs                         this account, every element
//   node scripts/check-gst.mjs --user libcam --home /var/lib/libcam --daemon-only
//                                                      libcamd's own registry, as its user
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DAEMON_ELEMENTS, GST_ELEMENTS, blacklistedPlugins, describeMissing, inspectElements, registryPath } from '../dist/pipeline/elements.js';

const { values } = parseArgs({ options: { user: { type: 'string' }, home: { type: 'string' }, 'daemon-only': { type: 'boolean', default: false } } });
const needs = values['daemon-only'] ? DAEMON_ELEMENTS : GST_ELEMENTS;
let env = process.env;
let command = ['gst-inspect-1.0'];
if (values.user) {
  const home = values.home ?? `/home/${values.user}`;
  // That account's environment, not ours: its registry lives in its home.
  env = { PATH: process.env.PATH, HOME: home, LANG: 'C.UTF-8' };
  command = ['runuser', '-u', values.user, '--', 'env', `HOME=${home}`, 'gst-inspect-1.0'];
}
const registry = registryPath(env);
const who = values.user ? `${values.user}'s` : "this account's";

async function missing() {
  const known = await inspectElements(env, command);
  return needs.filter((n) => !known.has(n.element));
}

let absent = await missing();
if (absent.length > 0) {
  console.error(`==> GStreamer: ${absent.map((m) => m.element).join(', ')} not in ${who} registry ${registry}; rebuilding it from scratch`);
  rmSync(registry, { force: true });
  absent = await missing();
}
if (absent.length > 0) {
  console.error(`==> ${describeMissing(absent, await blacklistedPlugins(env, command), registry)}`);
  process.exit(1);
}
console.error(`==> GStreamer: all ${needs.length} elements in ${who} registry ${registry}`);
