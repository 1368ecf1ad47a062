/**
 * The GStreamer Data Protocol (1.0), as gdppay writes it: how the live branch of a
 * recording pipeline hands its buffers to Node with their timestamps and keyframe flags,
 * and caps whenever they change, through a plain pipe. Each packet is a 62-byte header
 * then its payload:
 *
 *   0 major version (1)   1 minor (0)   2 flags   4 payload type (u16)   6 payload length (u32)
 *   10 PTS (u64 ns)   18 duration   26 offset   34 offset end   42 buffer flags (u16)   44 DTS
 *   58 header CRC   60 payload CRC
 *
 * Payload type 1 is a buffer, 2 caps (a NUL-terminated caps string), 64 + t an event of
 * GstEventType t (whose number is shifted left by 8 over its flags).
 * Times are the pipeline's running time; "none" (all ones) becomes undefined.
 */
export const GDP_HEADER_BYTES = 62;
const PAYLOAD_BUFFER = 1;
const PAYLOAD_CAPS = 2;
/** GST_BUFFER_FLAG_DELTA_UNIT: the buffer is not a keyframe. */
const FLAG_DELTA_UNIT = 0x2000;
/** GST_BUFFER_FLAG_DISCONT: something was lost before it. */
const FLAG_DISCONT = 0x0040;
const TIME_NONE = 0xffffffffffffffffn;
/** Larger than any frame a camera sends: a length beyond it means the stream is not GDP. */
export const MAX_PAYLOAD_BYTES = 64 << 20;

export interface GdpBuffer {
  kind: 'buffer';
  /** Presentation and decoding time in ns, when known. */
  pts: bigint | undefined;
  dts: bigint | undefined;
  keyframe: boolean;
  /** Frames were dropped before this one (the valve opened, the leaky queue overflowed). */
  discont: boolean;
  data: Buffer;
  /** The whole packet as read, header included: to hand on to another pipeline's gdpdepay. */
  raw: Buffer;
}

export interface GdpCaps {
  kind: 'caps';
  caps: string;
  raw: Buffer;
}

/** A serialised event; `event` is its GstEventType number (stream-start, segment, …). */
export interface GdpEvent {
  kind: 'event';
  event: number;
  raw: Buffer;
}

export type GdpPacket = GdpBuffer | GdpCaps | GdpEvent;

/** GstEventType numbers (GST_EVENT_MAKE_TYPE's first argument) of the sticky events a decoder needs. */
export const EVENT_STREAM_START = 40;
export const EVENT_SEGMENT = 70;
const PAYLOAD_EVENT_NONE = 64;

function time(value: bigint): bigint | undefined {
  return value === TIME_NONE ? undefined : value;
}

/**
 * Cuts a GDP byte stream into packets, however the reads split it.
 * A header that is not GDP 1.0, or a payload longer than any frame, is an error: the
 * reader cannot find the next packet after it.
 */
export class GdpReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** Adds bytes read; returns the packets they complete. */
  push(chunk: Buffer): GdpPacket[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const packets: GdpPacket[] = [];
    for (;;) {
      if (this.pendingBytes < GDP_HEADER_BYTES) break;
      const head = this.peek(GDP_HEADER_BYTES);
      if (head[0] !== 1 || head[1] !== 0) throw new Error(`not a GDP 1.0 stream (version ${head[0]}.${head[1]})`);
      const length = head.readUInt32BE(6);
      if (length > MAX_PAYLOAD_BYTES) throw new Error(`a GDP packet of ${length} bytes is not a video frame`);
      if (this.pendingBytes < GDP_HEADER_BYTES + length) break;
      const packet = this.take(GDP_HEADER_BYTES + length);
      const header = packet.subarray(0, GDP_HEADER_BYTES);
      const payload = packet.subarray(GDP_HEADER_BYTES);
      const type = header.readUInt16BE(4);
      if (type === PAYLOAD_BUFFER) {
        packets.push({
          kind: 'buffer',
          pts: time(header.readBigUInt64BE(10)),
          dts: time(header.readBigUInt64BE(44)),
          keyframe: (header.readUInt16BE(42) & FLAG_DELTA_UNIT) === 0,
          discont: (header.readUInt16BE(42) & FLAG_DISCONT) !== 0,
          data: payload,
          raw: packet,
        });
      } else if (type === PAYLOAD_CAPS) {
        const end = payload.indexOf(0);
        packets.push({ kind: 'caps', caps: payload.toString('utf8', 0, end < 0 ? payload.length : end), raw: packet });
      } else if (type > PAYLOAD_EVENT_NONE) {
        packets.push({ kind: 'event', event: (type - PAYLOAD_EVENT_NONE) >> 8, raw: packet });
      }
    }
    return packets;
  }

  private peek(bytes: number): Buffer {
    const first = this.pending[0];
    if (first && first.length >= bytes) return first.subarray(0, bytes);
    this.pending = [Buffer.concat(this.pending)];
    return (this.pending[0] ?? Buffer.alloc(0)).subarray(0, bytes);
  }

  private take(bytes: number): Buffer {
    const whole = this.peek(bytes);
    const first = this.pending[0] ?? Buffer.alloc(0);
    if (first.length === bytes) this.pending.shift();
    else this.pending[0] = first.subarray(bytes);
    this.pendingBytes -= bytes;
    return whole;
  }
}
