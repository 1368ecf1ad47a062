/**
 * The control socket's contract, imported by both the daemon and the CLI:
 * newline-delimited JSON, one request `{id, method, params, actor}` per line, one reply
 * envelope for every method, and a JSON Schema for every method's params.
 */
import type { ErrorCode, ErrorDetails } from './errors.js';
import type { AuditVerdict } from './store/audit.js';
import type { FsckReport } from './store/fsck.js';
import type { GapCause } from './store/segments.js';
import type { CameraState } from './pipeline/runtime.js';
import { PURPOSES, type Purpose } from './purposes.js';
import { LEGAL_BASES, type LegalBasis } from './evidence/bundle.js';
import { ROLES, type Role } from './evidence/policy.js';

export { LEGAL_BASES, type LegalBasis, ROLES, type Role };

export const MAX_REQUEST_BYTES = 1024 * 1024;
/** The longest request id that is echoed back. */
export const MAX_ID_LENGTH = 64;

export { CAMERA_STATES, type CameraState } from './pipeline/runtime.js';

/**
 * Who is asking: the account of the process at the other end of the socket, as the
 * kernel reports it (SO_PEERCRED) and libcamd names it. Never taken from the request.
 */
export interface Caller {
  user: string;
  uid: number;
  gid: number;
  pid: number;
}

export interface Request {
  id: string | number;
  method: string;
  params?: Record<string, unknown>;
  /**
   * Older clients sent who they said they were. It is accepted and ignored (logged when it
   * disagrees with the kernel): the audit trail records the kernel's account.
   */
  actor?: unknown;
}

export type ReplyId = string | number | null;

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details: ErrorDetails;
}

export type Reply =
  | { id: ReplyId; ok: true; result: unknown }
  | { id: ReplyId; ok: false; error: ErrorBody }
  | { id: ReplyId; progress: unknown };

export interface PauseInfo {
  reason: 'maintenance' | 'privacy';
  until: string;
  by: string;
  note: string | null;
}

export interface CameraStatus {
  name: string;
  state: CameraState;
  since: string;
  lastSegmentEnd: string | null;
  pause: PauseInfo | null;
  /** Why the camera is in `error`, `backoff` or `paused`; null otherwise. */
  reason: string | null;
  /** Every reason the camera is kept from recording now (a pause, a full disk), the one shown first. */
  suspensions: { kind: string; reason: string }[];
  /** RTSP cameras: how RTP comes now (tcp, or udp for a camera that refused tcp); null otherwise. */
  transport: 'tcp' | 'udp' | null;
  /** Live view tiles watching it now (its live branch is open while this is above 0). */
  liveViewers: number;
}

/** The Director notification outbox, as status shows it. */
export interface NotifyStatus {
  /** The Director's address; null when notify is not configured (notifications wait). */
  to: string | null;
  pending: number;
  delivered: number;
  lastError: string | null;
  lastErrorAt: string | null;
  lastDeliveredAt: string | null;
  nextAttempt: string | null;
}

export interface StatusResult {
  version: string;
  uptimeS: number;
  store: { path: string; bytes: number; freeBytes: number };
  cameras: CameraStatus[];
  notify: NotifyStatus;
  /** Incidents not released, and the bytes of their clips (held beside the segments, under no retention limit). */
  incidents: { open: number; collecting: number; clipBytes: number };
  /** The appliance's own key, which signs the audit trail: its fingerprint is what the board keeps on paper. */
  appliance: { fingerprint: string; publicKeyPem: string };
  /** libcamd's own use of the machine: what an appliance that runs for years is watched for (leaks). */
  process: { rssBytes: number; heapUsedBytes: number; externalBytes: number; openFiles: number; cpuSeconds: number };
}

export interface CameraListEntry {
  name: string;
  source: { kind: 'rtsp' | 'onvif' | 'test-pattern'; url: string };
  state: CameraState;
}

export { GAP_CAUSES, type GapCause } from './store/segments.js';

export interface RecordingsParams {
  camera: string;
  /** ISO 8601; the CLI resolves `now` and relative times before sending. */
  from: string;
  to: string;
}

