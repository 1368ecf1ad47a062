import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RecordingsResult } from '../../src/protocol.js';
import { cli } from './daemon.js';

export type Recordings = RecordingsResult;

/** `libcam recordings --json` for one camera over the last hour (or a given range). */
export function recordings(socket: string, camera: string, from = '-1h', to = 'now'): Recordings {
  const r = cli(['recordings', '--camera', camera, '--from', from, '--to', to, '--json'], { socket });
  if (r.status !== 0) throw new Error(`libcam recordings failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Recordings;
}

/** What ffmpeg says when it decodes the whole file: empty means it played cleanly. */
export function ffmpegErrors(file: string): string {
  const r = spawnSync('ffmpeg', ['-nostdin', '-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8' });
  return `${r.stderr}${r.status === 0 ? '' : `(exit ${r.status})`}`.trim();
}

export interface Probe {
  streams: { codec_type: string; codec_name: string; width?: number; height?: number }[];
  format: { duration?: string };
}

export function ffprobe(file: string): Probe {
  const r = spawnSync('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffprobe ${file}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Probe;
}

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Holes between consecutive segments, in ms (negative: overlap). */
export function holes(r: Recordings): number[] {
  const out: number[] = [];
  for (let i = 1; i < r.segments.length; i++) {
    const prev = r.segments[i - 1];
    const next = r.segments[i];
    if (prev && next) out.push(Date.parse(next.start) - Date.parse(prev.end));
  }
  return out;
}

/** True when every segment's `prev` is the hash of the segment before it. */
export function chainLinks(r: Recordings): boolean {
  return r.segments.every((s, i) => i === 0 || s.prev === r.segments[i - 1]?.sha256);
}

export function segmentPath(storeDir: string, file: string): string {
  return join(storeDir, file);
}

/** Recorded seconds of a camera: the sum of its segment lengths. */
export function recordedSeconds(r: Recordings): number {
  return r.segments.reduce((sum, s) => sum + (Date.parse(s.end) - Date.parse(s.start)), 0) / 1000;
}

/** Whether a media segment (moof + mdat, one trun) starts with a keyframe: its first sample's flags. */
export function startsOnKeyframe(segment: Buffer): boolean {
  if (segment.subarray(4, 8).toString() !== 'moof') return false;
  const trun = segment.indexOf('trun') - 4;
  if (trun < 0) return false;
  // size, type, version/flags, sample count, data offset, then the first sample's duration, size, flags
  const flags = segment.readUInt32BE(trun + 4 * 7);
  return (flags & 0x00010000) === 0;
}
