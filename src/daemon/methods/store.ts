import { iso } from '../../clock.js';
import type { PruneResult } from '../../protocol.js';
import { auditActor } from '../../store/audit.js';
import { fsck } from '../../store/fsck.js';
import type { PruneOutcome } from '../../store/retention.js';
import type { Handlers } from '../dispatcher.js';
import { timeParam, type MethodDeps } from './context.js';

const pruneResult = (r: PruneOutcome): PruneResult => ({ ...r, cameras: r.cameras.map((c) => ({ ...c, from: iso(c.from), to: iso(c.to) })) });

/** `libcam prune`, `libcam receipts` and `libcam fsck`: the rolling store. */
export function storeMethods(d: MethodDeps): Pick<Handlers, 'prune' | 'prune.receipts' | 'fsck'> {
  return {
    prune: async (p, ctx) => pruneResult(await d.pruner.prune(p.dryRun, auditActor(ctx.caller))),
    'prune.receipts': async (p) => {
      const since = p.since === undefined ? 0 : timeParam(p.since, '--since');
      return (await d.pruner.listReceipts(since)).map((r) => ({
        at: iso(r.at),
        interrupted: r.interrupted,
        deleted: r.deleted,
        byReason: r.byReason,
        cameras: r.cameras.map((c) => ({ ...c, from: iso(c.from), to: iso(c.to) })),
        sha256: r.sha256,
      }));
    },
    fsck: (p, ctx) =>
      // Never beside a prune: each would see the other's half-done work.
      d.pruner.exclusive('fsck', async () => {
        const clips = (await d.incidents.list()).filter((i) => i.state === 'open').flatMap((i) => i.clips);
        const result = await fsck(d.store, d.holds, p, clips);
        if (p.repair && result.problems.length > 0) {
          await d.audit({ actor: auditActor(ctx.caller), action: 'fsck.repair', details: { problems: result.problems } });
        }
        return result;
      }),
  };
}
