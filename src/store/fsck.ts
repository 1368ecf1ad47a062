import { readdir, stat } from 'node:fs/promises';
import { hashFile } from './fileHash.js';
import { basename, join, relative } from 'node:path';
import { errnoOf } from '../errors.js';
import type { Holds } from './holds.js';
import { IDENTITY_FILE } from './identity.js';
import type { SegmentEntry, SegmentStore } from './segments.js';

const INCOMING = '.incoming';

/** Every segment file under the store with its size: one readdir per folder, one stat per file, a few at a time. */
async function sizesUnder(root: string): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  const walk = async (dir: string): Promise<void> => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return; // removed by a prune since its parent was read
      throw err;
    }
    const files: string[] = [];
    for (const e of entries) {
      if (e.name === INCOMING || e.name.startsWith('.')) continue; // files being written; identity, lock
      if (e.isDirectory()) await walk(join(dir, e.name));
      else if (e.name.endsWith('.mp4')) files.push(join(dir, e.name));
    }
    const IN_FLIGHT = 8;
    for (let i = 0; i < files.length; i += IN_FLIGHT) {
      await Promise.all(
        files.slice(i, i + IN_FLIGHT).map(async (path) => {
          const info = await stat(path).catch((err: unknown) => {
            if (errnoOf(err) === 'ENOENT') return undefined;
            throw err;
          });
          if (info) sizes.set(relative(root, path), info.size);
        }),
      );
    }
  };
  await walk(root);
  return sizes;
}

/** One kind per invariant of docs/design.md it breaks. */
export const FSCK_KINDS = [
  'missing-file', // 1
  'size-mismatch', // 1
  'hash-mismatch', // 1 (--deep)
  'unindexed-file', // 2
  'interrupted-deletion', // 2
  'overlap', // 4
  'chain-break', // 5
  'head-mismatch', // 6
  'store-identity', // 7
  'clip-missing', // 8
  'clip-mismatch', // 8
] as const;

/** An incident's clip as fsck checks it (invariant 8). */
export interface ClipRecord {
  camera: string;
  /** Relative to the store. */
  file: string;
  bytes: number;
  sha256: string;
}

export interface FsckProblem {
  kind: (typeof FSCK_KINDS)[number];
  detail: string;
  camera: string;
  file: string;
  /** What --repair did about it, or why it did not. */
  repair?: string;
  /** Whether --repair fixed it (absent without --repair): what the CLI's exit status follows. */
  repaired?: boolean;
}

export interface FsckReport {
  ok: boolean;
  problems: FsckProblem[];
  checked: { segments: number; files: number; deep: boolean };
  repaired: boolean;
}

/** A problem seen in the first pass, before it is confirmed in the camera's queue. */
type Suspect = { kind: 'entry'; entry: SegmentEntry } | { kind: 'file'; file: string; size: number };

/**
 * Checks the store invariants of docs/design.md, each by its number there: (1) every entry
 * names a file of the recorded size (and, with `deep`, hash); (2) every file has an entry
 * or is marked for deletion; (3) held footage is never deleted, so `repair` never removes
 * a held entry or file; (4) a camera's segments do not overlap; (5) each segment's `prev`
 * is the hash of the segment before it, unless a recorded deletion or a file-lost gap lies
 * between them; (6) the camera's head counts exactly its indexed segments and bytes;
 * (7) the store folder is the one the index was made for; (8) every clip of an incident not
 * released is there with its recorded size (and, with `deep`, hash).
 * Repair: entries whose file is gone become file-lost gaps; interrupted deletions are
 * completed; a head that miscounts is counted again; anything else is reported and left
 * for a person (evidence is never rewritten).
 *
 * Cameras record while fsck runs: a segment committed between the walk of the folders and
 * the read of the index looks missing or unindexed in that first pass. So every problem
 * the first pass sees is looked at again in the camera's queue, where no commit or
 * deletion of that camera can run meanwhile, and only what is still wrong there is
 * reported (or repaired).
 */
