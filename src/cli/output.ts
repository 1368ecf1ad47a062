import Table from 'cli-table3';

/**
 * Control characters as escapes: a value someone else chose (a name typed at a login form,
 * kept in the audit trail) cannot start a new row or move the terminal's cursor.
 */
const visible = (text: string): string => text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => JSON.stringify(c).slice(1, -1));

/** Column-aligned text with a header row and no borders: readable over SSH, easy to grep. */
export function table(head: string[], rows: (string | number | null)[][]): string {
  const t = new Table({
    head,
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ',
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  for (const row of rows) t.push(row.map((cell) => (cell === null ? '-' : visible(String(cell)))));
  return t.toString().split('\n').map((line) => line.trimEnd()).join('\n');
}

/** `--json`: one JSON document on stdout and nothing else there. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printText(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}
