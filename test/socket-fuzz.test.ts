import { connect } from 'node:net';
import fc from 'fast-check';
import t from 'tap';
import { METHOD_NAMES, PARAM_SCHEMAS, type StatusResult } from '../src/protocol.js';
import { cli, startDaemon, type RunningDaemon } from './helpers/daemon.js';

// Hostile input at scale: 10,000 generated request lines, seeded and reproducible
// (fast-check), against a real libcamd: random JSON, wrong types, deep nesting, huge numbers
// and strings, unknown methods, path traversal in every text parameter, control
// characters, ids of every shape, across every method, the ones with effects too. Every
// line must be answered (a result or an error), libcamd must live on, and its memory stay
// bounded. Lines over the 1 MiB limit close their connection by design and are tested in
// test/socket.test.ts.

const SEED = 20261130;
const REQUESTS = 10_000;
const PER_CONNECTION = 100;

const traversal = ['../../../../etc/passwd', '..%2F..%2Fstore', '/etc/shadow', 'front-desk/../../index', '.', '..', '/', '~root', 'C:\\Windows', '\\\\server\\share'];
const control = fc.array(fc.integer({ min: 0, max: 31 }), { minLength: 1, maxLength: 20 }).map((codes) => String.fromCharCode(...codes));
const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(...traversal),
  control,
  fc.constantFrom('x'.repeat(100_000), '\u202e\u0000\u001b[2J', '', ' ', 'front-desk', 'stacks', 'now', '-1h', 'INC-20261130-001', 'EXP-20261130-001'),
);
const hostileNumber = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(1e308, -1e308, 2 ** 53 + 1, -0, Number.MAX_SAFE_INTEGER, 0, -1));
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { depthSize: 'small' },
  hostileString,
  hostileNumber,
  fc.boolean(),
  fc.constant(null),
  fc.array(hostileString, { maxLength: 5 }),
  fc.dictionary(hostileString, hostileString, { maxKeys: 4 }),
  fc.anything({ maxDepth: 3 }),
);
/** Values that pass a schema's type and some of its patterns, so handlers run, not just validation. */
const plausible = fc.oneof(
  fc.constantFrom('front-desk', 'stacks', 'privacy', 'maintenance', 'law-enforcement', 'court-order', 'director', 'president'),
  fc.constantFrom(new Date(Date.now() - 60_000).toISOString(), new Date(Date.now() + 3_600_000).toISOString(), new Date(0).toISOString()),
  fc.constantFrom(['front-desk'], ['stacks', 'front-desk'], true, false, 1, 10),
);

function paramsFor(method: string): fc.Arbitrary<unknown> {
  const schema = (PARAM_SCHEMAS as Record<string, { properties?: Record<string, unknown> }>)[method];
  const keys = Object.keys(schema?.properties ?? {});
  const shaped =
    keys.length === 0
      ? fc.dictionary(hostileString, anyValue, { maxKeys: 3 })
      : fc.record(Object.fromEntries(keys.map((k) => [k, fc.oneof(plausible, anyValue, hostileString)])), { requiredKeys: [] });
  return fc.oneof(shaped, anyValue);
}

const request = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...METHOD_NAMES).chain((method) => fc.record({ id: fc.oneof(fc.nat(), fc.string({ maxLength: 64 }), anyValue), method: fc.constant(method), params: paramsFor(method) }, { requiredKeys: ['method'] })) },
  { weight: 1, arbitrary: fc.record({ id: fc.nat(), method: hostileString, params: anyValue }) },
  { weight: 1, arbitrary: anyValue }, // not an object at all
);