export async function fsck(store: SegmentStore, holds: Holds, opts: { repair: boolean; deep: boolean }, clips: readonly ClipRecord[] = []): Promise<FsckReport> {
  const problems: FsckProblem[] = [];
  const indexed = new Set<string>();
  let segments = 0;

  for (const marked of await store.markedForDeletion()) {
    problems.push({ kind: 'interrupted-deletion', camera: marked.camera, file: marked.file, detail: 'marked for deletion by a prune that did not finish' });
    indexed.add(marked.file);
  }
  const identity = await store.identityProblem();
  if (identity) problems.push({ kind: 'store-identity', camera: '', file: IDENTITY_FILE, detail: identity });
  const onDisk = await sizesUnder(store.root);
  const suspects = new Map<string, Suspect[]>();
  const suspect = (camera: string, s: Suspect): void => void suspects.set(camera, [...(suspects.get(camera) ?? []), s]);
  for (const camera of await store.cameras()) {
    // The head and the entries as they were at one moment (taken in the camera's queue).
    const { head, entries } = await store.snapshot(camera);
    let previous: SegmentEntry | undefined;
    let count = 0;
    let bytes = 0;
    const breaks: [SegmentEntry, SegmentEntry][] = [];
    for await (const s of entries) {
      segments += 1;
      count += 1;
      bytes += s.bytes;
      indexed.add(s.file);
      const size = onDisk.get(s.file);
      if (size !== s.bytes) suspect(camera, { kind: 'entry', entry: s });
      else if (opts.deep) {
        const { sha256: sha } = await hashFile(join(store.root, s.file));
        if (sha !== s.sha256) problems.push({ kind: 'hash-mismatch', camera, file: s.file, detail: `SHA-256 ${sha} on disk, ${s.sha256} in the index` });
      }
      if (previous && s.start < previous.end) {
        problems.push({ kind: 'overlap', camera, file: s.file, detail: `starts ${previous.end - s.start} ms before the segment before it (${previous.file}) ends` });
      }
      if (previous && s.prev !== previous.sha256) breaks.push([previous, s]);
      previous = s;
    }
    if (head && (head.segments !== count || head.bytes !== bytes)) {
      problems.push({ kind: 'head-mismatch', camera, file: '', detail: `the head counts ${head.segments} segments and ${head.bytes} bytes; the index holds ${count} and ${bytes}` });
    }
    for (const [a, b] of breaks) {
      if (await store.deletedBetween(camera, a.end, b.start)) continue; // a prune or a repair took what linked them
      problems.push({ kind: 'chain-break', camera, file: b.file, detail: `its prev (${b.prev ?? 'none'}) is not the SHA-256 of ${a.file} before it, and nothing recorded was deleted between them` });
    }
  }
  for (const [file, size] of onDisk) if (!indexed.has(file)) suspect(file.split('/')[0] ?? '', { kind: 'file', file, size });

  for (const [camera, list] of suspects) {
    problems.push(...(await store.enqueue(camera, () => confirm(store, camera, list))));
  }
  for (const clip of clips) {
    const size = await sizeOf(join(store.root, clip.file));
    if (size === undefined) problems.push({ kind: 'clip-missing', camera: clip.camera, file: clip.file, detail: 'the clip of an open incident is gone' });
    else if (size !== clip.bytes) problems.push({ kind: 'clip-mismatch', camera: clip.camera, file: clip.file, detail: `${size} bytes on disk, ${clip.bytes} in the incident` });
    else if (opts.deep) {
      const { sha256: sha } = await hashFile(join(store.root, clip.file));
      if (sha !== clip.sha256) problems.push({ kind: 'clip-mismatch', camera: clip.camera, file: clip.file, detail: `SHA-256 ${sha} on disk, ${clip.sha256} in the incident` });
    }
  }

  if (opts.repair) {
    const cameras = new Set(problems.filter((p) => p.kind === 'interrupted-deletion').map((p) => p.camera));
    for (const camera of cameras) await store.finishDeletions(camera);
    for (const p of problems) {
      if (p.kind === 'interrupted-deletion') {
        p.repair = 'deletion completed';
        p.repaired = true;
      } else if (p.kind === 'missing-file') {
        // The file name is the segment's start: <camera>/YYYY/MM/DD/<startMs>.mp4.
        const outcome = await store.forgetIfLost(p.camera, Number(basename(p.file, '.mp4')), (e) => holds.covers(e.camera, e.start, e.end));
        p.repair = REPAIRS[outcome];
        p.repaired = outcome === 'forgotten' || outcome === 'present';
      } else if (p.kind === 'head-mismatch') {
        await store.recountHead(p.camera);
        p.repair = 'counted again from the index';
        p.repaired = true;
      } else {
        p.repair = 'left alone: needs a person to look (evidence is never rewritten or deleted by repair)';
        p.repaired = false;
      }
    }
  }
  return { ok: problems.length === 0, problems, checked: { segments, files: onDisk.size, deep: opts.deep }, repaired: opts.repair };
}

const REPAIRS: Record<Awaited<ReturnType<SegmentStore['forgetIfLost']>>, string> = {
  forgotten: 'entry removed; the time is now a file-lost gap',
  held: 'left alone: the segment is held',
  present: 'nothing to do: the file is there again',
  gone: 'nothing to do: the entry is gone',
};

/** In the camera's queue: which of the first pass's suspects are still wrong now. */
async function confirm(store: SegmentStore, camera: string, list: Suspect[]): Promise<FsckProblem[]> {
  const out: FsckProblem[] = [];
  for (const s of list) {
    if (s.kind === 'entry') {
      const entry = await store.entryAt(camera, s.entry.start);
      if (!entry) continue; // deleted since the first pass
      const size = await sizeOf(join(store.root, entry.file));
      if (size === undefined) {
        out.push({ kind: 'missing-file', camera, file: entry.file, detail: `indexed (${entry.bytes} bytes, ${new Date(entry.start).toISOString()}) but not on disk` });
      } else if (size !== entry.bytes) {
        out.push({ kind: 'size-mismatch', camera, file: entry.file, detail: `${size} bytes on disk, ${entry.bytes} in the index` });
      }
    } else {
      const entry = await store.entryAt(camera, Number(basename(s.file, '.mp4')));
      if (entry?.file === s.file) continue; // committed since the first pass
      if ((await sizeOf(join(store.root, s.file))) === undefined) continue; // removed since
      out.push({ kind: 'unindexed-file', camera, file: s.file, detail: 'on disk with no index entry' });
    }
  }
  return out;
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw err;
  }
}
