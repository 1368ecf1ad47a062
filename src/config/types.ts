/**
 * The configuration as libcamd uses it: validated and defaulted by the schema, paths made
 * absolute, and every duration and size parsed once, at load, into milliseconds and bytes
 * (the `Ms`/`Bytes` names; the YAML keys stay as the contract writes them).
 */
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
  /** This camera's own retention.maxAge, when it has one. */
  maxAgeMs?: number;
}

export interface NotifyConfig {
  director: { email: string };
  smtp: { host: string; port: number; from: string; secure: boolean; requireTLS: boolean };
  /** Delivery retries: the first after `firstMs`, doubling up to `maxMs`. */
  retry: { firstMs: number; maxMs: number };
}

export interface Config {
  store: { path: string; segmentSeconds: number };
  index: { path: string };
  keys: { path: string };
  socket: { path: string; group: string };
  retention: { maxAgeMs: number; maxBytes?: number; minFreeBytes: number };
  pause: { maxDurationMs: number };
  cameras: CameraConfig[];
  notify?: NotifyConfig;
  /** Who may release footage together (policy §3): pairs of approver roles. */
  export: { approvalPairs: ['director' | 'assistant' | 'president', 'director' | 'assistant' | 'president'][] };
  web?: {
    listen: string;
    tls: { cert: string; key: string };
    allow: string[];
    sessionIdleMs: number;
    sessionMaxMs: number;
  };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' };
}

/** The file as the schema validates it: durations and sizes still text. */
export interface ConfigFile extends Omit<Config, 'retention' | 'pause' | 'cameras' | 'notify' | 'web'> {
  web?: Omit<NonNullable<Config['web']>, 'sessionIdleMs' | 'sessionMaxMs'> & { sessionIdle: string; sessionMax: string };
  retention: { maxAge: string; maxBytes?: string; minFreeBytes: string };
  pause: { maxDuration: string };
  cameras: (Omit<CameraConfig, 'maxAgeMs'> & { retention?: { maxAge?: string } })[];
  notify?: Omit<NotifyConfig, 'retry'> & { retry: { first: string; max: string } };
}
