import { DURATION_PATTERN, SIZE_PATTERN } from './units.js';

/**
 * The JSON Schema of /etc/libcam/libcam.yaml. Every default lives here and nowhere else:
 * the loader validates with `useDefaults`, and code reads the filled-in values.
 * The key names are a contract (README, docs/design.md): add keys, rename none.
 */
const duration = { type: 'string', pattern: DURATION_PATTERN };
const size = { type: 'string', pattern: SIZE_PATTERN };
const path = { type: 'string', minLength: 1 };
const credentialsFile = { ...path, description: 'file holding user:password on one line, not readable by others' };
/** auto: RTP over TCP, and over UDP for a camera that refuses TCP (remembered until libcamd restarts). */
const transport = { enum: ['auto', 'tcp', 'udp'], default: 'auto' };

const rtspSource = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'url'],
  properties: {
    kind: { const: 'rtsp' },
    // Anything after the scheme is the camera's business: the URL only ever becomes a
    // property of rtspsrc or a request line of libcam's RTSP client (after `new URL`, and
    // with no control character, so no line break can add a header), never part of a
    // pipeline description, so even a URL carrying `! filesink …` can do no harm; a bad one
    // leaves that camera in `error`, not the box down.
    url: { type: 'string', pattern: '^rtsps?://[^\\u0000-\\u001f]+$' },
    credentialsFile,
    transport,
  },
};

const onvifSource = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'url'],
  properties: {
    kind: { const: 'onvif' },
    url: { type: 'string', pattern: '^https?://[^\\s]+$' },
    credentialsFile,
    transport,
    profile: { type: 'string', minLength: 1, description: 'media profile token; the first profile when absent' },
  },
};

const testPatternSource = {
  type: 'object',
  additionalProperties: false,
  required: ['kind'],
  properties: {
    kind: { const: 'test-pattern' },
    width: { type: 'integer', minimum: 16, maximum: 3840, default: 1280 },
    height: { type: 'integer', minimum: 16, maximum: 2160, default: 720 },
    fps: { type: 'integer', minimum: 1, maximum: 60, default: 15 },
    codec: { enum: ['h264', 'h265'], default: 'h264' },
    pattern: { enum: ['smpte', 'ball', 'snow', 'black', 'circular'], default: 'smpte' },
  },
};

export const configSchema = {
  $id: 'https://libcam.example/schema/libcam.yaml.json',
  type: 'object',
  additionalProperties: false,
  required: ['cameras'],
  properties: {
    store: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        path: { ...path, default: '/srv/libcam' },
        segmentSeconds: { type: 'integer', minimum: 2, maximum: 60, default: 10 },
      },
    },
    index: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { path: { ...path, default: '/var/lib/libcam/index' } },
    },
    keys: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: "the appliance's own key and the signed audit head: readable by libcamd alone, not in the index",
      properties: { path: { ...path, default: '/var/lib/libcam/keys' } },
    },
    socket: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        path: { ...path, default: '/run/libcam/libcam.sock' },
        // IT staff: the group may connect to the socket and do nothing else (not libcamd's own group).
        group: { type: 'string', pattern: '^[a-z_][a-z0-9_-]*\\$?$', default: 'libcam-staff' },
      },
    },
    retention: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxAge: { ...duration, default: '30d' },
        maxBytes: { ...size, description: 'cap on the whole store; no cap when absent (minFreeBytes still applies)' },
        minFreeBytes: { ...size, default: '20GB' },
      },
    },
    pause: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { maxDuration: { ...duration, default: '8h' } },
    },
    cameras: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'source'],
        properties: {
          name: { type: 'string', pattern: '^[a-z0-9-]+$', maxLength: 64 },
          source: {
            type: 'object',
            required: ['kind'],
            properties: { kind: { enum: ['rtsp', 'onvif', 'test-pattern'] } },
            discriminator: { propertyName: 'kind' },
            oneOf: [rtspSource, onvifSource, testPatternSource],
          },
          enabled: { type: 'boolean', default: true },
          retention: {
            type: 'object',
            additionalProperties: false,
            properties: { maxAge: duration },
          },
        },
      },
    },
    notify: {
      type: 'object',
      additionalProperties: false,
      required: ['director', 'smtp'],
      properties: {
        director: {
          type: 'object',
          additionalProperties: false,
          required: ['email'],
          properties: { email: { type: 'string', format: 'email' } },
        },
        smtp: {
          type: 'object',
          additionalProperties: false,
          required: ['host', 'from'],
          properties: {
            host: { type: 'string', minLength: 1 },
            port: { type: 'integer', minimum: 1, maximum: 65535, default: 25 },
            from: { type: 'string', format: 'email' },
            secure: { type: 'boolean', default: false, description: 'TLS from the first byte (port 465)' },
            requireTLS: { type: 'boolean', default: false, description: 'refuse to send unless the relay upgrades to TLS (STARTTLS)' },
          },
        },
        retry: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: { first: { ...duration, default: '30s' }, max: { ...duration, default: '30m' } },
        },
      },
    },
    export: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        // Policy §3's pairs; a library may drop one (a box with no Library Assistant), never add one.
        approvalPairs: {
          type: 'array',
          minItems: 1,
          maxItems: 2,
          items: { type: 'array', minItems: 2, maxItems: 2, items: { enum: ['director', 'assistant', 'president'] } },
          default: [
            ['director', 'president'],
            ['assistant', 'president'],
          ],
        },
      },
    },
    web: {
      type: 'object',
      additionalProperties: false,
      required: ['tls'],
      properties: {
        listen: { type: 'string', pattern: '^[^\\s]+:[0-9]{1,5}$', default: '0.0.0.0:8443' },
        tls: {
          type: 'object',
          additionalProperties: false,
          required: ['cert', 'key'],
          properties: { cert: path, key: path },
        },
        allow: {
          type: 'array',
          items: { type: 'string', pattern: '^[0-9a-fA-F:.]+/[0-9]{1,3}$' },
          default: [],
        },
        // A session ends after this long without a request, and this long after its login.
        sessionIdle: { ...duration, default: '30m' },
        sessionMax: { ...duration, default: '12h' },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'], default: 'info' } },
    },
  },
} as const;

/** Human wording for the patterns above, used in place of ajv's "must match pattern …". */
export const PATTERN_HINTS: Record<string, string> = {
  [DURATION_PATTERN]: 'must be a duration such as 30s, 15m, 2h or 30d',
  [SIZE_PATTERN]: 'must be a size such as 500MB, 20GB or 2TB',
};
