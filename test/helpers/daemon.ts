import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'tap';
import { stringify } from 'yaml';
import { DAEMON_NODE_FLAGS } from '../../src/daemon/nodeFlags.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const DAEMON = join(ROOT, 'dist', 'daemon', 'main.cjs');
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');

/** A short temporary folder: Unix socket paths must stay under 108 bytes. */
export function shortDir(t: Test): string {
  const dir = mkdtempSync('/tmp/lc-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface DaemonConfig {
  [key: string]: unknown;
}

/** A config in `dir` with two test-pattern cameras unless `overrides` says otherwise. */
export function writeConfig(dir: string, overrides: DaemonConfig = {}): string {
  const { store, ...rest } = overrides;
  const config = {
    // `store` overrides merge: a test can change the segment length and keep its own folder.
    store: { path: join(dir, 'store'), segmentSeconds: 2, ...(typeof store === 'object' ? store : {}) },
    index: { path: join(dir, 'index') },
    keys: { path: join(dir, 'keys') },
    socket: { path: join(dir, 'libcam.sock'), group: 'libcam-staff' },
    retention: { maxAge: '1d', minFreeBytes: '100MB' },
    cameras: [
      { name: 'front-desk', source: { kind: 'test-pattern', width: 320, height: 240, fps: 10 } },
      { name: 'stacks', source: { kind: 'test-pattern', width: 320, height: 240, fps: 10 } },
    ],
    ...rest,
  };
  const file = join(dir, 'libcam.yaml');
  writeFileSync(file, stringify(config));
  return file;
}

export interface RunningDaemon {
  proc: ChildProcess;
  socket: string;
  dir: string;
  configFile: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Resolves once something answers on `path`, or rejects after `ms`. */
export async function waitForSocket(path: string, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((res) => {
      const s = connect(path);
      s.once('connect', () => {
        s.destroy();
        res(true);
      });
      s.once('error', () => res(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing answered on ${path} within ${ms} ms`);
}

/** Starts libcamd as a real process; killed at teardown if the test left it running. */
export function spawnDaemon(t: Test, dir: string, configFile: string, env: NodeJS.ProcessEnv = {}): RunningDaemon {
  // tap's NODE_OPTIONS (--import hooks) would load into libcamd and its worker threads:
  // run it as systemd does, without them, and with libcamd's own V8 flags.
  const proc = spawn(process.execPath, [...DAEMON_NODE_FLAGS, DAEMON, '--config', configFile], {
    env: { ...process.env, NODE_OPTIONS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    proc.once('exit', (code, signal) => res({ code, signal })),
  );
  t.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
  });
  return { proc, socket: join(dir, 'libcam.sock'), dir, configFile, stdout: () => out, stderr: () => err, exited };
}

/** Writes a config, starts libcamd on it and waits for its socket. */
export async function startDaemon(t: Test, overrides: DaemonConfig = {}, env: NodeJS.ProcessEnv = {}): Promise<RunningDaemon> {
  const dir = shortDir(t);
  const configFile = writeConfig(dir, overrides);
  const daemon = spawnDaemon(t, dir, configFile, env);
  await Promise.race([
    waitForSocket(daemon.socket),
    daemon.exited.then(({ code }) => {
      throw new Error(`libcamd exited with ${code} before answering:\n${daemon.stderr()}\n${daemon.stdout()}`);
    }),
  ]);
  return daemon;
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `libcam ARGS` to completion. */
export function cli(args: string[], opts: { socket?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const env = { ...process.env, ...opts.env };
  if (opts.socket) env['LIBCAM_SOCKET'] = opts.socket;
  const r = spawnSync(process.execPath, [CLI, ...args], { env, input: opts.input ?? '', encoding: 'utf8', timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `cli` without blocking this process: for servers the test itself runs (the ONVIF simulator). */
export function cliAsync(args: string[], opts: { socket?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const env = { ...process.env, ...opts.env };
  if (opts.socket) env['LIBCAM_SOCKET'] = opts.socket;
  const proc = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => proc.once('close', (status) => resolve({ status, stdout, stderr })));
}

/**
 * Sends raw lines to a socket and collects what comes back until the peer closes or `ms`
 * passes, or (with `lines`) once that many reply lines have arrived.
 */
export function rawExchange(path: string, payload: string | Buffer, ms = 2000, lines = Infinity): Promise<string> {
  return new Promise((res, rej) => {
    const s = connect(path);
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      res(got);
    }, ms);
    s.on('data', (d) => {
      got += d.toString();
      if (got.split('\n').length - 1 >= lines) s.destroy();
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    s.on('close', () => {
      clearTimeout(timer);
      res(got);
    });
    s.on('connect', () => s.write(payload));
  });
}

/** Polls `ok` every 250 ms until it holds; fails naming `what` after `ms`. */
export async function waitUntil(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(250);
  }
}

/** Parses every JSON line of `text`. */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}
