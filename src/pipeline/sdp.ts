import type { VideoCodec } from '../store/mp4.js';

/** The video stream a camera's SDP offers that libcam records. */
export interface SdpVideo {
  codec: VideoCodec;
  payloadType: number;
  clockRate: number;
  /** The media's a=control (relative to the content base, or absolute). */
  control: string | undefined;
  /** The session-level a=control, where PLAY and TEARDOWN go. */
  sessionControl?: string | undefined;
  /** Parameter sets from a=fmtp (SPS/PPS, and VPS for H.265), as NAL units. */
  parameterSets: Buffer[];
  /** The a=control of every other stream the camera offers (audio, metadata). */
  otherControls?: (string | undefined)[];
}

const ENCODINGS: Record<string, VideoCodec> = { H264: 'h264', H265: 'h265' };

function fmtpParams(value: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) params.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return params;
}

function base64Nals(value: string | undefined): Buffer[] {
  if (!value) return [];
  return value
    .split(',')
    .map((b) => Buffer.from(b.trim(), 'base64'))
    .filter((b) => b.length > 0);
}

/**
 * The first H.264 or H.265 video stream in an SDP description (RFC 4566; the fmtp
 * parameters of RFC 6184 and RFC 7798), or undefined when there is none. Audio and
 * metadata streams are skipped: libcam never sets them up.
 */
export function parseSdp(text: string): SdpVideo | undefined {
  let sessionControl: string | undefined;
  let media: { kind: string; payloadTypes: number[]; attributes: string[] } | undefined;
  const medias: { kind: string; payloadTypes: number[]; attributes: string[] }[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('m=')) {
      const [kind = '', , , ...formats] = line.slice(2).split(/\s+/);
      media = { kind, payloadTypes: formats.map(Number).filter(Number.isInteger), attributes: [] };
      medias.push(media);
    } else if (line.startsWith('a=')) {
      if (media) media.attributes.push(line.slice(2));
      else if (line.startsWith('a=control:')) sessionControl = line.slice('a=control:'.length).trim();
    }
  }
  for (const m of medias) {
    if (m.kind !== 'video') continue;
    for (const pt of m.payloadTypes) {
      const rtpmap = m.attributes.find((a) => a.startsWith(`rtpmap:${pt} `));
      const [encoding = '', rate = ''] = rtpmap?.slice(`rtpmap:${pt} `.length).trim().split('/') ?? [];
      const codec = ENCODINGS[encoding.toUpperCase()];
      if (!codec) continue;
      const fmtp = m.attributes.find((a) => a.startsWith(`fmtp:${pt} `));
      const params = fmtpParams(fmtp?.slice(`fmtp:${pt} `.length) ?? '');
      // Interleaved packetization (H.264 mode 2, H.265 with DONL fields) reorders NAL units
      // across packets: not read here, so not a stream libcam records.
      if (codec === 'h264' && params.get('packetization-mode') === '2') continue;
      if (codec === 'h265' && Number(params.get('sprop-max-don-diff') ?? 0) > 0) continue;
      const parameterSets =
        codec === 'h264'
          ? base64Nals(params.get('sprop-parameter-sets'))
          : [...base64Nals(params.get('sprop-vps')), ...base64Nals(params.get('sprop-sps')), ...base64Nals(params.get('sprop-pps'))];
      const controlOf = (media: typeof m): string | undefined => media.attributes.find((a) => a.startsWith('control:'))?.slice('control:'.length).trim();
      const otherControls = medias.filter((other) => other !== m).map(controlOf);
      return { codec, payloadType: pt, clockRate: Number(rate) > 0 ? Number(rate) : 90000, control: controlOf(m), sessionControl, parameterSets, otherControls };
    }
  }
  return undefined;
}
