import type { Readable } from 'node:stream';
import type { FetchHeader } from '../protocol.js';

/**
 * A reply that carries a file: the socket server sends `header` as the result line, then
 * exactly `header.bytes` raw bytes read from `open()`, then closes the connection. Files of
 * gigabytes pass this way without base64 or a line in memory.
 */
export class Streamed {
  constructor(
    readonly header: FetchHeader,
    readonly open: () => Readable,
    /** Instead of the bytes: the file whose read-only descriptor goes with the header line. */
    readonly descriptorOf: string | null = null,
  ) {}
}