/** One request line: JSON of a generated value, or bytes that are not JSON, nested beyond reason, or empty. */
const line = fc.oneof(
  { weight: 20, arbitrary: request.map((r) => JSON.stringify(r) ?? 'undefined') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 20_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 5_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`) },
  { weight: 1, arbitrary: fc.constantFrom('', '{', '}', 'null', '[]', '"method"', '{"method":"status","params":', '\u0000\u0000') },
).map((l) => l.replace(/[\r\n]/g, ' '));

/** A blank line is no request: libcamd skips it without a reply, as line protocols do. */
const isRequest = (l: string): boolean => l.trim() !== '';

/** Sends lines on one connection and collects the reply lines libcamd writes back. */
function exchange(socket: string, lines: string[]): Promise<{ replies: string[]; closedEarly: boolean }> {
  const expected = lines.filter(isRequest).length;
  return new Promise((resolve) => {
    const s = connect(socket);
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      done(true);
    }, 60_000);
    const replies = (): string[] => got.split('\n').slice(0, -1);
    const done = (early: boolean): void => {
      clearTimeout(timer);
      resolve({ replies: replies(), closedEarly: early });
    };
    s.on('data', (d: Buffer) => {
      got += d.toString();
      if (replies().length >= expected) {
        s.destroy();
        done(false);
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => done(replies().length < expected));
    s.on('connect', () => s.write(`${lines.join('\n')}\n`));
  });
}

const status = (daemon: RunningDaemon): StatusResult => JSON.parse(cli(['status', '--json'], { socket: daemon.socket }).stdout) as StatusResult;

t.test(`10,000 hostile requests (fast-check seed ${SEED}): every one answered, libcamd unharmed, memory bounded`, async (t) => {
  const daemon = await startDaemon(t);
  const before = status(daemon);
  const lines = fc.sample(line, { seed: SEED, numRuns: REQUESTS }).filter((l) => Buffer.byteLength(l) < 1024 * 1024 - 1);
  let answered = 0;
  let malformed = 0;
  const outcomes = new Map<string, number>();
  let unanswered = 0;
  const chunks: string[][] = [];
  for (let i = 0; i < lines.length; i += PER_CONNECTION) chunks.push(lines.slice(i, i + PER_CONNECTION));
  // Four connections at a time, as a busy box might see.
  for (let i = 0; i < chunks.length; i += 4) {
    const results = await Promise.all(chunks.slice(i, i + 4).map((c) => exchange(daemon.socket, c)));
    for (const [k, r] of results.entries()) {
      unanswered += (chunks[i + k] ?? []).filter(isRequest).length - r.replies.length;
      for (const reply of r.replies) {
        try {
          const parsed = JSON.parse(reply) as { ok?: unknown; error?: { code?: string } };
          const outcome = parsed.ok === true ? 'ok' : (parsed.error?.code ?? '?');
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
          if (typeof parsed.ok === 'boolean') answered += 1;
          else malformed += 1;
        } catch {
          malformed += 1;
        }
      }
    }
  }
  t.equal(unanswered, 0, `every request line was answered (${answered} of ${lines.filter(isRequest).length}; blank lines get none)`);
  t.equal(malformed, 0, 'each with a reply a client can read ({ok: true|false, …})');
  t.comment(`outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  t.ok((outcomes.get('ok') ?? 0) + (outcomes.get('invalid-input') ?? 0) + (outcomes.get('not-found') ?? 0) > 100, 'and many got past validation into the handlers');
  t.equal(daemon.proc.exitCode, null, 'libcamd is still running');
  const after = status(daemon);
  t.equal(after.cameras.length, before.cameras.length, 'and answers status');
  const grewMB = (after.process.rssBytes - before.process.rssBytes) / 1e6;
  t.ok(grewMB < 200, `its memory stayed bounded (RSS ${Math.round(before.process.rssBytes / 1e6)} -> ${Math.round(after.process.rssBytes / 1e6)} MB)`);
  t.equal(after.process.openFiles <= before.process.openFiles + 5, true, `no descriptor left open (${before.process.openFiles} -> ${after.process.openFiles})`);
  t.notMatch(daemon.stderr(), /Uncaught|FATAL|unhandled/i, 'nothing unhandled on its stderr');
});