export interface RecordingsResult {
  camera: string;
  from: string;
  to: string;
  /** Times ISO 8601 UTC; `file` is relative to the store. */
  segments: { start: string; end: string; bytes: number; sha256: string; prev: string | null; file: string }[];
  /** `end` is null while the gap is still open (the camera is not recording now). */
  gaps: { start: string; end: string | null; cause: GapCause }[];
  /** More than MAX_RECORDINGS segments matched: ask for a shorter range. */
  truncated: boolean;
}

/** The most segments one `recordings` reply carries (a day of 2 s segments). */
export const MAX_RECORDINGS = 50_000;

export interface PruneResult {
  deleted: { segments: number; bytes: number };
  /** Segments retention would have deleted but a hold keeps, or a reader is using now. */
  kept: { held: number; inUse: number };
  dryRun: boolean;
  byReason: { age: number; size: number; reserve: number };
  cameras: { camera: string; segments: number; bytes: number; from: string; to: string }[];
  /** SHA-256 over the deleted segments' ids and hashes: the prune receipt's fingerprint. */
  receiptSha256: string;
}

export interface ReceiptInfo {
  at: string;
  /** A prune killed before it finished: what it had deleted, reasons unknown. */
  interrupted: boolean;
  deleted: { segments: number; bytes: number };
  byReason: { age: number; size: number; reserve: number } | null;
  cameras: { camera: string; segments: number; bytes: number; from: string; to: string }[];
  sha256: string;
}

/** fsck's report has no times in it: the wire form is the store's own. */
export type { FsckProblem, FsckReport as FsckResult } from './store/fsck.js';

export interface HoldInfo {
  id: string;
  camera: string;
  from: string;
  to: string;
  reason: string;
  created: string;
}

export interface AuditEntryInfo {
  seq: number;
  at: string;
  actor: { user: string; uid: number | null; requestedBy?: string };
  action: string;
  purpose: string | null;
  subject: string | null;
  details: Record<string, unknown>;
  hash: string;
}

export type { AuditVerdict as AuditVerifyResult } from './store/audit.js';

/** An anchor as the Director's mails print it and `--anchor` takes it: `SEQ:HASH`. */
export const ANCHOR_PATTERN = '^#?[0-9]{1,15}:[0-9a-f]{64}$';

export interface PauseParams {
  camera?: string;
  all?: boolean;
  reason: 'maintenance' | 'privacy';
  /** A duration: 30s, 15m, 2h. */
  for: string;
  note?: string;
}

export interface PauseResult {
  /** `mode`: new, or how it changed a pause already in place (extended: same reason; replaced: other reason). */
  paused: { camera: string; reason: 'maintenance' | 'privacy'; until: string; mode: 'new' | 'extended' | 'replaced' }[];
}

export interface ResumeParams {
  camera?: string;
  all?: boolean;
}

export interface StillParams {
  camera: string;
  /** ISO 8601, or `now` for the live stream. */
  at: string;
  purpose: Purpose;
  requestedBy: string;
}

export interface StillResult {
  camera: string;
  /** When the frame was recorded, as near as the frame rate tells. */
  at: string;
  requested: string;
  live: boolean;
  width: number;
  height: number;
  /** The JPEG, base64. */
  jpeg: string;
  sha256: string;
  /** The segment the frame comes from (recorded stills). */
  segment: { start: string; end: string; sha256: string } | null;
  auditSeq: number;
  /** The Director notification queued for this access (recorded stills). */
  notification: string | null;
}

/** An incident as the socket shows it: times ISO 8601 UTC. */
export interface IncidentInfo {
  id: string;
  created: string;
  cameras: string[];
  from: string;
  to: string;
  purpose: Purpose;
  requestedBy: string;
  /** The account that opened it, as the kernel reported it. */
  account: { user: string; uid: number | null };
  note: string | null;
  patrons: string[];
  /** collecting (live footage, until `to`), cutting, open, released. */
  state: 'collecting' | 'cutting' | 'open' | 'released';
  /** Whether its footage is held now. */
  held: boolean;
  refused: { camera: string; reason: string }[];
  /** Recorded gaps with their cause, and `pruned` / `not-recorded` spans that had no footage and no gap. */
  gaps: { camera: string; start: string; end: string | null; cause: GapCause | 'pruned' | 'not-recorded' }[];
  clips: { camera: string; path: string; start: string; end: string; bytes: number; sha256: string; earlierMs: number; segments: number }[];
  released: { at: string; by: string; requestedBy: string | null; note: string } | null;
}

