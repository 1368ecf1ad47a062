import onvif from 'onvif';
import { LibcamError } from '../errors.js';

export interface OnvifProfile {
  token: string;
  name: string;
  encoding: string | null;
  width: number | null;
  height: number | null;
  rtspUri: string | null;
}

export interface OnvifProbe {
  device: { manufacturer: string | null; model: string | null };
  profiles: OnvifProfile[];
}

interface Login {
  user?: string | undefined;
  password?: string | undefined;
}

const TIMEOUT_MS = 10_000;

type Cam = InstanceType<typeof onvif.Cam>;

function connectCam(deviceUrl: string, login: Login): Promise<Cam> {
  const url = new URL(deviceUrl);
  const secure = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const cam = new onvif.Cam({
      hostname: url.hostname,
      port: url.port ? Number(url.port) : secure ? 443 : 80,
      path: url.pathname,
      username: login.user,
      password: login.password,
      useSecure: secure,
      timeout: TIMEOUT_MS,
      preserveAddress: true,
      autoconnect: false,
    });
    cam.connect((err) => {
      if (err) reject(new LibcamError('io', `ONVIF device ${url.origin}${url.pathname} did not answer: ${err.message}`));
      else resolve(cam);
    });
  });
}

function streamUri(cam: Cam, profileToken: string): Promise<string> {
  return new Promise((resolve, reject) => {
    cam.getStreamUri({ protocol: 'RTSP', profileToken }, (err, stream) => {
      if (err || !stream?.uri) reject(new LibcamError('io', `ONVIF GetStreamUri failed for profile ${profileToken}: ${err?.message ?? 'no uri'}`));
      else resolve(stream.uri);
    });
  });
}

function profileToken(profile: unknown): string | undefined {
  if (typeof profile !== 'object' || profile === null || !('$' in profile)) return undefined;
  const attrs = profile.$;
  return typeof attrs === 'object' && attrs !== null && 'token' in attrs && typeof attrs.token === 'string' ? attrs.token : undefined;
}

/** `obj.a.b.c` of an untyped value, or undefined. The onvif package's results are `any`. */
function field(value: unknown, ...path: string[]): unknown {
  let at: unknown = value;
  for (const key of path) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = Object.getOwnPropertyDescriptor(at, key)?.value;
  }
  return at;
}

const text = (value: unknown): string | null => (typeof value === 'string' || typeof value === 'number' ? String(value) : null);
const num = (value: unknown): number | null => (typeof value === 'number' ? value : typeof value === 'string' && value !== '' ? Number(value) : null);

function deviceInformation(cam: Cam): Promise<OnvifProbe['device']> {
  return new Promise((resolve) => {
    cam.getDeviceInformation((err, info) => {
      // Some devices refuse it; the profiles still matter more than the label.
      if (err) resolve({ manufacturer: null, model: null });
      else resolve({ manufacturer: text(field(info, 'manufacturer')), model: text(field(info, 'model')) });
    });
  });
}

/** `libcam cameras probe`: the device's maker and model, and every profile with its stream URI. */
export async function probeDevice(deviceUrl: string, login: Login): Promise<OnvifProbe> {
  const cam = await connectCam(deviceUrl, login);
  const device = await deviceInformation(cam);
  const profiles: OnvifProfile[] = [];
  for (const profile of cam.profiles ?? []) {
    const token = profileToken(profile);
    if (token === undefined) continue;
    const encoder = field(profile, 'videoEncoderConfiguration');
    profiles.push({
      token,
      name: text(field(profile, 'name')) ?? token,
      encoding: text(field(encoder, 'encoding')),
      width: num(field(encoder, 'resolution', 'width')),
      height: num(field(encoder, 'resolution', 'height')),
      rtspUri: await streamUri(cam, token).catch(() => null),
    });
  }
  return { device, profiles };
}

export interface DiscoveredDevice {
  address: string;
  xaddr: string;
  name: string | null;
  hardware: string | null;
}

function scope(scopes: string, kind: 'name' | 'hardware'): string | null {
  const match = new RegExp(`onvif://www\\.onvif\\.org/${kind}/(\\S+)`).exec(scopes);
  if (!match?.[1]) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return match[1];
  }
}

/** `libcam cameras discover`: ONVIF devices answering a WS-Discovery probe on the local network. */
export function discoverDevices(timeoutMs: number): Promise<DiscoveredDevice[]> {
  return new Promise((resolve, reject) => {
    const found = new Map<string, DiscoveredDevice>();
    // Discovery emits 'error' for every stray or malformed reply: with no listener, an
    // EventEmitter throws. A bad reply from one device must not hide the others.
    const ignore = (): void => undefined;
    onvif.Discovery.on('error', ignore);
    onvif.Discovery.probe({ timeout: timeoutMs, resolve: false }, (err, devices) => {
      onvif.Discovery.removeListener('error', ignore);
      if (err && !Array.isArray(err)) {
        reject(new LibcamError('io', `WS-Discovery failed: ${err.message}`));
        return;
      }
      for (const device of devices ?? []) {
        const match = field(device, 'probeMatches', 'probeMatch');
        const address = text(field(match, 'endpointReference', 'address'));
        const xaddrs = text(field(match, 'XAddrs')) ?? '';
        if (!address) continue;
        const scopes = text(field(match, 'scopes')) ?? '';
        found.set(address, { address, xaddr: xaddrs.split(/\s+/)[0] ?? '', name: scope(scopes, 'name'), hardware: scope(scopes, 'hardware') });
      }
      resolve([...found.values()]);
    });
  });
}

/** The RTSP URI of the configured profile (or the first one), asked of the device on every connect. */
export async function resolveOnvifStream(deviceUrl: string, login: Login, profile?: string): Promise<string> {
  const cam = await connectCam(deviceUrl, login);
  const tokens = (cam.profiles ?? []).map(profileToken).filter((t): t is string => t !== undefined);
  const token = profile ?? tokens[0];
  if (token === undefined) throw new LibcamError('io', `ONVIF device ${deviceUrl} has no media profiles`);
  if (profile !== undefined && !tokens.includes(profile)) {
    throw new LibcamError('invalid-config', `ONVIF device ${deviceUrl} has no profile "${profile}"; it has ${tokens.join(', ')}`);
  }
  return streamUri(cam, token);
}
