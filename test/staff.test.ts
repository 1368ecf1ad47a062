import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { AuditEntryInfo, StaffInfo } from '../src/protocol.js';
import { cli, startDaemon, type CliResult } from './helpers/daemon.js';

// The live view's accounts (policy §1: a password protected site), managed with the CLI;
// passwords on standard input as a script gives them.
const strong = 'velvet parsnip obelisk tundra';
const lines = (...l: string[]): string => `${l.join('\n')}\n`;

t.test('staff accounts: added with a strong password, listed, changed, removed, every change audited', async (t) => {
  const daemon = await startDaemon(t, { cameras: [{ name: 'lobby', enabled: false, source: { kind: 'test-pattern' } }] });
  const run = (args: string[], input = ''): CliResult => cli(args, { socket: daemon.socket, input });
  const list = (): StaffInfo[] => JSON.parse(run(['staff', 'list', '--json']).stdout) as StaffInfo[];

  const weak = run(['staff', 'add', 'circ-desk'], lines('library1', 'library1'));
  t.equal(weak.status, 2, 'a weak password is refused');
  t.match(weak.stderr, /password too weak \(strength \d of 4, at least 3 needed\)/);
  const typo = run(['staff', 'add', 'circ-desk'], lines(strong, `${strong}!`));
  t.equal(typo.status, 2, 'two different entries are refused');
  t.match(typo.stderr, 'the two entries differ');
  const badName = run(['staff', 'add', 'Robin Circulation'], lines(strong, strong));
  t.equal(badName.status, 2, 'a name that is not an account name is refused');
  t.same(list(), [], 'nobody was added');

  const added = run(['staff', 'add', 'circ-desk', '--json'], lines(strong, strong));
  t.equal(added.status, 0, `added: ${added.stderr}`);
  t.match(list(), [{ user: 'circ-desk', lastLogin: null }], 'listed with its creation time and no login yet');
  t.ok(!Number.isNaN(Date.parse(list()[0]?.created ?? '')), 'created is a time');
  const again = run(['staff', 'add', 'circ-desk'], lines(strong, strong));
  t.equal(again.status, 1, 'the same name twice is refused');
  t.match(again.stderr, 'exists already');

  t.equal(run(['staff', 'passwd', 'circ-desk'], lines('marigold ferry quasar lantern', 'marigold ferry quasar lantern')).status, 0, 'the password is changed');
  t.equal(run(['staff', 'passwd', 'nobody'], lines(strong, strong)).status, 2, 'an unknown account has no password to change');
  t.equal(run(['staff', 'remove', 'circ-desk']).status, 0, 'removed');
  t.same(list(), [], 'and gone');
  const gone = run(['staff', 'remove', 'circ-desk']);
  t.equal(gone.status, 2, 'removing it again: no such account');
  t.match(gone.stderr, 'no staff account circ-desk');

  const audit = JSON.parse(run(['audit', 'list', '--json']).stdout) as AuditEntryInfo[];
  t.same(
    audit.filter((e) => e.action.startsWith('staff.')).map((e) => [e.action, e.subject]),
    [
      ['staff.add', 'circ-desk'],
      ['staff.passwd', 'circ-desk'],
      ['staff.remove', 'circ-desk'],
    ],
    'each change is an audit entry',
  );
  t.ok(audit.filter((e) => e.action.startsWith('staff.')).every((e) => e.actor.uid === process.getuid?.()), 'made by the account that ran libcam');
  const index = join(daemon.dir, 'index');
  t.notOk(
    readdirSync(index).some((f) => readFileSync(join(index, f)).includes(strong)),
    'no password is stored in the index',
  );
  t.notOk(daemon.stdout().includes(strong) || daemon.stderr().includes(strong), 'nor logged');
});