/** An incident in `incidents list`: no note, no patron ids (they are shown, and audited, by `show`). */
export interface IncidentSummary {
  id: string;
  created: string;
  purpose: Purpose;
  cameras: string[];
  from: string;
  to: string;
  state: IncidentInfo['state'];
  held: boolean;
  clips: number;
}

/** The longest range an incident or a hold may cover, and how far past now it may reach. */
export const MAX_HOLD_RANGE_MS = 31 * 86_400_000;
export const MAX_HOLD_AHEAD_MS = 86_400_000;

export interface IsolateParams {
  cameras: string[];
  /** ISO 8601; the CLI resolves now, relative times and --for. */
  from: string;
  to: string;
  purpose: Purpose;
  requestedBy: string;
  note?: string;
  patrons?: string[];
}

/** A patron record id (policy §5): a short identifier, never free text. */
export const PATRON_PATTERN = '^[A-Za-z0-9][A-Za-z0-9-]{0,31}$';

export interface DoctorCheck {
  name: string;
  ok: boolean;
  /** What was found, and when not ok, what to do. */
  detail: string;
}

export interface DoctorResult {
  ok: boolean;
  checks: DoctorCheck[];
}

/** An enrolled approver (policy §3). `keyId` is the key's fingerprint: SHA256: and the hex of its DER. */
export interface ApproverInfo {
  role: Role;
  name: string;
  keyId: string;
  /** box: the private key is sealed here with the approver's passphrase; own: it is on their own computer. */
  custody: 'box' | 'own';
  publicKeyPem: string;
  enrolled: string;
  revoked: string | null;
  /** Set while three wrong passphrases keep the key locked. */
  lockedUntil: string | null;
  /** The two approvers whose approval allowed this enrolment; empty for the first ones of a new box. */
  approvedBy: { role: Role; keyId: string }[];
}

/** An approval given with a passphrase, for a change to the approvers. */
export interface PassphraseGiven {
  role: Role;
  /** Where several approvers hold the role: which key (a unique prefix will do). */
  keyId?: string;
  passphrase: string;
}

export interface ApproversEnrollParams {
  role: Role;
  name: string;
  /** The new key's passphrase (made here), or the public half of a key the approver made. */
  passphrase?: string;
  publicKeyPem?: string;
  /** Needed once the enrolled approvers form an allowed pair: two of them, forming one. */
  approvals?: PassphraseGiven[];
}

export interface ExportRequestParams {
  incident: string;
  approvers: { role: Role; keyId?: string }[];
  legalBasis: LegalBasis;
  reference: string;
  officer?: string;
  badge?: string;
  agency?: string;
}

/** An export, pending its approvals or approved. */
/** A staff account of the live view (never its password or hash). */
export interface StaffInfo {
  user: string;
  created: string;
  lastLogin: string | null;
}

export interface ExportInfo {
  request: string;
  incident: string;
  state: 'pending' | 'approved';
  created: string;
  /** A pending request's approvals must all be in by then. */
  expires: string;
  manifestSha256: string;
  legalBasis: { basis: LegalBasis; reference: string; officer: string | null; badge: string | null; agency: string | null };
  approvers: { role: Role; name: string; keyId: string; custody: 'box' | 'own' }[];
  approvals: { role: Role; name: string; keyId: string; at: string; account: string }[];
  /** The exact manifest text the approvers sign (export.request, export.show). */
  manifest?: string;
}

export interface ExportApproveParams {
  request: string;
  role: Role;
  keyId?: string;
  /** One of: the approver's passphrase (their key is sealed here), or their signature made elsewhere, base64. */
  passphrase?: string;
  signature?: string;
}

export interface ExportCompleteResult {
  request: string;
  manifestSha256: string;
  /**
   * Every file of the bundle, to fetch one by one (export.fetch) within the hour. `stored`:
   * a file of the store (a segment, a clip), which export.fetch can pass as a descriptor.
   */
  files: { path: string; bytes: number; sha256: string; stored: boolean }[];
}

/**
 * The one reply that is not only JSON: an `ok` line whose result is this header, then
 * exactly `bytes` raw bytes of the file, after which libcamd closes the connection. Or, for
 * a stored file asked with `descriptor: true`, the line alone with a read-only descriptor of
 * the file attached to it (SCM_RIGHTS): the client copies it in the kernel.
 */
