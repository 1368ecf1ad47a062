import { createHash, randomUUID } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';

/**
 * An ONVIF device simulator: SOAP 1.2 over HTTP with WS-Security UsernameToken
 * (PasswordDigest), answering what a Profile S camera answers to the onvif package —
 * GetSystemDateAndTime (without auth), GetServices (a fault, as older devices give, so
 * the client falls back to GetCapabilities), GetCapabilities, GetDeviceInformation,
 * GetProfiles, GetVideoSources and GetStreamUri — and WS-Discovery probe matches on
 * 239.255.255.250:3702. Its stream URI points at a real RTSP simulator.
 */
export interface OnvifDeviceOptions {
  rtspUri: string;
  user: string;
  password: string;
  name?: string;
  hardware?: string;
  /** Also answer WS-Discovery probes. */
  discovery?: boolean;
}

export interface OnvifDevice {
  url: string;
  urn: string;
  /** SOAP actions received, in order, with whether they were authenticated. */
  calls: { action: string; authenticated: boolean }[];
}

const NS = {
  s: 'http://www.w3.org/2003/05/soap-envelope',
  tds: 'http://www.onvif.org/ver10/device/wsdl',
  trt: 'http://www.onvif.org/ver10/media/wsdl',
  tt: 'http://www.onvif.org/ver10/schema',
};

