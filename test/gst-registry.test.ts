import { spawnSync } from 'node:child_process';
import { copyFileSync, readdirSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { ROOT, cli, shortDir, spawnDaemon, writeConfig } from './helpers/daemon.js';

// GStreamer's own registry and plugin folder, in a temporary place: a plugin folder like
// the system's with libgstlibav.so removed, broken, or (the failure seen on a fresh machine)
// real but remembered as blacklisted by a registry written when its scan failed.
const SYSTEM_PLUGINS = spawnSync('pkg-config', ['--variable=pluginsdir', 'gstreamer-1.0'], { encoding: 'utf8' }).stdout.trim();
const LIBAV = 'libgstlibav.so';

function pluginDir(t: Test, libav: 'absent' | 'broken' | 'real'): { env: NodeJS.ProcessEnv; dir: string } {
  const dir = shortDir(t);
  const plugins = join(dir, 'plugins');
  spawnSync('mkdir', [plugins]);
  for (const name of readdirSync(SYSTEM_PLUGINS)) if (name !== LIBAV) symlinkSync(join(SYSTEM_PLUGINS, name), join(plugins, name));
  const real = join(SYSTEM_PLUGINS, LIBAV);
  if (libav === 'broken') writeFileSync(join(plugins, LIBAV), randomBytes(statSync(real).size));
  if (libav === 'real') copyFileSync(real, join(plugins, LIBAV));
  return { dir, env: { ...process.env, GST_PLUGIN_SYSTEM_PATH: plugins, GST_REGISTRY: join(dir, 'registry.bin'), GST_DEBUG: '0' } };
}

function checkGst(env: NodeJS.ProcessEnv): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'check-gst.mjs')], { env: { ...env, NODE_OPTIONS: '' }, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stderr: r.stderr };
}

t.test('setup: a plugin the registry remembers as blacklisted is brought back by one rescan', async (t) => {
  const { dir, env } = pluginDir(t, 'real');
  const plugin = join(dir, 'plugins', LIBAV);
  const real = statSync(join(SYSTEM_PLUGINS, LIBAV));
  // The registry is written while the file cannot be loaded (same size and time as the real one) ...
  const good = join(dir, 'good.so');
  copyFileSync(plugin, good);
  writeFileSync(plugin, randomBytes(real.size));
  utimesSync(plugin, real.atime, real.mtime);
  spawnSync('gst-inspect-1.0', ['-b'], { env });
  // ... then the file is the real one again, unchanged in size and time: the registry keeps it blacklisted.
  copyFileSync(good, plugin);
  utimesSync(plugin, real.atime, real.mtime);
  t.not(spawnSync('gst-inspect-1.0', ['--exists', 'avdec_h264'], { env }).status, 0, 'the stale registry hides avdec_h264');

  const r = checkGst(env);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stderr, /avdec_h264.*rebuilding it from scratch/, 'it says it rescans');
  t.match(r.stderr, /all \d+ elements in/, 'and finds everything afterwards');
  t.equal(spawnSync('gst-inspect-1.0', ['--exists', 'avdec_h264'], { env }).status, 0, 'avdec_h264 is back in the registry');
});

t.test('setup: an element missing after the rescan fails, naming it and its Debian package', async (t) => {
  const { env } = pluginDir(t, 'absent');
  const r = checkGst(env);
  t.equal(r.status, 1);
  t.match(r.stderr, 'avdec_h264 (Debian package gstreamer1.0-libav)');
  t.match(r.stderr, 'apt-get install gstreamer1.0-libav');
});

t.test('libcamd refuses to start without an element it needs, with the same message', async (t) => {
  const { dir, env } = pluginDir(t, 'absent');
  const daemon = spawnDaemon(t, dir, writeConfig(dir), env);
  const { code } = await daemon.exited;
  t.equal(code, 1, 'exit 1');
  t.match(daemon.stderr(), /libcamd: GStreamer elements missing: avdec_h264 \(Debian package gstreamer1\.0-libav\), avdec_h265/);
  t.equal(cli(['status'], { socket: join(dir, 'libcam.sock') }).status, 3, 'and never opened its socket');
});

t.test("libcamd names a plugin its registry has blacklisted", async (t) => {
  const { dir, env } = pluginDir(t, 'broken');
  const daemon = spawnDaemon(t, dir, writeConfig(dir), env);
  t.equal((await daemon.exited).code, 1);
  t.match(daemon.stderr(), `registry ${join(dir, 'registry.bin')} has blacklisted ${LIBAV}`);
  t.match(daemon.stderr(), `remove ${join(dir, 'registry.bin')} and run scripts/setup`);
});