export interface FetchHeader {
  path: string;
  bytes: number;
  descriptor?: true;
}

/** Every method: its params and its result. */
export interface Methods {
  status: { params: Record<string, never>; result: StatusResult };
  'cameras.list': { params: Record<string, never>; result: CameraListEntry[] };
  recordings: { params: RecordingsParams; result: RecordingsResult };
  prune: { params: { dryRun: boolean }; result: PruneResult };
  fsck: { params: { repair: boolean; deep: boolean }; result: FsckReport };
  'prune.receipts': { params: { since?: string }; result: ReceiptInfo[] };
  'audit.list': { params: { since?: string; action?: string }; result: AuditEntryInfo[] };
  'audit.verify': { params: { anchors?: string[] }; result: AuditVerdict };
  pause: { params: PauseParams; result: PauseResult };
  resume: { params: ResumeParams; result: { resumed: string[] } };
  'holds.list': { params: Record<string, never>; result: HoldInfo[] };
  'holds.place': { params: { camera: string; from: string; to: string; reason: string }; result: HoldInfo };
  'holds.release': { params: { id: string }; result: { released: string } };
  still: { params: StillParams; result: StillResult };
  doctor: { params: Record<string, never>; result: DoctorResult };
  isolate: { params: IsolateParams; result: { incident: IncidentInfo } };
  'incidents.list': { params: { all?: boolean }; result: IncidentSummary[] };
  'incidents.show': { params: { id: string }; result: IncidentInfo };
  'incidents.release': { params: { id: string; requestedBy: string; note: string }; result: IncidentInfo };
  'approvers.list': { params: Record<string, never>; result: ApproverInfo[] };
  'approvers.enroll': { params: ApproversEnrollParams; result: ApproverInfo };
  'approvers.revoke': { params: { keyId: string; approvals?: PassphraseGiven[] }; result: ApproverInfo };
  'export.request': { params: ExportRequestParams; result: ExportInfo };
  'export.show': { params: { request: string }; result: ExportInfo };
  'export.approve': { params: ExportApproveParams; result: ExportInfo };
  'export.complete': { params: { request: string }; result: ExportCompleteResult };
  'export.fetch': { params: { request: string; path: string; descriptor?: boolean }; result: FetchHeader };
  'export.delivered': { params: { request: string; dir: string; files: number; bytes: number }; result: { auditSeq: number } };
  'staff.list': { params: Record<string, never>; result: StaffInfo[] };
  'staff.add': { params: { user: string; password: string }; result: StaffInfo };
  'staff.passwd': { params: { user: string; password: string }; result: StaffInfo };
  'staff.remove': { params: { user: string }; result: StaffInfo };
}

export type MethodName = keyof Methods;

const noParams = { type: 'object', additionalProperties: false, properties: {} } as const;

/** Params schemas, all with `additionalProperties: false`. */
const isoTime = { type: 'string', minLength: 1, maxLength: 40 } as const;
/**
 * Free text a person types (notes, reasons, names): no control characters (\p{Cc}: tabs,
 * newlines, escape sequences) and no invisible formatting (\p{Cf}: right-to-left override,
 * zero-width space; \p{Zl}, \p{Zp}: line and paragraph separators), which would forge
 * lines or reorder text in logs, mails and tables.
 */
