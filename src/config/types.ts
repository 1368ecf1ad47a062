/** The configuration as the schema guarantees it once validated and defaulted. */
/** RTP over TCP, over UDP, or TCP first and UDP for a camera that refuses TCP. */
export type TransportMode = 'auto' | 'tcp' | 'udp';

export interface RtspSource {
  kind: 'rtsp';
  url: string;
  credentialsFile?: string;
  transport: TransportMode;
}

export interface OnvifSource {
  kind: 'onvif';
  url: string;
  credentialsFile?: string;
  transport: TransportMode;
  profile?: string;
}

export interface TestPatternSource {
  kind: 'test-pattern';
  width: number;
  height: number;
  fps: number;
  codec: 'h264' | 'h265';
  pattern: string;
}

export type CameraSource = RtspSource | OnvifSource | TestPatternSource;

export interface CameraConfig {
  name: string;
  source: CameraSource;
  enabled: boolean;
  retention?: { maxAge?: string };
}

export interface Config {
  store: { path: string; segmentSeconds: number };
  index: { path: string };
  socket: { path: string; group: string };
  retention: { maxAge: string; maxBytes?: string; minFreeBytes: string };
  pause: { maxDuration: string };
  cameras: CameraConfig[];
  notify?: {
    director: { email: string };
    smtp: { host: string; port: number; from: string; secure: boolean };
    /** Delivery retries: the first after `first`, doubling up to `max`. */
    retry: { first: string; max: string };
  };
  web?: {
    listen: string;
    tls: { cert: string; key: string };
    allow: string[];
  };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' };
}
