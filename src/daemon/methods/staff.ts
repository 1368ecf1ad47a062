import { iso } from '../../clock.js';
import type { StaffInfo } from '../../protocol.js';
import { auditActor } from '../../store/audit.js';
import type { StaffAccount } from '../../web/staff.js';
import type { Handlers } from '../dispatcher.js';
import type { MethodDeps } from './context.js';

const staffInfo = (a: StaffAccount): StaffInfo => ({ user: a.user, created: iso(a.created), lastLogin: a.lastLogin === null ? null : iso(a.lastLogin) });

/** `libcam staff`: the live view's accounts (policy §1). */
export function staffMethods(d: MethodDeps): Pick<Handlers, 'staff.list' | 'staff.add' | 'staff.passwd' | 'staff.remove'> {
  return {
    'staff.list': async () => (await d.staff.list()).sort((a, b) => (a.user < b.user ? -1 : 1)).map(staffInfo),
    'staff.add': async (p, ctx) => staffInfo(await d.staff.add(p.user, p.password, auditActor(ctx.caller))),
    'staff.passwd': async (p, ctx) => staffInfo(await d.staff.passwd(p.user, p.password, auditActor(ctx.caller))),
    'staff.remove': async (p, ctx) => staffInfo(await d.staff.remove(p.user, auditActor(ctx.caller))),
  };
}
