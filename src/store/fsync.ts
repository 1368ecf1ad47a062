import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';

/** fsync(2) on a file or a directory. */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** mkdir -p, then fsync every parent whose entry changed, so a new folder survives power loss. */
export async function mkdirDurable(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode: 0o700 });
  if (first === undefined) return;
  let at = dir;
  const created: string[] = [];
  while (at.length >= first.length) {
    created.push(at);
    at = dirname(at);
  }
  for (const d of [...created, dirname(first)]) await fsyncPath(d);
}
