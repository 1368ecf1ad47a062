import { chmod, mkdir } from 'node:fs/promises';
import { Level } from 'level';
import { LibcamError } from '../errors.js';

/** Key/value layout version; bumped when a sublevel's encoding changes. */
export const INDEX_FORMAT = 1;

/**
 * The LevelDB index at `index.path` (docs/design.md, The store): one sublevel per kind of record,
 * keys that sort by time. LevelDB's own LOCK file keeps a second process out.
 */
export class IndexDb {
  readonly db: Level<string, unknown>;

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
    if (format === undefined) {
      await this.db.batch([{ type: 'put', sublevel: meta, key: 'format', value: INDEX_FORMAT }], { sync: true });
    } else if (format !== INDEX_FORMAT) {
      throw new LibcamError('conflict', `index ${this.path} has format ${format}; this libcamd reads format ${INDEX_FORMAT}`);
    }
  }

  async stop(): Promise<void> {
    if (this.db.status === 'open') await this.db.close();
  }
}
