import type { VideoCodec } from '../store/mp4.js';

/**
 * RTP to access units for H.264 (RFC 6184, non-interleaved mode: single NAL units,
 * STAP-A, FU-A) and H.265 (RFC 7798 without DONL: single NAL units, aggregation packets,
 * fragmentation units). Packets arrive in order over TCP, so there is no reordering: a
 * sequence gap (a camera that dropped packets before sending) drops the NAL unit being
 * reassembled, never a whole stream.
 *
 * An access unit ends at the RTP marker bit, or when a packet with a new timestamp
 * arrives without one. It leaves in Annex B form (start codes), as GStreamer's
 * byte-stream caps want, with the camera's out-of-band parameter sets (SDP
 * sprop-parameter-sets) put in front of a keyframe that comes without its own.
 */
export interface AccessUnit {
  /** The unit's bytes: valid only during the call that hands it over (the buffer is reused). */
  data: Buffer;
  keyframe: boolean;
  /** The RTP timestamp, unwrapped past 2^32 (a camera's clock wraps every 13 h at 90 kHz). */
  rtpTime: number;
}

export interface Depayloader {
  /**
   * One RTP packet (header included), read at once: nothing of it is kept. Hands each
   * access unit it completes to `emit` (a packet with a new timestamp may complete the
   * one before it, and its marker bit its own).
   */
  push(packet: Buffer, emit: (unit: AccessUnit) => void): void;
}

const START_CODE = Buffer.from([0, 0, 0, 1]);
/** The most one access unit may gather before it is dropped as broken (a 4K keyframe is 1–2 MB). */
const MAX_UNIT_BYTES = 16 * 1024 * 1024;
/** The unit buffer's first size; it doubles when a unit needs more, and stays. */
const INITIAL_UNIT_BYTES = 256 * 1024;

interface CodecRules {
  /** Bytes of the NAL unit header: 1 for H.264, 2 for H.265. */
  headerBytes: number;
  nalType(first: number): number;
  aggregation: number;
  fragmentation: number;
  /** Writes the reassembled NAL header (from the FU's payload header and FU header) at `at`. */
  writeFragmentHeader(target: Buffer, at: number, payload: Buffer, fuHeader: number): void;
  /** The NAL type a fragmentation unit's FU header carries. */
  fragmentType(fuHeader: number): number;
  isKeyframe(type: number): boolean;
  isParameterSet(type: number): boolean;
}

const H264: CodecRules = {
  headerBytes: 1,
  nalType: (first) => first & 0x1f,
  aggregation: 24,
  fragmentation: 28,
  writeFragmentHeader: (target, at, payload, fu) => {
    target[at] = (payload[0]! & 0xe0) | (fu & 0x1f);
  },
  fragmentType: (fu) => fu & 0x1f,
  isKeyframe: (type) => type === 5,
  isParameterSet: (type) => type === 7,
};

const H265: CodecRules = {
  headerBytes: 2,
  nalType: (first) => (first >> 1) & 0x3f,
  aggregation: 48,
  fragmentation: 49,
  writeFragmentHeader: (target, at, payload, fu) => {
    target[at] = (payload[0]! & 0x81) | ((fu & 0x3f) << 1);
    target[at + 1] = payload[1]!;
  },
  fragmentType: (fu) => fu & 0x3f,
  isKeyframe: (type) => type >= 16 && type <= 21,
  isParameterSet: (type) => type === 33,
};

/**
 * Gathers each access unit in one buffer it reuses: packets are copied into it as they
 * come (the socket's read buffer is reused too), so a frame costs no allocation — at
 * camera bitrates, allocating per frame or per read made V8 run major collections
 * every few seconds (BENCHMARKS.md, Recording at camera bitrates).
 */
class NalDepayloader implements Depayloader {
  private unit = Buffer.allocUnsafe(INITIAL_UNIT_BYTES);
  private length = 0;
  private keyframe = false;
  private hasParameterSets = false;
  private unitTime: number | undefined;
  /** Where the NAL unit being reassembled from fragments starts in `unit`; -1 when none is. */
  private fragmentAt = -1;
  private fragmentType = 0;
  private broken = false;
  private lastSeq: number | undefined;
  private lastTs: number | undefined;
  private extTs = 0;

  constructor(
    private readonly rules: CodecRules,
    private readonly parameterSets: readonly Buffer[],
  ) {}

