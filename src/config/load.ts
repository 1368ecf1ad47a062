import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parseDocument } from 'yaml';
import { isPair } from '../evidence/policy.js';
import { LibcamError, errnoOf } from '../errors.js';
import { urlHasSecret } from '../log.js';
import { aclExposure, credentialsExposure } from '../pipeline/credentials.js';
import { allowProblems } from './allow.js';
import { configSchema, PATTERN_HINTS } from './schema.js';
import type { Config, ConfigFile } from './types.js';
import { parseDuration, parseSize } from './units.js';

export interface ConfigProblem {
  path: string;
  message: string;
}

// ajv-formats is CommonJS with a default export that NodeNext sees as the module object.
const addFormats = addFormatsModule.default;
const ajv = new Ajv({ allErrors: true, useDefaults: true, discriminator: true, strict: true });
addFormats(ajv, ['email']);
const validateConfig = ajv.compile<ConfigFile>(configSchema);

/** `/cameras/1/name` → `cameras[1].name`; the root is `(root)`. */
export function jsonPointerToPath(pointer: string, child?: string): string {
  const parts = pointer.split('/').slice(1);
  if (child !== undefined) parts.push(child);
  let out = '';
  for (const raw of parts) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^[0-9]+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  }
  return out === '' ? '(root)' : out;
}

function describe(error: ErrorObject): ConfigProblem {
  const at = error.instancePath;
  const params: Record<string, unknown> = error.params;
  switch (error.keyword) {
    case 'required':
      return { path: jsonPointerToPath(at, String(params['missingProperty'])), message: 'is required' };
    case 'additionalProperties':
      return { path: jsonPointerToPath(at, String(params['additionalProperty'])), message: 'is not a known key' };
    case 'pattern': {
      const pattern = String(params['pattern']);
      return { path: jsonPointerToPath(at), message: PATTERN_HINTS[pattern] ?? `must match ${pattern}` };
    }
    case 'discriminator':
      return { path: jsonPointerToPath(at, 'kind'), message: 'must be one of rtsp, onvif, test-pattern' };
    case 'enum': {
      const allowed = params['allowedValues'];
      return { path: jsonPointerToPath(at), message: `must be one of ${Array.isArray(allowed) ? allowed.join(', ') : '?'}` };
    }
    default:
      return { path: jsonPointerToPath(at), message: error.message ?? error.keyword };
  }
}

function uniqueNames(cameras: ConfigFile['cameras']): ConfigProblem[] {
  const seen = new Map<string, number>();
  const problems: ConfigProblem[] = [];
  cameras.forEach((camera, i) => {
    const first = seen.get(camera.name);
    if (first !== undefined) {
      problems.push({ path: `cameras[${i}].name`, message: `"${camera.name}" is already the name of cameras[${first}]` });
    } else {
      seen.set(camera.name, i);
    }
  });
  return problems;
}

/** The schema's patterns guarantee these parse; a value that somehow does not is a bug, said plainly. */
function must(value: number | undefined, what: string): number {
  if (value === undefined) throw new LibcamError('internal', `${what} passed the schema but does not parse`);
  return value;
}

/** Durations and sizes, parsed once here into milliseconds and bytes. */
function resolveUnits(file: ConfigFile): Config {
  const { retention, pause, cameras, notify, web, ...rest } = file;
  const config: Config = {
    ...rest,
    retention: {
      maxAgeMs: must(parseDuration(retention.maxAge), 'retention.maxAge'),
      minFreeBytes: must(parseSize(retention.minFreeBytes), 'retention.minFreeBytes'),
      ...(retention.maxBytes === undefined ? {} : { maxBytes: must(parseSize(retention.maxBytes), 'retention.maxBytes') }),
    },
    pause: { maxDurationMs: must(parseDuration(pause.maxDuration), 'pause.maxDuration') },
    cameras: cameras.map(({ retention: own, ...camera }, i) =>
      own?.maxAge === undefined ? camera : { ...camera, maxAgeMs: must(parseDuration(own.maxAge), `cameras[${i}].retention.maxAge`) },
    ),
  };
  if (notify) {
    const { retry, ...n } = notify;
    config.notify = { ...n, retry: { firstMs: must(parseDuration(retry.first), 'notify.retry.first'), maxMs: must(parseDuration(retry.max), 'notify.retry.max') } };
  }
  if (web) {
    const { sessionIdle, sessionMax, ...w } = web;
    config.web = { ...w, sessionIdleMs: must(parseDuration(sessionIdle), 'web.sessionIdle'), sessionMaxMs: must(parseDuration(sessionMax), 'web.sessionMax') };
  }
  return config;
}

