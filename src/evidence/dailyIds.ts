import type { IndexDb } from '../store/indexDb.js';

const day = (ms: number): string => {
  const d = new Date(ms);
  return `${d.getFullYear()}${String(d.getMonth() + 1).padStart(2, '0')}${String(d.getDate()).padStart(2, '0')}`;
};

/**
 * Record ids such as INC-20261129-001: a prefix, the box's local date, and a number counted
 * per day in the index. `next` gives the id and the counter's write, to go into the same
 * batch as the record it names, so a crash never uses a number twice or leaves a gap.
 * Callers allocate inside their own one-at-a-time queue.
 */
export class DailyIds {
  private readonly counters;

  constructor(
    index: IndexDb,
    sublevel: string,
    private readonly prefix: string,
  ) {
    this.counters = index.db.sublevel<string, number>(sublevel, { valueEncoding: 'json' });
  }

  async next(now: number): Promise<{ id: string; counter: { type: 'put'; sublevel: DailyIds['counters']; key: string; value: number } }> {
    const date = day(now);
    const number = ((await this.counters.get(date)) ?? 0) + 1;
    return { id: `${this.prefix}-${date}-${String(number).padStart(3, '0')}`, counter: { type: 'put', sublevel: this.counters, key: date, value: number } };
  }
}