  push(packet: Buffer, emit: (unit: AccessUnit) => void): void {
    const first = packet[0]!;
    const csrcs = first & 0x0f;
    let offset = 12 + 4 * csrcs;
    if (first & 0x10) {
      // A header extension: its length in 32-bit words follows its profile.
      if (packet.length < offset + 4) return;
      offset += 4 + 4 * packet.readUInt16BE(offset + 2);
    }
    let end = packet.length;
    if (first & 0x20) end -= packet[end - 1]!; // padding
    if (end <= offset) return;
    const marker = (packet[1]! & 0x80) !== 0;
    const seq = packet.readUInt16BE(2);
    const time = this.unwrap(packet.readUInt32BE(4));
    if (this.lastSeq !== undefined && seq !== ((this.lastSeq + 1) & 0xffff)) this.dropFragment(); // a NAL unit lost its middle
    this.lastSeq = seq;
    // A new timestamp ends the unit before, whole or not (its marker may have been lost; a
    // unit cut to nothing still forgets that it held a keyframe).
    if (this.unitTime !== undefined && time !== this.unitTime) this.flush(emit);
    this.unitTime = time;
    this.payload(packet.subarray(offset, end));
    if (marker) this.flush(emit);
  }

  private unwrap(ts: number): number {
    if (this.lastTs === undefined) this.extTs = ts;
    else this.extTs += (ts - this.lastTs) | 0; // the signed 32-bit difference
    this.lastTs = ts;
    return this.extTs;
  }

  private payload(payload: Buffer): void {
    const { rules } = this;
    if (payload.length < rules.headerBytes) return;
    const type = rules.nalType(payload[0]!);
    if (type === rules.aggregation) {
      let at = rules.headerBytes;
      while (at + 2 <= payload.length) {
        const size = payload.readUInt16BE(at);
        at += 2;
        if (size === 0 || at + size > payload.length) break;
        this.nal(payload, at, at + size);
        at += size;
      }
    } else if (type === rules.fragmentation) {
      if (payload.length < rules.headerBytes + 2) return;
      const fu = payload[rules.headerBytes]!;
      const dataAt = rules.headerBytes + 1;
      if (fu & 0x80) {
        this.dropFragment();
        this.fragmentAt = this.length;
        this.reserve(4 + rules.headerBytes + payload.length - dataAt);
        START_CODE.copy(this.unit, this.length);
        rules.writeFragmentHeader(this.unit, this.length + 4, payload, fu);
        this.length += 4 + rules.headerBytes;
        this.fragmentType = rules.fragmentType(fu);
      } else if (this.fragmentAt < 0) {
        return; // the middle of a NAL unit whose start was lost
      }
      this.append(payload, dataAt, payload.length);
      if (fu & 0x40) {
        // Whole: only now does it count (a keyframe cut short is no keyframe).
        this.fragmentAt = -1;
        this.mark(this.fragmentType);
      }
    } else if (type < rules.aggregation) {
      this.nal(payload, 0, payload.length);
    }
  }

  private nal(source: Buffer, from: number, to: number): void {
    this.dropFragment();
    this.reserve(4 + to - from);
    START_CODE.copy(this.unit, this.length);
    this.length += 4;
    this.append(source, from, to);
    this.mark(this.rules.nalType(source[from]!));
  }

  private mark(type: number): void {
    if (this.rules.isKeyframe(type)) this.keyframe = true;
    if (this.rules.isParameterSet(type)) this.hasParameterSets = true;
  }

  private append(source: Buffer, from: number, to: number): void {
    this.reserve(to - from);
    if (this.broken) return;
    source.copy(this.unit, this.length, from, to);
    this.length += to - from;
  }

  /** A fragmented NAL unit left unfinished is cut from the unit. */
  private dropFragment(): void {
    if (this.fragmentAt < 0) return;
    this.length = this.fragmentAt;
    this.fragmentAt = -1;
  }

  private reserve(bytes: number): void {
    const need = this.length + bytes;
    if (need <= this.unit.length) return;
    if (need > MAX_UNIT_BYTES) {
      this.broken = true; // dropped at the flush
      return;
    }
    let size = this.unit.length;
    while (size < need) size *= 2;
    const bigger = Buffer.allocUnsafe(size);
    this.unit.copy(bigger, 0, 0, this.length);
    this.unit = bigger;
  }

  private flush(emit: (unit: AccessUnit) => void): void {
    this.dropFragment();
    const length = this.length;
    const keyframe = this.keyframe;
    const withSets = keyframe && !this.hasParameterSets && this.parameterSets.length > 0;
    const broken = this.broken;
    this.length = 0;
    this.keyframe = false;
    this.hasParameterSets = false;
    this.broken = false;
    if (length === 0 || broken) return;
    const body = this.unit.subarray(0, length);
    // A keyframe without its parameter sets (the camera sent them only in its SDP): the
    // SDP's go in front. Rare, so a new buffer is fine here.
    const data = withSets ? Buffer.concat([...this.parameterSets.flatMap((p) => [START_CODE, p]), body]) : body;
    emit({ data, keyframe, rtpTime: this.unitTime ?? 0 });
  }
}

export function depayloaderFor(codec: VideoCodec, parameterSets: readonly Buffer[]): Depayloader {
  return new NalDepayloader(codec === 'h264' ? H264 : H265, parameterSets);
}
