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
      if (err) reject(new LibcamError('unavailable', `ONVIF device ${url.origin}${url.pathname} did not answer: ${err.message}`));
      else resolve(cam);
    });
  });
}

function streamUri(cam: Cam, profileToken: string): Promise<string> {
  return new Promise((resolve, reject) => {
    cam.getStreamUri({ protocol: 'RTSP', profileToken }, (err, stream) => {
      if (err || !stream?.uri) reject(new LibcamError('unavailable', `ONVIF GetStreamUri failed for profile ${profileToken}: ${err?.message ?? 'no uri'}`));
      else resolve(stream.uri);
    });
  });
}

function profileToken(profile: unknown): string | undefined {
  if (typeof profile !== 'object' || profile === null || !('$' in profile)) return undefined;
  const attrs = profile.$;
  return typeof attrs === 'object' && attrs !== null && 'token' in attrs && typeof attrs.token === 'string' ? attrs.token : undefined;
}

/** The RTSP URI of the configured profile (or the first one), asked of the device on every connect. */
export async function resolveOnvifStream(deviceUrl: string, login: Login, profile?: string): Promise<string> {
  const cam = await connectCam(deviceUrl, login);
  const tokens = (cam.profiles ?? []).map(profileToken).filter((t): t is string => t !== undefined);
  const token = profile ?? tokens[0];
  if (token === undefined) throw new LibcamError('unavailable', `ONVIF device ${deviceUrl} has no media profiles`);
  if (profile !== undefined && !tokens.includes(profile)) {
    throw new LibcamError('invalid-config', `ONVIF device ${deviceUrl} has no profile "${profile}"; it has ${tokens.join(', ')}`);
  }
  return streamUri(cam, token);
}