function envelope(body: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="${NS.s}" xmlns:tds="${NS.tds}" xmlns:trt="${NS.trt}" xmlns:tt="${NS.tt}" ` +
    `xmlns:ter="http://www.onvif.org/ver10/error"><s:Body>${body}</s:Body></s:Envelope>`
  );
}

function fault(code: string, subcode: string, reason: string): string {
  return envelope(
    `<s:Fault><s:Code><s:Value>s:${code}</s:Value><s:Subcode><s:Value>ter:${subcode}</s:Value></s:Subcode></s:Code>` +
      `<s:Reason><s:Text xml:lang="en">${reason}</s:Text></s:Reason></s:Fault>`,
  );
}

const tag = (xml: string, name: string): string | undefined => new RegExp(`<(?:\\w+:)?${name}\\b[^>]*>([^<]*)</(?:\\w+:)?${name}>`).exec(xml)?.[1];

/** Checks a WS-Security UsernameToken with PasswordDigest = Base64(SHA1(nonce + created + password)). */
function authenticated(xml: string, user: string, password: string): boolean {
  const username = tag(xml, 'Username');
  const digest = tag(xml, 'Password');
  const nonce = tag(xml, 'Nonce');
  const created = tag(xml, 'Created');
  if (username !== user || !digest || !nonce || !created) return false;
  const expected = createHash('sha1')
    .update(Buffer.concat([Buffer.from(nonce, 'base64'), Buffer.from(created), Buffer.from(password)]))
    .digest('base64');
  return expected === digest;
}

function profileXml(token: string, name: string, encoding: string, width: number, height: number): string {
  return (
    `<trt:Profiles token="${token}" fixed="true"><tt:Name>${name}</tt:Name>` +
    `<tt:VideoSourceConfiguration token="vsc"><tt:Name>vsc</tt:Name><tt:UseCount>2</tt:UseCount><tt:SourceToken>vs0</tt:SourceToken>` +
    `<tt:Bounds x="0" y="0" width="${width}" height="${height}"/></tt:VideoSourceConfiguration>` +
    `<tt:VideoEncoderConfiguration token="vec-${token}"><tt:Name>vec</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>${encoding}</tt:Encoding>` +
    `<tt:Resolution><tt:Width>${width}</tt:Width><tt:Height>${height}</tt:Height></tt:Resolution><tt:Quality>5</tt:Quality>` +
    `<tt:RateControl><tt:FrameRateLimit>10</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>800</tt:BitrateLimit></tt:RateControl>` +
    `<tt:SessionTimeout>PT60S</tt:SessionTimeout></tt:VideoEncoderConfiguration></trt:Profiles>`
  );
}

export async function startOnvifDevice(t: Test, opts: OnvifDeviceOptions): Promise<OnvifDevice> {
  const calls: OnvifDevice['calls'] = [];
  const urn = `urn:uuid:${randomUUID()}`;
  let base = '';

  const answer = (action: string, xml: string): { status: number; body: string } => {
    const ok = authenticated(xml, opts.user, opts.password);
    calls.push({ action, authenticated: ok });
    if (action === 'GetSystemDateAndTime') {
      const now = new Date();
      return {
        status: 200,
        body: envelope(
          `<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>` +
            `<tt:UTCDateTime><tt:Time><tt:Hour>${now.getUTCHours()}</tt:Hour><tt:Minute>${now.getUTCMinutes()}</tt:Minute><tt:Second>${now.getUTCSeconds()}</tt:Second></tt:Time>` +
            `<tt:Date><tt:Year>${now.getUTCFullYear()}</tt:Year><tt:Month>${now.getUTCMonth() + 1}</tt:Month><tt:Day>${now.getUTCDate()}</tt:Day></tt:Date></tt:UTCDateTime>` +
            `</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`,
        ),
      };
    }
    if (!ok) return { status: 400, body: fault('Sender', 'NotAuthorized', 'Sender not Authorized') };
    switch (action) {
      case 'GetServices':
        return { status: 400, body: fault('Receiver', 'ActionNotSupported', 'Optional Action Not Implemented') };
      case 'GetCapabilities':
        return {
          status: 200,
          body: envelope(
            `<tds:GetCapabilitiesResponse><tds:Capabilities>` +
              `<tt:Device><tt:XAddr>${base}/onvif/device_service</tt:XAddr></tt:Device>` +
              `<tt:Media><tt:XAddr>${base}/onvif/media_service</tt:XAddr><tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast>` +
              `<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>` +
              `</tds:Capabilities></tds:GetCapabilitiesResponse>`,
          ),
        };
      case 'GetDeviceInformation':
        return {
          status: 200,
          body: envelope(
            `<tds:GetDeviceInformationResponse><tds:Manufacturer>Libcam Test Optics</tds:Manufacturer><tds:Model>${opts.hardware ?? 'SIM-1'}</tds:Model>` +
              `<tds:FirmwareVersion>1.0</tds:FirmwareVersion><tds:SerialNumber>0001</tds:SerialNumber><tds:HardwareId>sim</tds:HardwareId></tds:GetDeviceInformationResponse>`,
          ),
        };
      case 'GetProfiles':
        return {
          status: 200,
          body: envelope(
            `<trt:GetProfilesResponse>${profileXml('main', 'Main stream', 'H264', 320, 240)}${profileXml('sub', 'Sub stream', 'H264', 160, 120)}</trt:GetProfilesResponse>`,
          ),
        };
      case 'GetVideoSources':
        return {
          status: 200,
          body: envelope(
            `<trt:GetVideoSourcesResponse><trt:VideoSources token="vs0"><tt:Framerate>10</tt:Framerate>` +
              `<tt:Resolution><tt:Width>320</tt:Width><tt:Height>240</tt:Height></tt:Resolution></trt:VideoSources></trt:GetVideoSourcesResponse>`,
          ),
        };
      case 'GetStreamUri': {
        const token = tag(xml, 'ProfileToken');
        if (token !== 'main' && token !== 'sub') return { status: 400, body: fault('Sender', 'NoProfile', `no profile ${token ?? ''}`) };
        return {
          status: 200,
          body: envelope(
            `<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>${opts.rtspUri}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>` +
              `<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>`,
          ),
        };
      }
      default:
        return { status: 400, body: fault('Receiver', 'ActionNotSupported', `${action} is not implemented`) };
    }
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let xml = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (xml += d));
    req.on('end', () => {
      const action = /<(?:\w+:)?Body[^>]*>\s*<(?:\w+:)?(\w+)/.exec(xml)?.[1] ?? 'Unknown';
      const { status, body } = answer(action, xml);
      res.writeHead(status, { 'content-type': 'application/soap+xml; charset=utf-8' });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  base = `http://127.0.0.1:${port}`;
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));

  if (opts.discovery) {
    const udp: Socket = createSocket({ type: 'udp4', reuseAddr: true });
    udp.on('message', (msg, rinfo) => {
      const text = msg.toString();
      if (!/Probe\b/.test(text) || /ProbeMatches/.test(text)) return;
      const relatesTo = tag(text, 'MessageID') ?? '';
      const scopes = [
        'onvif://www.onvif.org/type/video_encoder',
        `onvif://www.onvif.org/name/${encodeURIComponent(opts.name ?? 'Sim Camera')}`,
        `onvif://www.onvif.org/hardware/${encodeURIComponent(opts.hardware ?? 'SIM-1')}`,
      ].join(' ');
      const reply =
        `<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="${NS.s}" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" ` +
        `xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><SOAP-ENV:Header>` +
        `<wsa:MessageID>urn:uuid:${randomUUID()}</wsa:MessageID><wsa:RelatesTo>${relatesTo}</wsa:RelatesTo>` +
        `<wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>` +
        `<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action></SOAP-ENV:Header><SOAP-ENV:Body>` +
        `<d:ProbeMatches><d:ProbeMatch><wsa:EndpointReference><wsa:Address>${urn}</wsa:Address></wsa:EndpointReference>` +
        `<d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>${scopes}</d:Scopes><d:XAddrs>${base}/onvif/device_service</d:XAddrs>` +
        `<d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>`;
      udp.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(3702, () => {
        udp.addMembership('239.255.255.250');
        resolve();
      });
    });
    t.teardown(() => new Promise<void>((resolve) => udp.close(() => resolve())));
  }
  return { url: `${base}/onvif/device_service`, urn, calls };
}