function resolvePaths(config: Config, base: string): void {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  config.store.path = abs(config.store.path);
  config.index.path = abs(config.index.path);
  config.keys.path = abs(config.keys.path);
  config.socket.path = abs(config.socket.path);
  for (const camera of config.cameras) {
    if (camera.source.kind !== 'test-pattern' && camera.source.credentialsFile !== undefined) {
      camera.source.credentialsFile = abs(camera.source.credentialsFile);
    }
  }
  if (config.web) {
    config.web.tls.cert = abs(config.web.tls.cert);
    config.web.tls.key = abs(config.web.tls.key);
  }
}

/** The account libcamd runs as: this process (libcamd itself), or, for `libcam config check`, the libcam user. */
export interface DaemonAccount {
  uid: number;
  gid: number;
}

/**
 * Checks that need the filesystem: credentials files exist, are readable, and by nobody
 * but root and libcamd's account `me` (checked again on every read): mode, owner, group
 * and access control list. Their contents are never put into a message.
 */
export function checkFiles(config: Config, me: DaemonAccount = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  config.cameras.forEach((camera, i) => {
    if (camera.source.kind === 'test-pattern' || camera.source.credentialsFile === undefined) return;
    const file = camera.source.credentialsFile;
    const at = `cameras[${i}].source.credentialsFile`;
    let fd: number | undefined;
    try {
      fd = openSync(file, 'r');
      const exposure = aclExposure(file, fd) ?? credentialsExposure(file, fstatSync(fd), me);
      if (exposure) {
        problems.push({ path: at, message: exposure });
        return;
      }
      const line = readFileSync(fd, 'utf8').split('\n')[0] ?? '';
      if (!line.includes(':')) problems.push({ path: at, message: `${file} must hold user:password on its first line` });
    } catch (err) {
      problems.push({ path: at, message: `${file} cannot be read (${errnoOf(err) ?? String(err)})` });
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  });
  return problems;
}

/**
 * Camera URLs that carry a password: it belongs in a credentialsFile, where only libcamd
 * reads it. Checked on the text, not only after parsing: a URL that does not parse is still
 * handed to the camera, password and all.
 */
function passwordsInUrls(config: ConfigFile): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  config.cameras.forEach((camera, i) => {
    if (camera.source.kind === 'test-pattern' || !urlHasSecret(camera.source.url)) return;
    problems.push({
      path: `cameras[${i}].source.url`,
      message: 'holds a password (as user:password@ or a password parameter); put user:password in a credentialsFile (one line, readable by libcamd only) and take it out of the URL',
    });
  });
  return problems;
}

/** export.approvalPairs may only name the policy's own pairs (§3): two roles, one of them the President. */
function policyPairs(config: ConfigFile): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  config.export.approvalPairs.forEach(([a, b], i) => {
    if (!isPair(a, b)) {
      problems.push({
        path: `export.approvalPairs[${i}]`,
        message: `${a} with ${b} is not a pair the camera policy allows (§3: director with president, or assistant with president)`,
      });
    }
  });
  return problems;
}

export interface ParsedConfig {
  config?: Config;
  problems: ConfigProblem[];
}

/** Parses and validates YAML text; relative paths are taken from `baseDir`. */
export function parseConfig(text: string, baseDir: string): ParsedConfig {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((e) => ({
        path: e.linePos ? `line ${e.linePos[0].line}` : '(root)',
        message: e.message.split('\n')[0] ?? e.message,
      })),
    };
  }
  const data: unknown = doc.toJS() ?? {};
  if (!validateConfig(data)) {
    const seen = new Set<string>();
    const problems = (validateConfig.errors ?? []).map(describe).filter((p) => {
      const key = `${p.path}: ${p.message}`;
      return seen.has(key) ? false : (seen.add(key), true);
    });
    return { problems };
  }
  const problems = [
    ...uniqueNames(data.cameras),
    ...passwordsInUrls(data),
    ...policyPairs(data),
    ...allowProblems(data.web?.allow ?? []).map((p) => ({ path: `web.allow[${p.index}]`, message: p.message })),
  ];
  if (problems.length > 0) return { problems };
  const config = resolveUnits(data);
  resolvePaths(config, baseDir);
  return { config, problems: [] };
}

/** Reads and validates a configuration file; the files it names are not looked at. */
export function readConfigFile(file: string): ParsedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { problems: [{ path: file, message: `cannot be read (${errnoOf(err) ?? String(err)})` }] };
  }
  return parseConfig(text, dirname(resolve(file)));
}

/** For the daemon: the configuration with every file it names usable, or a LibcamError listing every problem. */
export function loadConfig(file: string): Config {
  const parsed = readConfigFile(file);
  const config = parsed.config;
  const problems = config ? checkFiles(config) : parsed.problems;
  if (!config || problems.length > 0) {
    const lines = problems.map((p) => `  ${p.path}: ${p.message}`).join('\n');
    throw new LibcamError('invalid-config', `configuration ${file} is invalid:\n${lines}`, { file, problems });
  }
  return config;
}
