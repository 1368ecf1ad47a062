import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { AuditEntryInfo, DoctorResult, StatusResult } from '../src/protocol.js';
import { cli, cliAsync, shortDir, spawnDaemon, waitForSocket, waitUntil, writeConfig, type RunningDaemon } from './helpers/daemon.js';
import { recordings } from './helpers/footage.js';
import { SmtpSink } from './helpers/smtpSink.js';

const DIRECTOR = 'director@library.example';
const cameras = [{ name: 'lobby', source: { kind: 'test-pattern', width: 160, height: 120, fps: 10 } }];

const statusOf = (socket: string): StatusResult => JSON.parse(cli(['status', '--json'], { socket }).stdout) as StatusResult;

t.test('the Director is e-mailed about every recorded still, once, even across a relay outage and a restart', async (t) => {
  const relay = new SmtpSink();
  await relay.start();
  t.teardown(() => relay.stop());
  const dir = shortDir(t);
  const configFile = writeConfig(dir, {
    cameras,
    notify: {
      director: { email: DIRECTOR },
      smtp: { host: '127.0.0.1', port: relay.port, from: 'libcam@library.example' },
      retry: { first: '1s', max: '2s' },
    },
  });
  let daemon: RunningDaemon = spawnDaemon(t, dir, configFile);
  await waitForSocket(daemon.socket);
  await waitUntil('lobby has recorded', () => recordings(daemon.socket, 'lobby').segments.length >= 2);

  let n = 0;
  const still = (requestedBy: string): string => {
    const r = cli(['still', '--json', '--camera', 'lobby', '--at', '-3s', '--purpose', 'policy-violation', '--requested-by', requestedBy, '--out', join(dir, `s${++n}.jpg`)], {
      socket: daemon.socket,
    });
    t.equal(r.status, 0, `still ${n} is produced: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { at: string }).at;
  };

  // 1. Relay up: one e-mail with who, what, when, why.
  const firstAt = still('Robin Circulation');
  await waitUntil('the first notification arrives', () => relay.received.length >= 1);
  const [mail] = relay.received;
  t.same(mail?.to, [DIRECTOR], 'addressed to the Director');
  t.match(mail?.subject, /lobby/);
  t.match(mail?.text, 'camera "lobby"', 'names the camera');
  t.match(mail?.text, `recorded at ${firstAt}`, 'and the time of the footage');
  t.match(mail?.text, 'policy-violation', 'the purpose');
  t.match(mail?.text, 'Robin Circulation', 'and who asked');
  await waitUntil('status shows it delivered', () => statusOf(daemon.socket).notify.delivered === 1);
  t.equal(statusOf(daemon.socket).notify.pending, 0);

  // 2. Relay down: the still is still produced, the notification waits, status says why.
  await relay.stop();
  still('Sam Security');
  await waitUntil('the failed attempt shows in status', () => statusOf(daemon.socket).notify.lastError !== null);
  let status = statusOf(daemon.socket);
  t.equal(status.notify.pending, 1, 'one notification pending');
  t.match(status.notify.lastError, /ECONNREFUSED|connect/i, 'with the relay error');
  const human = cli(['status'], { socket: daemon.socket });
  t.match(human.stdout, /Director notifications to director@library\.example: 1 pending.*last error/, 'human status too');

  // Relay back: delivered, exactly once.
  await relay.start();
  await waitUntil('the pending notification is delivered when the relay is back', () => relay.received.length >= 2, 20_000);
  await waitUntil('status shows nothing pending', () => statusOf(daemon.socket).notify.pending === 0);
  t.match(relay.received[1]?.text, 'Sam Security');

  // 3. Relay down, then the daemon restarts while a notification is pending.
  await relay.stop();
  still('Kim Trustee');
  await waitUntil('the third is pending', () => statusOf(daemon.socket).notify.pending === 1);
  daemon.proc.kill('SIGTERM');
  t.equal((await daemon.exited).code, 0);
  await relay.start();
  daemon = spawnDaemon(t, dir, configFile);
  await waitForSocket(daemon.socket);
  await waitUntil('the notification queued before the restart is delivered', () => relay.received.length >= 3, 20_000);
  await waitUntil('and is no longer pending', () => statusOf(daemon.socket).notify.pending === 0);
  await sleep(3000); // two retry periods: time enough for any duplicate to show up
  t.equal(relay.received.length, 3, 'three stills, three e-mails: none lost, none twice');
  t.match(relay.received[2]?.text, 'Kim Trustee');
  t.equal(new Set(relay.received.map((m) => m.messageId)).size, 3, 'each with its own Message-ID');
  status = statusOf(daemon.socket);
  t.equal(status.notify.delivered, 3, 'the delivered count survived the restart');

  const delivered = JSON.parse(cli(['audit', 'list', '--action', 'notify.delivered', '--json'], { socket: daemon.socket }).stdout) as AuditEntryInfo[];
  t.equal(delivered.length, 3, 'each delivery is in the audit trail');
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
});

t.test('without notify configured, a recorded still is produced and its notification waits', async (t) => {
  const dir = shortDir(t);
  const daemon = spawnDaemon(t, dir, writeConfig(dir, { cameras }));
  await waitForSocket(daemon.socket);
  await waitUntil('lobby has recorded', () => recordings(daemon.socket, 'lobby').segments.length >= 2);
  const r = cli(['still', '--camera', 'lobby', '--at', '-3s', '--purpose', 'security-risk', '--requested-by', 'Pat', '--out', join(dir, 'a.jpg')], {
    socket: daemon.socket,
  });
  t.equal(r.status, 0, r.stderr);
  await waitUntil('status says why it waits', () => statusOf(daemon.socket).notify.lastError !== null);
  t.match(statusOf(daemon.socket).notify, { to: null, pending: 1, lastError: /notify is not configured/ });
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
});

t.test('with requireTLS, a relay that offers no STARTTLS gets nothing: the notification waits and status says why', async (t) => {
  const relay = new SmtpSink(); // offers no STARTTLS
  await relay.start();
  t.teardown(() => relay.stop());
  const dir = shortDir(t);
  const daemon = spawnDaemon(
    t,
    dir,
    writeConfig(dir, {
      cameras,
      notify: { director: { email: DIRECTOR }, smtp: { host: '127.0.0.1', port: relay.port, from: 'libcam@library.example', requireTLS: true }, retry: { first: '1s', max: '2s' } },
    }),
  );
  await waitForSocket(daemon.socket);
  await waitUntil('lobby has recorded', () => recordings(daemon.socket, 'lobby').segments.length >= 2);
  const r = cli(['still', '--camera', 'lobby', '--at', '-3s', '--purpose', 'security-risk', '--requested-by', 'Pat', '--out', join(dir, 'a.jpg')], { socket: daemon.socket });
  t.equal(r.status, 0, r.stderr);
  await waitUntil('the refusal shows in status', () => statusOf(daemon.socket).notify.lastError !== null);
  t.match(statusOf(daemon.socket).notify, { pending: 1, lastError: /STARTTLS|TLS/i }, 'not sent in the clear');
  t.equal(relay.received.length, 0, 'the relay received nothing');
  // cliAsync: the relay runs in this process, so this process must not block while doctor asks it.
  const doctor = JSON.parse((await cliAsync(['doctor', '--json'], { socket: daemon.socket })).stdout) as DoctorResult;
  t.match(doctor.checks.find((c) => c.name === 'notify'), { ok: false, detail: /does not answer as it should .*(STARTTLS|TLS)/i }, 'doctor says the relay will not do TLS');
  t.match(doctor.checks.find((c) => c.name === 'notify encryption'), { ok: true, detail: /STARTTLS required/ });
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
});
