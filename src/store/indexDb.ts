import { chmod, mkdir } from 'node:fs/promises';
import { Level } from 'level';
import { LibcamError } from '../errors.js';
import { decodeSegment, encodeSegment, isLegacySegment } from './segmentCodec.js';

/**
 * Key/value layout version; bumped when a sublevel's encoding changes. 2: segment entries
 * in the lean text form (src/store/segmentCodec.ts). An index of format 1 is migrated at
 * start-up; any other is refused.
 */
export const INDEX_FORMAT = 2;

/** What the start-up migration did, for the log. */
export interface IndexMigration {
  from: number;
  to: number;
  /** Entries rewritten in the lean form. */
  entries: number;
  /** Entries that could not be read and were left as they were (their keys, the first few). */
  unreadable: number;
  unreadableKeys: string[];
  ms: number;
}

/** Entries rewritten per batch: bounded memory however large the index. */
const MIGRATION_BATCH = 10_000;

/**
 * The LevelDB index at `index.path` (docs/design.md, The store): one sublevel per kind of record,
 * keys that sort by time. LevelDB's own LOCK file keeps a second process out.
 */
export class IndexDb {
  readonly db: Level<string, unknown>;
  /** Set when start() migrated the index from an older format. */
  migrated: IndexMigration | undefined;

  constructor(readonly path: string) {
    this.db = new Level<string, unknown>(path, { valueEncoding: 'json' });
  }

  async start(): Promise<void> {
    await mkdir(this.path, { recursive: true, mode: 0o700 });
    try {
      await this.db.open();
      await chmod(this.path, 0o700); // LevelDB may have made the folder itself (it opens on its own)
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
      throw new LibcamError('conflict', `cannot open the index ${this.path}: ${cause}`, { index: this.path }, { cause: err });
    }
    const meta = this.db.sublevel<string, number>('meta', { valueEncoding: 'json' });
    const format = await meta.get('format');
    const migrating = await meta.get('migrating');
    if (format === undefined) {
      await this.db.batch([{ type: 'put', sublevel: meta, key: 'format', value: INDEX_FORMAT }], { sync: true });
    } else if (format === 1 || (format === INDEX_FORMAT && migrating !== undefined)) {
      this.migrated = await this.migrateSegments();
    } else if (format !== INDEX_FORMAT) {
      throw new LibcamError('conflict', `index ${this.path} has format ${format}; this libcamd reads format ${INDEX_FORMAT}`);
    }
  }

  /**
   * Format 1 → 2: every segment entry still in JSON is rewritten in the lean form, in
   * batches. The format is set to 2 first, with a `migrating` mark that is removed last: a
   * libcamd of format 1 refuses the half-rewritten index (it could not read lean
   * entries), and this one goes on where a start cut short stopped (the decoder reads both
   * forms meanwhile). An entry that cannot be read is left as it was and named in the log:
   * one damaged value must not keep every camera from recording.
   */
  private async migrateSegments(): Promise<IndexMigration> {
    const started = Date.now();
    const meta = this.db.sublevel<string, number>('meta', { valueEncoding: 'json' });
    await this.db.batch(
      [
        { type: 'put', sublevel: meta, key: 'format', value: INDEX_FORMAT },
        { type: 'put', sublevel: meta, key: 'migrating', value: 1 },
      ],
      { sync: true },
    );
    const raw = this.db.sublevel<string, string>('seg', { valueEncoding: 'utf8' });
    let entries = 0;
    const unreadableKeys: string[] = [];
    let unreadable = 0;
    let after: string | undefined;
    for (;;) {
      const chunk = await raw.iterator({ ...(after === undefined ? {} : { gt: after }), limit: MIGRATION_BATCH }).all();
      if (chunk.length === 0) break;
      const batch = this.db.batch();
      for (const [key, value] of chunk) {
        if (!isLegacySegment(value)) continue;
        let lean: string;
        try {
          lean = encodeSegment(decodeSegment(value));
        } catch {
          unreadable += 1;
          if (unreadableKeys.length < 5) unreadableKeys.push(key);
          continue;
        }
        if (isLegacySegment(lean)) continue; // does not fit the lean form: stays JSON
        batch.put(key, lean, { sublevel: raw });
        entries += 1;
      }
      await batch.write();
      after = chunk.at(-1)?.[0];
    }
    await this.db.batch([{ type: 'del', sublevel: meta, key: 'migrating' }], { sync: true });
    return { from: 1, to: INDEX_FORMAT, entries, unreadable, unreadableKeys, ms: Date.now() - started };
  }

  async stop(): Promise<void> {
    if (this.db.status === 'open') await this.db.close();
  }
}
