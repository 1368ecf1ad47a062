import { createHash, createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { readdir, readFile as fsReadFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { canonicalJson, entryHash } from '../store/audit.js';
import { hashFile } from '../store/fileHash.js';
import { fingerprintOf } from './applianceKey.js';
import { POLICY_PAIRS, isPair } from './policy.js';
import { APPROVALS_FILE, APPROVALS_FORMAT, APPROVALS_SIGNATURE, BUNDLE_FORMAT, REQUEST_MS, type ApprovalsRecord, type Manifest } from './bundle.js';

export interface BundleVerdict {
  valid: boolean;
  problems: string[];
  approvers: { role: string; name: string; keyId: string; ok: boolean; approvedAt: string | null }[];
  manifestSha256: string | null;
  /** The fingerprint of the appliance the manifest names (compare it with the board's paper). */
  appliance: string | null;
  /** The export and its incident, as the manifest names them. */
  request: string | null;
  incident: string | null;
}

/**
 * Every regular file under `dir`, relative to it; anything else — a symbolic link (which
 * could point outside the bundle), a device, a FIFO — is a problem, not read.
 */
async function filesUnder(dir: string, problems: string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (at: string): Promise<void> => {
    for (const e of await readdir(at, { withFileTypes: true })) {
      const path = join(at, e.name);
      if (e.isDirectory()) await walk(path);
      else if (e.isFile()) out.push(relative(dir, path));
      else problems.push(`${relative(dir, path)} is ${e.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}: a bundle holds only its own files`);
    }
  };
  await walk(dir);
  return out.sort();
}

async function sha256File(path: string): Promise<string> {
  return (await hashFile(path)).sha256;
}

function isManifest(v: unknown): v is Manifest {
  if (typeof v !== 'object' || v === null) return false;
  const get = (k: string): unknown => Reflect.get(v, k);
  return get('format') === BUNDLE_FORMAT && Array.isArray(get('files')) && Array.isArray(get('approvers')) && Array.isArray(get('clips')) && typeof get('appliance') === 'object';
}

function isApprovals(v: unknown): v is ApprovalsRecord {
  if (typeof v !== 'object' || v === null) return false;
  const approvals: unknown = Reflect.get(v, 'approvals');
  return (
    Reflect.get(v, 'format') === APPROVALS_FORMAT &&
    typeof Reflect.get(v, 'manifestSha256') === 'string' &&
    Array.isArray(approvals) &&
    approvals.every((a: unknown) => typeof a === 'object' && a !== null && ['role', 'fingerprint', 'approvedAt'].every((k) => typeof Reflect.get(a, k) === 'string'))
  );
}

/** A path from the manifest must stay inside the bundle. */
const safePath = (p: string): boolean => !p.startsWith('/') && !p.split('/').includes('..') && p.length > 0;

/**
 * Checks a bundle offline, with no daemon (`libcam verify DIR`): every file's size and
 * SHA-256, nothing missing and nothing extra, SHA256SUMS, both approvers' signatures and
 * the appliance's over the exact bytes of manifest.json, the keys against the fingerprints
 * in the manifest, the approval rule of policy §3 (two keys, two roles, an allowed pair),
 * the clips' segments and their chain links, and the audit excerpt's signatures. Lists
 * every problem found.
 */
export interface VerifyOptions {
  /** The appliance the bundle must come from (its key's fingerprint). */
  appliance?: string | undefined;
  /** The approvers' keys the board keeps on paper: every approver's key must be one of them. */
  approverKeys?: readonly string[] | undefined;
}

export async function verifyBundle(dir: string, opts: VerifyOptions = {}): Promise<BundleVerdict> {
  try {
    return await check(dir, opts);
  } catch (err) {
    // Whatever a changed bundle makes fail (a field of the wrong type, a key of another kind,
    // a file that vanished while read) makes it invalid, never valid.
    const why = err instanceof Error ? err.message : String(err);
    return { valid: false, problems: [`the bundle could not be checked (${why}): changed or damaged`], approvers: [], manifestSha256: null, appliance: null, request: null, incident: null };
  }
}

async function check(dir: string, opts: VerifyOptions): Promise<BundleVerdict> {
  const problems: string[] = [];
  const approvers: BundleVerdict['approvers'] = [];
  // Only the bundle's regular files are read: a link or a FIFO in their place is a problem, never followed.
  const present = await filesUnder(dir, problems);
  const presentSet = new Set(present);
  const readFile = async (path: string): Promise<Buffer> => {
    if (!presentSet.has(path)) throw Object.assign(new Error(`${path}: no such regular file in the bundle`), { code: 'ENOENT' });
    return fsReadFile(join(dir, path));
  };
  let text: Buffer;
  try {
    text = await readFile('manifest.json');
  } catch {
    return { valid: false, problems: [...problems, `${join(dir, 'manifest.json')} cannot be read: not an export bundle, or its manifest is missing`], approvers, manifestSha256: null, appliance: null, request: null, incident: null };
  }
  const manifestSha256 = createHash('sha256').update(text).digest('hex');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.toString('utf8'));
  } catch {
    return { valid: false, problems: [...problems, 'manifest.json is not JSON: changed'], approvers, manifestSha256, appliance: null, request: null, incident: null };
  }
  if (!isManifest(parsed)) return { valid: false, problems: [...problems, `manifest.json is not a ${BUNDLE_FORMAT} manifest`], approvers, manifestSha256, appliance: null, request: null, incident: null };
  const m = parsed;
  if (canonicalJson(m) !== text.toString('utf8')) problems.push('manifest.json is not in the canonical form it was signed in: changed');

  // Signatures and keys.
  const checkKey = async (who: string, keyPath: string, fingerprint: string, sigPath: string): Promise<boolean> => {
    if (!safePath(keyPath) || !safePath(sigPath)) {
      problems.push(`${who}: the manifest names a key or signature outside the bundle`);
      return false;
    }
    let key: KeyObject;
    try {
      key = createPublicKey(await readFile(keyPath));
    } catch {
      problems.push(`${keyPath} (${who}) is missing or not a public key`);
      return false;
    }
    if (key.asymmetricKeyType !== 'ed25519') {
      problems.push(`${keyPath} (${who}) is an ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519`);
      return false;
    }
    if (fingerprintOf(key) !== fingerprint) {
      problems.push(`${keyPath} is not the ${who}'s key: its fingerprint is ${fingerprintOf(key)}, the manifest says ${fingerprint}`);
      return false;
    }
    let signature: Buffer;
    try {
      signature = await readFile(sigPath);
    } catch {
      problems.push(`${sigPath} (${who}) is missing`);
      return false;
    }
    if (!verifySignature(null, text, key, signature)) {
      problems.push(`${sigPath}: the ${who}'s signature does not verify over manifest.json: the manifest or the signature was changed`);
      return false;
    }
    return true;
  };
  for (const a of m.approvers) {
    const ok = await checkKey(`${a.role} (${a.name})`, a.key, a.fingerprint, a.signature);
    approvers.push({ role: a.role, name: a.name, keyId: a.fingerprint, ok, approvedAt: null });
  }
  const applianceOk = await checkKey('appliance', m.appliance.key, m.appliance.fingerprint, 'signatures/appliance.sig');
  const applianceKey = applianceOk ? createPublicKey(await readFile(m.appliance.key)) : undefined;
  if (opts.appliance !== undefined && opts.appliance !== m.appliance.fingerprint) {
    problems.push(`the bundle was made by the appliance ${m.appliance.fingerprint}, not ${opts.appliance}`);
  }

  // When each approved: approvals.json, signed by the appliance, naming this manifest.
  const approvedAt = new Map<string, string>();
  try {
    const bytes = await readFile(APPROVALS_FILE);
    const record: unknown = JSON.parse(bytes.toString('utf8'));
    if (!isApprovals(record)) problems.push(`${APPROVALS_FILE} is not a ${APPROVALS_FORMAT} record: changed`);
    else {
      if (record.manifestSha256 !== manifestSha256) problems.push(`${APPROVALS_FILE} names another manifest (sha256 ${record.manifestSha256})`);
      const created = Date.parse(m.created);
      for (const a of m.approvers) {
        const given = record.approvals.find((x) => x.role === a.role && x.fingerprint === a.fingerprint);
        const at = given ? Date.parse(given.approvedAt) : NaN;
        if (!given) problems.push(`${APPROVALS_FILE} has no approval by the ${a.role} (${a.fingerprint})`);
        else if (!(at >= created && at <= created + REQUEST_MS)) problems.push(`${APPROVALS_FILE}: the ${a.role}'s approval at ${given.approvedAt} is outside the request's 72 hours from ${m.created}`);
        else approvedAt.set(a.fingerprint, given.approvedAt);
      }
    }
    let sig: Buffer | undefined;
    try {
      sig = await readFile(APPROVALS_SIGNATURE);
    } catch {
      problems.push(`${APPROVALS_SIGNATURE} (the appliance's, over ${APPROVALS_FILE}) is missing`);
    }
    if (sig && applianceKey && !verifySignature(null, bytes, applianceKey, sig)) {
      problems.push(`${APPROVALS_SIGNATURE}: the appliance's signature does not verify over ${APPROVALS_FILE}: one of them was changed`);
    }
  } catch (err) {
    problems.push(err instanceof SyntaxError ? `${APPROVALS_FILE} is not JSON: changed` : `${APPROVALS_FILE} is missing`);
  }
  for (const a of approvers) a.approvedAt = approvedAt.get(a.keyId) ?? null;

  const known = opts.approverKeys;
  if (known !== undefined && known.length > 0) {
    for (const a of m.approvers) if (!known.includes(a.fingerprint)) problems.push(`the ${a.role}'s key ${a.fingerprint} is none of the approver keys given (--approver-key)`);
  }

  // The approval rule of policy §3, whatever the manifest says its pairs were.
  const [first, second, ...more] = m.approvers;
  if (!first || !second || more.length > 0) problems.push(`${m.approvers.length} approvers: exactly two are needed (policy §3)`);
  else {
    if (first.fingerprint === second.fingerprint) problems.push('both approvals are by the same key');
    if ([first, second].some((a) => a.fingerprint === m.appliance.fingerprint)) problems.push("an approver's key is the appliance's own key");
    if (!isPair(first.role, second.role, POLICY_PAIRS)) problems.push(`${first.role} with ${second.role} is not an allowed pair (policy §3: director with president, or assistant with president)`);
  }

  // Every file, nothing missing, nothing extra.
  const listed = new Map(m.files.map((f) => [f.path, f]));
  // Files outside the manifest: the signatures over it, and the appliance-signed record of the approvals.
  const signatures = new Set([...m.approvers.map((a) => a.signature), 'signatures/appliance.sig', APPROVALS_FILE, APPROVALS_SIGNATURE]);
  for (const path of present) {
    if (!listed.has(path) && path !== 'manifest.json' && path !== 'SHA256SUMS' && !signatures.has(path)) problems.push(`${path} is not in the manifest: added`);
  }
  for (const f of m.files) {
    if (!safePath(f.path)) {
      problems.push(`the manifest names ${f.path}, outside the bundle`);
      continue;
    }
    if (!presentSet.has(f.path)) {
      problems.push(`${f.path} is missing`);
      continue;
    }
    const size = (await stat(join(dir, f.path))).size;
    if (size !== f.bytes) problems.push(`${f.path} has ${size} bytes, the manifest says ${f.bytes}: changed`);
    else if ((await sha256File(join(dir, f.path))) !== f.sha256) problems.push(`${f.path} does not match its SHA-256 in the manifest: changed`);
  }
  if (!presentSet.has('SHA256SUMS')) problems.push('SHA256SUMS is missing');
  else {
    const sums = (await readFile('SHA256SUMS')).toString('utf8').split('\n').filter(Boolean);
    const inSums = new Set<string>();
    for (const line of sums) {
      const match = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
      if (!match?.[1] || !match[2]) {
        problems.push(`SHA256SUMS has a line that is not "hash  file": ${line.slice(0, 80)}`);
        continue;
      }
      inSums.add(match[2]);
      const expected = match[2] === 'manifest.json' ? manifestSha256 : listed.get(match[2])?.sha256;
      if (match[2] !== 'manifest.json' && !listed.has(match[2]) && !signatures.has(match[2])) problems.push(`SHA256SUMS lists ${match[2]}, which the manifest does not`);
      else if (expected !== undefined && expected !== match[1]) problems.push(`SHA256SUMS disagrees with the manifest about ${match[2]}`);
      else if (signatures.has(match[2]) && presentSet.has(match[2]) && (await sha256File(join(dir, match[2]))) !== match[1]) {
        problems.push(`${match[2]} does not match SHA256SUMS: changed`);
      }
    }
    for (const path of present) if (path !== 'SHA256SUMS' && !inSums.has(path)) problems.push(`SHA256SUMS does not list ${path}`);
  }

  // The clips' segments: in the bundle, and linked in their camera's chain but where the incident names a gap.
  for (const clip of m.clips) {
    if (listed.get(clip.path)?.sha256 !== clip.sha256) problems.push(`${clip.path}: its SHA-256 in the manifest's clips and files differ`);
    clip.segments.forEach((s, i) => {
      if (listed.get(s.path)?.sha256 !== s.sha256) problems.push(`${s.path}: not in the bundle with the SHA-256 its clip names`);
      const before = clip.segments[i - 1];
      if (before && s.prev !== before.sha256) {
        const explained = m.incident.gaps.some((g) => g.camera === clip.camera && Date.parse(g.start) < Date.parse(s.start) && (g.end === null || Date.parse(g.end) > Date.parse(before.end)));
        if (!explained) problems.push(`${s.path} does not follow ${before.path} in the camera's hash chain, and no gap is named between them`);
      }
    });
  }

  // The incident's audit entries, each as the appliance signed it.
  const appliance = applianceKey;
  for (const e of m.audit) {
    const { hash, sig, ...body } = e;
    if (entryHash(body) !== hash) problems.push(`audit entry ${e.seq} in the manifest does not match its hash`);
    else if (appliance && (sig === undefined || !verifySignature(null, Buffer.from(hash, 'utf8'), appliance, Buffer.from(sig, 'base64')))) {
      problems.push(`audit entry ${e.seq} in the manifest is not signed by the appliance`);
    }
  }
  return { valid: problems.length === 0, problems, approvers, manifestSha256, appliance: m.appliance.fingerprint, request: m.request, incident: m.incident.id };
}