export const NO_CONTROL_CHARACTERS = '^[^\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}]*$';
/** The same, and not blank. */
export const NOT_BLANK_TEXT = '^(?=[^\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}]*\\S)[^\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}]*$';
const freeText = (maxLength: number) => ({ type: 'string', maxLength, pattern: NO_CONTROL_CHARACTERS }) as const;
const incidentId = { type: 'string', pattern: '^INC-[0-9]{8}-[0-9]{3,}$' } as const;
const EXPORT_ID = '^EXP-[0-9]{8}-[0-9]{3,}$';
const KEY_ID = '^(SHA256:)?[0-9a-f]{8,64}$';
const BASE64 = '^[A-Za-z0-9+/]*={0,2}$';
const exportId = { type: 'string', pattern: EXPORT_ID } as const;
const keyId = { type: 'string', pattern: KEY_ID } as const;
const role = { enum: ROLES } as const;
/** Never logged, never stored: it opens an approver's key and is forgotten. */
const passphrase = { type: 'string', minLength: 1, maxLength: 1024 } as const;
/** A staff account's name (src/web/staff.ts STAFF_USER). */
const staffUser = { type: 'string', minLength: 1, maxLength: 32, pattern: '^[a-z][a-z0-9._-]{0,31}$' } as const;
const passphrasesGiven = {
  type: 'array',
  maxItems: 2,
  items: { type: 'object', additionalProperties: false, required: ['role', 'passphrase'], properties: { role, keyId, passphrase } },
} as const;
/** A name on a bundle, a receipt and a mail: one line of text. */
const name = { type: 'string', minLength: 1, maxLength: 200, pattern: NOT_BLANK_TEXT } as const;
/** Wording for the patterns above, in place of ajv's "must match pattern ...". */
export const PARAM_PATTERN_HINTS: Record<string, string> = {
  [NO_CONTROL_CHARACTERS]: 'must not contain control characters (newlines, tabs, escapes) or invisible formatting (line separators, direction overrides)',
  [NOT_BLANK_TEXT]: 'must not be blank or contain control characters (newlines, tabs, escapes) or invisible formatting (line separators, direction overrides)',
  [PATRON_PATTERN]: 'must be a patron record id: letters, digits and dashes, at most 32 (never free text)',
  '^INC-[0-9]{8}-[0-9]{3,}$': 'must be an incident id such as INC-20261128-001',
  [EXPORT_ID]: 'must be an export request id such as EXP-20261128-001',
  [KEY_ID]: 'must be a key fingerprint as libcam approvers list shows it (SHA256:hex, or at least 8 of its first hex digits)',
  [BASE64]: 'must be base64',
};
/** The person who asked for an access (policy §3): a name, stored with the OS account. */
const requestedBy = { type: 'string', minLength: 1, maxLength: 200, pattern: NOT_BLANK_TEXT } as const;

