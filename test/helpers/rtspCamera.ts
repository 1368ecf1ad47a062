import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Test } from 'tap';
import { ROOT } from './daemon.js';

export interface CameraOptions {
  codec?: 'h264' | 'h265';
  audio?: 'none' | 'opus' | 'aac' | 'pcmu';
  user?: string;
  password?: string;
  auth?: 'digest' | 'basic';
  fps?: number;
  width?: number;
  height?: number;
  path?: string;
  /** The RTP transports the server offers: udp answers a TCP SETUP with 461 Unsupported transport. */
  transport?: 'any' | 'tcp' | 'udp';
}

/** A real RTSP server (gst-rtsp-server) a test can stop and start again on the same port. */
export interface RtspCamera {
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

function launch(opts: CameraOptions, port: number): { proc: ChildProcess; ready: Promise<{ port: number; url: string }> } {
  const args = [join(ROOT, 'test', 'fixtures', 'rtsp-camera.py'), '--port', String(port)];
  for (const [flag, value] of Object.entries({
    codec: opts.codec,
    audio: opts.audio,
    user: opts.user,
    password: opts.password,
    auth: opts.auth,
    fps: opts.fps,
    width: opts.width,
    height: opts.height,
    path: opts.path,
    transport: opts.transport,
  })) {
    if (value !== undefined) args.push(`--${flag}`, String(value));
  }
  // Debian's GObject introspection bindings load under /usr/bin/python3 only.
  const proc = spawn('/usr/bin/python3', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const ready = new Promise<{ port: number; url: string }>((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout });
    lines.once('line', (line) => resolve(JSON.parse(line) as { port: number; url: string }));
    proc.once('exit', (code) => reject(new Error(`rtsp-camera.py exited with ${code}: ${stderr}`)));
  });
  return { proc, ready };
}

export async function startRtspCamera(t: Test, opts: CameraOptions = {}): Promise<RtspCamera> {
  let current = launch(opts, 0);
  const first = await current.ready;
  const stopProc = async (): Promise<void> => {
    const proc = current.proc;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL'); // a camera losing power: no RTSP TEARDOWN
    await exited;
  };
  t.teardown(stopProc);
  return {
    url: first.url,
    port: first.port,
    stop: stopProc,
    async start() {
      current = launch(opts, first.port);
      await current.ready;
    },
  };
}
