import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { errnoOf } from '../errors.js';
import type { FsckProblem, FsckResult } from '../protocol.js';
import type { Holds } from './holds.js';
import type { SegmentStore } from './segments.js';

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

/**
 * Checks DESIGN.md's store invariants: (1) every entry names a file of the recorded size
 * (and, with `deep`, hash); (2) every file has an entry or is marked for deletion;
 * (3) held footage is never deleted, so `repair` never removes a held entry or file.
 * Repair: entries whose file is gone become file-lost gaps; interrupted deletions are
 * completed; files with no entry are reported and left where they are.
 */
export async function fsck(store: SegmentStore, holds: Holds, opts: { repair: boolean; deep: boolean }): Promise<FsckResult> {
  const problems: FsckProblem[] = [];
  const isHeld = await holds.snapshot();
  const indexed = new Set<string>();
  let segments = 0;
  let files = 0;

  for (const marked of await store.markedForDeletion()) {
    problems.push({ kind: 'interrupted-deletion', camera: marked.camera, file: marked.file, detail: 'marked for deletion by a prune that did not finish' });
    indexed.add(marked.file);
  }
  const onDisk = await sizesUnder(store.root);
  for (const camera of await store.cameras()) {
    for await (const s of store.segmentsOf(camera)) {
      segments += 1;
      indexed.add(s.file);
      const size = onDisk.get(s.file);
      if (size === undefined) {
        problems.push({ kind: 'missing-file', camera, file: s.file, detail: `indexed (${s.bytes} bytes, ${new Date(s.start).toISOString()}) but not on disk` });
      } else if (size !== s.bytes) {
        problems.push({ kind: 'size-mismatch', camera, file: s.file, detail: `${size} bytes on disk, ${s.bytes} in the index` });
      } else if (opts.deep) {
        const sha = createHash('sha256').update(await readFile(join(store.root, s.file))).digest('hex');
        if (sha !== s.sha256) problems.push({ kind: 'hash-mismatch', camera, file: s.file, detail: `SHA-256 ${sha} on disk, ${s.sha256} in the index` });
      }
    }
  }
  for (const file of onDisk.keys()) {
    files += 1;
    if (!indexed.has(file)) problems.push({ kind: 'unindexed-file', camera: file.split('/')[0] ?? '', file, detail: 'on disk with no index entry' });
  }

  if (opts.repair) {
    const cameras = new Set(problems.filter((p) => p.kind === 'interrupted-deletion').map((p) => p.camera));
    for (const camera of cameras) await store.finishDeletions(camera);
    for (const p of problems) {
      if (p.kind === 'interrupted-deletion') p.repair = 'deletion completed';
      else if (p.kind === 'missing-file') {
        // The file name is the segment's start: <camera>/YYYY/MM/DD/<startMs>.mp4.
        const entry = await store.entryAt(p.camera, Number(basename(p.file, '.mp4')));
        if (entry && isHeld(entry.camera, entry.start, entry.end)) p.repair = 'left alone: the segment is held';
        else if (entry) {
          await store.forgetLost(entry);
          p.repair = 'entry removed; the time is now a file-lost gap';
        }
      } else p.repair = 'left alone: needs a person to look (evidence is never rewritten or deleted by repair)';
    }
  }
  return { ok: problems.length === 0, problems, checked: { segments, files, deep: opts.deep }, repaired: opts.repair };
}