export const PARAM_SCHEMAS: { [M in MethodName]: object } = {
  status: noParams,
  doctor: noParams,
  isolate: {
    type: 'object',
    additionalProperties: false,
    required: ['cameras', 'from', 'to', 'purpose', 'requestedBy'],
    properties: {
      cameras: { type: 'array', minItems: 1, maxItems: 64, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 64 } },
      from: isoTime,
      to: isoTime,
      purpose: { enum: PURPOSES },
      requestedBy,
      note: freeText(1000),
      patrons: { type: 'array', maxItems: 50, uniqueItems: true, items: { type: 'string', pattern: PATRON_PATTERN } },
    },
  },
  'incidents.list': { type: 'object', additionalProperties: false, properties: { all: { type: 'boolean' } } },
  'incidents.show': { type: 'object', additionalProperties: false, required: ['id'], properties: { id: incidentId } },
  'incidents.release': {
    type: 'object',
    additionalProperties: false,
    required: ['id', 'requestedBy', 'note'],
    properties: { id: incidentId, requestedBy, note: { ...freeText(1000), minLength: 1, pattern: NOT_BLANK_TEXT } },
  },
  'approvers.list': noParams,
  'approvers.enroll': {
    type: 'object',
    additionalProperties: false,
    required: ['role', 'name'],
    properties: { role, name, passphrase, publicKeyPem: { type: 'string', minLength: 1, maxLength: 8192 }, approvals: passphrasesGiven },
  },
  'approvers.revoke': { type: 'object', additionalProperties: false, required: ['keyId'], properties: { keyId, approvals: passphrasesGiven } },
  'export.request': {
    type: 'object',
    additionalProperties: false,
    required: ['incident', 'approvers', 'legalBasis', 'reference'],
    properties: {
      incident: incidentId,
      approvers: { type: 'array', maxItems: 8, items: { type: 'object', additionalProperties: false, required: ['role'], properties: { role, keyId } } },
      legalBasis: { enum: LEGAL_BASES },
      reference: { ...name, maxLength: 200 },
      officer: name,
      badge: { ...name, maxLength: 64 },
      agency: name,
    },
  },
  'export.show': { type: 'object', additionalProperties: false, required: ['request'], properties: { request: exportId } },
  'export.approve': {
    type: 'object',
    additionalProperties: false,
    required: ['request', 'role'],
    properties: { request: exportId, role, keyId, passphrase, signature: { type: 'string', minLength: 1, maxLength: 200, pattern: BASE64 } },
  },
  'export.complete': { type: 'object', additionalProperties: false, required: ['request'], properties: { request: exportId } },
  'export.fetch': {
    type: 'object',
    additionalProperties: false,
    required: ['request', 'path'],
    properties: { request: exportId, path: { type: 'string', minLength: 1, maxLength: 300 }, descriptor: { type: 'boolean' } },
  },
  'staff.list': noParams,
  'staff.add': { type: 'object', additionalProperties: false, required: ['user', 'password'], properties: { user: staffUser, password: passphrase } },
  'staff.passwd': { type: 'object', additionalProperties: false, required: ['user', 'password'], properties: { user: staffUser, password: passphrase } },
  'staff.remove': { type: 'object', additionalProperties: false, required: ['user'], properties: { user: staffUser } },
  'export.delivered': {
    type: 'object',
    additionalProperties: false,
    required: ['request', 'dir', 'files', 'bytes'],
    properties: { request: exportId, dir: { ...freeText(4096), minLength: 1 }, files: { type: 'integer', minimum: 0 }, bytes: { type: 'integer', minimum: 0 } },
  },
  'cameras.list': noParams,
  recordings: {
    type: 'object',
    additionalProperties: false,
    required: ['camera', 'from', 'to'],
    properties: { camera: { type: 'string', minLength: 1, maxLength: 64 }, from: isoTime, to: isoTime },
  },
  prune: { type: 'object', additionalProperties: false, properties: { dryRun: { type: 'boolean', default: false } } },
  'prune.receipts': { type: 'object', additionalProperties: false, properties: { since: isoTime } },
  'audit.list': {
    type: 'object',
    additionalProperties: false,
    properties: { since: isoTime, action: { type: 'string', minLength: 1, maxLength: 64 } },
  },
  'audit.verify': {
    type: 'object',
    additionalProperties: false,
    properties: { anchors: { type: 'array', maxItems: 1000, items: { type: 'string', pattern: ANCHOR_PATTERN } } },
  },
  pause: {
    type: 'object',
    additionalProperties: false,
    required: ['reason', 'for'],
    properties: {
      camera: { type: 'string', minLength: 1, maxLength: 64 },
      all: { type: 'boolean' },
      reason: { enum: ['maintenance', 'privacy'] },
      for: { type: 'string', minLength: 1, maxLength: 32 },
      note: freeText(500),
    },
  },
  resume: {
    type: 'object',
    additionalProperties: false,
    properties: { camera: { type: 'string', minLength: 1, maxLength: 64 }, all: { type: 'boolean' } },
  },
  'holds.list': noParams,
  'holds.place': {
    type: 'object',
    additionalProperties: false,
    required: ['camera', 'from', 'to', 'reason'],
    properties: { camera: { type: 'string', minLength: 1, maxLength: 64 }, from: isoTime, to: isoTime, reason: { ...freeText(500), minLength: 1, pattern: NOT_BLANK_TEXT } },
  },
  'holds.release': {
    type: 'object',
    additionalProperties: false,
    required: ['id'],
    properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
  },
  fsck: {
    type: 'object',
    additionalProperties: false,
    properties: { repair: { type: 'boolean', default: false }, deep: { type: 'boolean', default: false } },
  },
  still: {
    type: 'object',
    additionalProperties: false,
    required: ['camera', 'at', 'purpose', 'requestedBy'],
    properties: {
      camera: { type: 'string', minLength: 1, maxLength: 64 },
      at: isoTime,
      purpose: { enum: PURPOSES },
      requestedBy: requestedBy,
    },
  },
};

export const METHOD_NAMES = Object.keys(PARAM_SCHEMAS);

export function isMethodName(name: string): name is MethodName {
  return Object.prototype.hasOwnProperty.call(PARAM_SCHEMAS, name);
}

/** The envelope every request line must match before its params are looked at. */
export const REQUEST_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'method'],
  properties: {
    // Echoed in the reply as sent: a short string, or an integer JSON keeps exactly.
    id: {
      anyOf: [
        { type: 'string', maxLength: MAX_ID_LENGTH },
        { type: 'integer', minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER },
      ],
    },
    method: { type: 'string', minLength: 1, maxLength: 64 },
    params: { type: 'object' },
    actor: {},
  },
} as const;
