import t from 'tap';
import { cli, jsonLines, rawExchange, startDaemon } from './helpers/daemon.js';

// Free text a person types ends up in logs, mails to the Director and tables: a newline or
// an escape sequence in it could forge a line there. Request ids are echoed: only ones a
// client can match exactly are.
t.test('control characters in free text are refused, naming the flag; ids are bounded', async (t) => {
  const daemon = await startDaemon(t);
  const { socket } = daemon;

  const note = cli(['pause', '--camera', 'front-desk', '--reason', 'privacy', '--for', '5m', '--note', 'story time\naudit: forged line'], { socket });
  t.equal(note.status, 2, 'pause --note with a newline: exit 2');
  t.match(note.stderr, '--note must not contain control characters');
  const reason = cli(['holds', 'place', '--camera', 'stacks', '--from', '-1h', '--to', 'now', '--reason', 'ok\u001b[2Jcleared'], { socket });
  t.equal(reason.status, 2, 'holds place --reason with an escape sequence: exit 2');
  t.match(reason.stderr, '--reason must not be blank or contain control characters');
  // Invisible ones found from outside: a line separator, a right-to-left override, a zero-width space.
  for (const [name, ch] of [['U+2028', '\u2028'], ['U+202E', '\u202e'], ['U+200B', '\u200b']]) {
    const r = cli(['pause', '--camera', 'front-desk', '--reason', 'privacy', '--for', '5m', '--note', `ok${ch}Approved-by: Director`], { socket });
    t.equal(r.status, 2, `--note with ${name}: exit 2`);
    t.match(r.stderr, 'invisible formatting');
  }
  t.equal(cli(['pause', '--camera', 'front-desk', '--reason', 'privacy', '--for', '5m', '--note', 'Story time, über-quiet'], { socket }).status, 0, 'ordinary text (with accents) is fine');

  const replies = jsonLines(
    await rawExchange(
      socket,
      [
        JSON.stringify({ id: 1, method: 'still', params: { camera: 'stacks', at: 'now', purpose: 'security-risk', requestedBy: 'Pat\r\nFrom: director' } }),
        '{"id":123456789012345678901234567890,"method":"status"}',
        JSON.stringify({ id: 'x'.repeat(65), method: 'status' }),
        JSON.stringify({ id: 'x'.repeat(64), method: 'status' }),
        '',
      ].join('\n'),
      3000,
      4,
    ),
  );
  t.match(replies[0], { id: 1, ok: false, error: { code: 'usage', message: /--requested-by must not be blank or contain control characters/ } });
  t.match(replies[1], { id: null, ok: false, error: { code: 'usage', message: /malformed request/ } }, 'an id JSON cannot hold exactly is refused, not echoed rounded');
  t.match(replies[2], { id: null, ok: false, error: { code: 'usage' } }, 'a 65-character id is refused');
  t.match(replies[3], { id: 'x'.repeat(64), ok: true }, 'a 64-character id is answered');
  daemon.proc.kill('SIGTERM');
  await daemon.exited;
});
