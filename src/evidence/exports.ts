import { createPublicKey, sign, verify as verifySignature } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { iso, type Clock } from '../clock.js';
import { LibcamError } from '../errors.js';
import { DailyIds } from './dailyIds.js';
import type { Logger } from '../log.js';
import { willNeedSoon } from '../os/libc.js';
import { Serial } from '../serial.js';
import { grabStill } from '../pipeline/still.js';
import { anchorOf, canonicalJson, type AuditActor, type AuditEntry, type AuditInput, type AuditTrail } from '../store/audit.js';
import type { IndexDb } from '../store/indexDb.js';
import { videoCodecOf } from '../store/mp4.js';
import type { SegmentStore } from '../store/segments.js';
import type { ApplianceKey } from './applianceKey.js';
import type { Approvers, PassphraseApproval } from './approvers.js';
import type { Role } from './policy.js';
import { APPROVALS_FILE, APPROVALS_FORMAT, APPROVALS_SIGNATURE, BUNDLE_FORMAT, REQUEST_MS, indexHtml, receiptHtml, sha256, verifyText, type LegalBasis, type Manifest, type ManifestFile } from './bundle.js';
import type { Incidents } from './incidents.js';

/** After an export is completed, its files can be fetched by that account for this long. */
const FETCH_MS = 3_600_000;
/** Stored files the kernel is asked to read ahead of the one being fetched. */
const READ_AHEAD_FILES = 8;

export interface ExportParams {
  incident: string;
  approvers: { role: Role; fingerprint?: string | undefined }[];
  legalBasis: LegalBasis;
  reference: string;
  officer: string | null;
  badge: string | null;
  agency: string | null;
}

export interface Approval {
  role: Role;
  fingerprint: string;
  name: string;
  /** Ed25519 over the manifest, base64. */
  signature: string;
  at: number;
  /** The account that gave it. */
  by: string;
}

export interface ExportRequest {
  id: string;
  incident: string;
  created: number;
  expires: number;
  state: 'pending' | 'approved';
  approvers: { role: Role; fingerprint: string; name: string }[];
  manifest: string;
  manifestSha256: string;
  approvals: Approval[];
  applianceSignature: string | null;
  /** approvals.json (who approved when), made with the last approval, and the appliance's signature over it. */
  approvalsJson: string | null;
  approvalsSignature: string | null;
  /** Files made for the bundle (keys, stills, pages), base64. */
  inline: { path: string; data: string }[];
  /** Files taken from the store as they are, relative to it. */
  stored: { path: string; source: string; bytes: number; sha256: string }[];
  requester: AuditActor;
  legalBasis: Manifest['legalBasis'];
  /** Accounts that completed it, and until when they may fetch its files. */
  fetchers: { uid: number; until: number }[];
}

export interface ExportsOptions {
  index: IndexDb;
  store: SegmentStore;
  incidents: Incidents;
  approvers: Approvers;
  trail: AuditTrail;
  audit: (input: AuditInput) => Promise<AuditEntry>;
  notify: (subject: string, text: string) => Promise<unknown>;
  appliance: () => ApplianceKey;
  storeId: () => Promise<string>;
  clock: Clock;
  log: Logger;
}

export interface BundleFile {
  path: string;
  bytes: number;
  sha256: string;
  /** Where a stored file lies in the store (null for a file made here). */
  source: string | null;
  read: () => Readable;
}

/**
 * Releases to law enforcement (policy §3, §5): an export is one incident's held segments
 * and clips, with a manifest both approvers sign (each with their own key) and the
 * appliance signs too. The manifest is made once, when the export is asked for; approvals
 * come at the terminal (passphrases) or later, remotely (a passphrase in the approver's own
 * session, or a signature made with openssl on their own computer). The bundle's files are
 * then fetched by the account that completes it, written into its folder and verified there.
 */
export class Exports {
  private readonly records;
  private readonly ids;
  /** One change to requests at a time: two approvers approving at once must both be recorded. */
  private readonly changes = new Serial();
  /** Completed exports' files while they may be fetched: listed (and the made ones hashed) once, not for every file. */
  private readonly fetchable = new Map<string, { request: ExportRequest; files: BundleFile[]; advised: number }>();

  constructor(private readonly opts: ExportsOptions) {
    this.records = opts.index.db.sublevel<string, ExportRequest>('export', { valueEncoding: 'json' });
    this.ids = new DailyIds(opts.index, 'export-day', 'EXP');
  }

  private async save(r: ExportRequest): Promise<void> {
    await this.opts.index.db.batch([{ type: 'put', sublevel: this.records, key: r.id, value: r }], { sync: true });
  }

  async get(id: string): Promise<ExportRequest> {
    const r = await this.records.get(id);
    if (!r) throw new LibcamError('not-found', `no export request ${id}`, { request: id });
    if (r.state === 'pending' && r.expires <= this.opts.clock.now()) {
      throw new LibcamError('conflict', `export request ${id} expired on ${iso(r.expires)} without both approvals; ask again`, { request: id });
    }
    return r;
  }

  /** Asks for an export: checks everything, makes the manifest every approver will sign. */
  request(params: ExportParams, actor: AuditActor): Promise<ExportRequest> {
    return this.changes.run(() => this.make(params, actor));
  }

  private async make(params: ExportParams, actor: AuditActor): Promise<ExportRequest> {
    const { store, clock } = this.opts;
    if (params.reference.trim() === '') throw new LibcamError('usage', '--reference: the case or order number is required', { flag: '--reference' });
    if (params.legalBasis === 'emergency' && (!params.officer || !params.badge || !params.agency)) {
      throw new LibcamError('usage', '--legal-basis emergency needs --officer NAME --badge NO --agency NAME (75 ILCS 70: the officer asking is named)', { flag: '--officer' });
    }
    const approvers = await Promise.all(params.approvers.map((a) => this.opts.approvers.pick(a.role, a.fingerprint)));
    this.opts.approvers.requirePair(approvers.map((a) => a.role));
    const incident = await this.opts.incidents.get(params.incident);
    if (incident.state === 'released') throw new LibcamError('invalid-input', `--incident: ${incident.id} was released; its footage is no longer held`, { flag: '--incident' });
    if (incident.state !== 'open') throw new LibcamError('conflict', `--incident: ${incident.id} is ${incident.state}: export it once its clips are cut`, { flag: '--incident' });
    if (incident.clips.length === 0) throw new LibcamError('invalid-input', `--incident: ${incident.id} has no clips`, { flag: '--incident' });

    const now = clock.now();
    const { id, counter } = await this.ids.next(now);
    const appliance = this.opts.appliance();
    const inline: { path: string; data: Buffer }[] = [];
    const stored: ExportRequest['stored'] = [];
    const files: ManifestFile[] = [];
    const addInline = (path: string, data: Buffer): void => {
      inline.push({ path, data });
      files.push({ path, bytes: data.length, sha256: sha256(data) });
    };

    const keyFor = (role: string): string => `keys/${role}.pem`;
    for (const a of approvers) addInline(keyFor(a.role), Buffer.from(a.publicKeyPem));
    addInline('keys/appliance.pem', Buffer.from(appliance.publicKeyPem));

    const clips: Manifest['clips'] = [];
    const codecs: Record<string, 'h264' | 'h265'> = {};
    for (const clip of incident.clips) {
      const clipPath = `clips/${basename(clip.file)}`;
      stored.push({ path: clipPath, source: clip.file, bytes: clip.bytes, sha256: clip.sha256 });
      files.push({ path: clipPath, bytes: clip.bytes, sha256: clip.sha256 });
      const source = join(store.root, clip.file);
      const head = Buffer.alloc(64 * 1024);
      const handle = await open(source, 'r');
      try {
        await handle.read(head, 0, head.length, 0);
      } finally {
        await handle.close();
      }
      codecs[clipPath] = videoCodecOf(head) ?? 'h264';
      let still: string | null = null;
      try {
        const picture = await grabStill(source, 0);
        still = `stills/${basename(clip.file, '.mp4')}.jpg`;
        addInline(still, picture.jpeg);
      } catch (err) {
        this.opts.log.warn({ err, clip: clip.file }, 'no still for the export page');
      }
      const segments: Manifest['clips'][number]['segments'] = [];
      for (const s of clip.segments) {
        const entry = await store.entryAt(clip.camera, s.start);
        if (!entry || entry.sha256 !== s.sha256) throw new LibcamError('conflict', `the segment of ${clip.camera} at ${iso(s.start)} is no longer the one the clip was cut from: run libcam fsck`, { camera: clip.camera });
        const path = `segments/${clip.camera}/${s.start}.mp4`;
        if (!files.some((f) => f.path === path)) {
          stored.push({ path, source: entry.file, bytes: entry.bytes, sha256: entry.sha256 });
          files.push({ path, bytes: entry.bytes, sha256: entry.sha256 });
        }
        segments.push({ path, start: iso(s.start), end: iso(s.end), sha256: s.sha256, prev: s.prev });
      }
      clips.push({ path: clipPath, camera: clip.camera, start: iso(clip.start), end: iso(clip.end), sha256: clip.sha256, earlierMs: clip.earlierMs, still, segments });
    }

    const audit = (await this.opts.trail.list()).filter((e) => e.subject === incident.id);
    const last = (await this.opts.trail.list()).at(-1);
    const base: Omit<Manifest, 'files'> = {
      format: BUNDLE_FORMAT,
      request: id,
      created: iso(now),
      appliance: { storeId: await this.opts.storeId(), fingerprint: appliance.fingerprint, key: 'keys/appliance.pem' },
      incident: {
        id: incident.id,
        cameras: incident.cameras,
        from: iso(incident.from),
        to: iso(incident.to),
        purpose: incident.purpose,
        requestedBy: incident.requestedBy,
        account: { user: incident.actor.user, uid: incident.actor.uid },
        note: incident.note,
        patrons: incident.patrons,
        gaps: incident.gaps.map((g) => ({ camera: g.camera, start: iso(g.start), end: g.end === null ? null : iso(g.end), cause: g.cause })),
      },
      legalBasis: { basis: params.legalBasis, reference: params.reference, officer: params.officer, badge: params.badge, agency: params.agency },
      approvalPairs: this.opts.approvers.pairs.map(([a, b]) => [a, b] as const),
      approvers: approvers.map((a) => ({ role: a.role, name: a.name, fingerprint: a.fingerprint, key: keyFor(a.role), signature: `signatures/${a.role}.sig` })),
      clips,
      audit,
      auditHead: last ? { seq: last.seq, hash: last.hash } : null,
    };
    const fingerprints = [...approvers.map((a) => ({ who: `${a.role} ${a.name}`, key: keyFor(a.role), fingerprint: a.fingerprint })), { who: 'appliance', key: 'keys/appliance.pem', fingerprint: appliance.fingerprint }];
    addInline('VERIFY.txt', Buffer.from(verifyText(base, fingerprints)));
    addInline('index.html', Buffer.from(indexHtml(base, codecs)));
    addInline('receipt.html', Buffer.from(receiptHtml(base, files)));
    const manifest = canonicalJson({ ...base, files: files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)) });

    const request: ExportRequest = {
      id,
      incident: incident.id,
      created: now,
      expires: now + REQUEST_MS,
      state: 'pending',
      approvers: approvers.map((a) => ({ role: a.role, fingerprint: a.fingerprint, name: a.name })),
      manifest,
      manifestSha256: sha256(manifest),
      approvals: [],
      applianceSignature: null,
      approvalsJson: null,
      approvalsSignature: null,
      inline: inline.map((f) => ({ path: f.path, data: f.data.toString('base64') })),
      stored,
      requester: actor,
      legalBasis: base.legalBasis,
      fetchers: [],
    };
    await this.opts.index.db.batch<string, unknown>(
      [
        { type: 'put', sublevel: this.records, key: id, value: request },
        counter,
      ],
      { sync: true },
    );
    await this.opts.audit({
      actor,
      action: 'export.request',
      purpose: incident.purpose,
      subject: incident.id,
      details: { request: id, manifestSha256: request.manifestSha256, legalBasis: base.legalBasis, approvers: request.approvers },
    });
    return request;
  }

  /** An approval by passphrase, at the terminal or in the approver's own session: their key signs the manifest here. */
  async approveWithPassphrase(id: string, approval: PassphraseApproval, actor: AuditActor): Promise<ExportRequest> {
    const request = await this.get(id);
    const asked = this.asked(request, approval.role, approval.fingerprint);
    const approver = await this.opts.approvers.pick(asked.role, asked.fingerprint);
    const key = await this.opts.approvers.open(approver, approval.passphrase, actor);
    const signature = sign(null, Buffer.from(request.manifest), key);
    return this.record(id, { role: approver.role, fingerprint: approver.fingerprint, name: approver.name, signature: signature.toString('base64') }, actor);
  }

  /** An approval by a signature made elsewhere (openssl pkeyutl -sign -rawin over the request's manifest). */
  async approveWithSignature(id: string, role: Role, signature: Buffer, actor: AuditActor, fingerprint?: string): Promise<ExportRequest> {
    const request = await this.get(id);
    const asked = this.asked(request, role, fingerprint);
    const approver = await this.opts.approvers.pick(asked.role, asked.fingerprint);
    if (!verifySignature(null, Buffer.from(request.manifest), createPublicKey(approver.publicKeyPem), signature)) {
      await this.opts.audit({ actor, action: 'export.refused', subject: request.incident, details: { request: id, role, reason: 'signature does not verify' } });
      throw new LibcamError('invalid-input', `--signature: it is not ${approver.name}'s (${approver.role}, ${approver.fingerprint}) signature over ${id}'s manifest (sha256 ${request.manifestSha256})`, {
        flag: '--signature',
      });
    }
    return this.record(id, { role: approver.role, fingerprint: approver.fingerprint, name: approver.name, signature: signature.toString('base64') }, actor);
  }

  /** The approver of the request holding this role. */
  private asked(request: ExportRequest, role: Role, fingerprint?: string): { role: Role; fingerprint: string; name: string } {
    const asked = request.approvers.find((a) => a.role === role && (fingerprint === undefined || a.fingerprint === fingerprint));
    if (!asked) throw new LibcamError('invalid-input', `--approver: ${request.id} asks the ${request.approvers.map((a) => a.role).join(' and the ')}, not the ${role}`, { flag: '--approver' });
    return asked;
  }

  /** Refuses when a key that approved (or is about to) was revoked since: a revoked key approves nothing. */
  private async requireActive(request: ExportRequest, fingerprints: readonly string[]): Promise<void> {
    const active = new Set((await this.opts.approvers.active()).map((a) => a.fingerprint));
    const revoked = fingerprints.filter((fp) => !active.has(fp));
    if (revoked.length > 0) {
      throw new LibcamError('conflict', `${request.id}: the key ${revoked.join(' and ')} was revoked since it was asked or approved; ask for the export again with enrolled approvers`, { request: request.id });
    }
  }

  /**
   * Records an approval; with the last one the appliance signs the manifest, and the times of
   * the approvals (which the approvers' signatures cannot hold: they sign the manifest before
   * those times are known) go into approvals.json, which the appliance signs too.
   */
  private record(id: string, approval: Omit<Approval, 'at' | 'by'>, actor: AuditActor): Promise<ExportRequest> {
    return this.changes.run(async () => {
      const request = await this.get(id);
      if (request.state !== 'pending') throw new LibcamError('conflict', `${id} has both approvals already`, { request: id });
      await this.requireActive(request, [...request.approvals.map((a) => a.fingerprint), approval.fingerprint]);
      const now = this.opts.clock.now();
      const approvals = [...request.approvals.filter((a) => a.role !== approval.role), { ...approval, at: now, by: actor.user }];
      let next: ExportRequest = { ...request, approvals };
      await this.opts.audit({ actor, action: 'export.approve', subject: request.incident, details: { request: id, role: approval.role, fingerprint: approval.fingerprint } });
      if (request.approvers.every((a) => approvals.some((x) => x.role === a.role))) {
        const appliance = this.opts.appliance();
        const record = canonicalJson({
          format: APPROVALS_FORMAT,
          request: id,
          manifestSha256: request.manifestSha256,
          approvals: request.approvers.map((a) => {
            const given = approvals.find((x) => x.role === a.role);
            return { role: a.role, name: a.name, fingerprint: a.fingerprint, approvedAt: iso(given?.at ?? now), account: given?.by ?? actor.user };
          }),
        });
        next = { ...next, state: 'approved', applianceSignature: appliance.sign(request.manifest), approvalsJson: record, approvalsSignature: appliance.sign(record) };
        const entry = await this.opts.audit({
          actor,
          action: 'export',
          purpose: null,
          subject: request.incident,
          details: { request: id, manifestSha256: request.manifestSha256, legalBasis: request.legalBasis, approvers: approvals.map((a) => ({ role: a.role, name: a.name, fingerprint: a.fingerprint })) },
        });
        await this.save(next);
        await this.opts.notify(`libcam: footage of incident ${request.incident} released (${request.legalBasis.basis})`, this.notice(next, entry));
        return next;
      }
      await this.save(next);
      return next;
    });
  }

  /**
   * Completes an approved export for the account that asked for it: the bundle's files
   * (names, sizes) it may now fetch, for an hour. The bundle is written by the CLI into its
   * own folder. Every completion is audited.
   */
  async complete(id: string, uid: number, actor: AuditActor): Promise<{ request: ExportRequest; files: (Pick<BundleFile, 'path' | 'bytes' | 'sha256'> & { stored: boolean })[] }> {
    const request = await this.get(id);
    const incident = await this.opts.incidents.get(request.incident);
    if (incident.state === 'released') throw new LibcamError('conflict', `${id}: incident ${incident.id} was released since; its footage is no longer held`, { request: id });
    if (request.state !== 'approved') {
      const missing = request.approvers.filter((a) => !request.approvals.some((x) => x.role === a.role));
      throw new LibcamError('conflict', `${id} still waits for the approval of the ${missing.map((a) => `${a.role} (${a.name})`).join(' and the ')}`, { request: id });
    }
    await this.requireActive(request, request.approvals.map((a) => a.fingerprint));
    if (request.requester.uid !== uid) {
      throw new LibcamError('conflict', `${id} was asked for by the account "${request.requester.user}": only that account writes its bundle`, { request: id });
    }
    const until = this.opts.clock.now() + FETCH_MS;
    const next = { ...request, fetchers: [...request.fetchers.filter((f) => f.uid !== uid), { uid, until }] };
    await this.save(next);
    await this.opts.audit({ actor, action: 'export.complete', subject: request.incident, details: { request: id } });
    const files = this.files(next);
    this.fetchable.set(id, { request: next, files, advised: 0 });
    return { request: next, files: files.map(({ path, bytes, sha256: hash, source }) => ({ path, bytes, sha256: hash, stored: source !== null })) };
  }

  /** Every file of the bundle: its path, size, SHA-256, and how to read it. */
  private files(r: ExportRequest): BundleFile[] {
    const made: { path: string; data: Buffer }[] = [
      ...r.inline.map((f) => ({ path: f.path, data: Buffer.from(f.data, 'base64') })),
      { path: 'manifest.json', data: Buffer.from(r.manifest) },
      ...r.approvals.map((a) => ({ path: `signatures/${a.role}.sig`, data: Buffer.from(a.signature, 'base64') })),
      { path: 'signatures/appliance.sig', data: Buffer.from(r.applianceSignature ?? '', 'base64') },
      { path: APPROVALS_FILE, data: Buffer.from(r.approvalsJson ?? '') },
      { path: APPROVALS_SIGNATURE, data: Buffer.from(r.approvalsSignature ?? '', 'base64') },
    ];
    const hashes = new Map<string, string>(r.stored.map((f) => [f.path, f.sha256]));
    for (const f of made) hashes.set(f.path, sha256(f.data));
    const sums = Buffer.from(
      [...hashes]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([path, hash]) => `${hash}  ${path}\n`)
        .join(''),
    );
    made.push({ path: 'SHA256SUMS', data: sums });
    return [
      ...made.map((f) => ({ path: f.path, bytes: f.data.length, sha256: sha256(f.data), source: null, read: () => Readable.from([f.data]) })),
      ...r.stored.map((f) => ({
        path: f.path,
        bytes: f.bytes,
        sha256: hashes.get(f.path) ?? '',
        source: join(this.opts.store.root, f.source),
        read: () => createReadStream(join(this.opts.store.root, f.source), { highWaterMark: 1 << 20 }),
      })),
    ];
  }

  /** One file of a completed export, for the account that completed it. */
  async fetch(id: string, path: string, uid: number): Promise<BundleFile> {
    const now = this.opts.clock.now();
    for (const [key, entry] of this.fetchable) if (entry.request.fetchers.every((f) => f.until <= now)) this.fetchable.delete(key);
    let entry = this.fetchable.get(id);
    if (!entry) {
      const request = await this.get(id);
      entry = { request, files: this.files(request), advised: 0 };
      this.fetchable.set(id, entry);
    }
    const { request } = entry;
    if (!request.fetchers.some((f) => f.uid === uid && f.until > now)) {
      throw new LibcamError('conflict', `${id}: complete it first (libcam export --complete ${id} --to DIR); files are fetched within an hour of that, by the account that did it`, { request: id });
    }
    // What refuses a completion refuses each file too: a release or a revocation since.
    if ((await this.opts.incidents.get(request.incident)).state === 'released') {
      throw new LibcamError('conflict', `${id}: incident ${request.incident} was released since; its footage is no longer held`, { request: id });
    }
    await this.requireActive(request, request.approvals.map((a) => a.fingerprint));
    const at = entry.files.findIndex((f) => f.path === path);
    const file = entry.files[at];
    if (!file) throw new LibcamError('not-found', `${id} has no file ${path}`, { request: id, path });
    // The CLI fetches in this order: the kernel reads the next files while this one is copied.
    const ahead = entry.files.slice(Math.max(at, entry.advised), at + READ_AHEAD_FILES);
    entry.advised = Math.max(entry.advised, at + READ_AHEAD_FILES);
    for (const next of ahead) if (next.source !== null) void willNeedSoon(next.source);
    return file;
  }

  /** The CLI wrote the bundle and verified it where it lies. */
  async delivered(id: string, where: { dir: string; files: number; bytes: number }, actor: AuditActor): Promise<AuditEntry> {
    const request = await this.get(id);
    return this.opts.audit({ actor, action: 'export.delivered', subject: request.incident, details: { request: id, ...where, manifestSha256: request.manifestSha256 } });
  }

  /** Pending and approved requests, newest first. */
  async list(): Promise<ExportRequest[]> {
    return (await this.records.values().all()).reverse();
  }

  private notice(r: ExportRequest, entry: AuditEntry): string {
    const lb = r.legalBasis;
    return [
      'Recorded footage was released to law enforcement from the library camera system (policy §3).',
      '',
      `Incident:      ${r.incident}`,
      `Export:        ${r.id} (manifest sha256 ${r.manifestSha256})`,
      `Legal basis:   ${lb.basis}, ${lb.reference}`,
      `Officer:       ${lb.officer ? `${lb.officer}, badge ${lb.badge ?? ''}, ${lb.agency ?? ''}` : 'not named'}`,
      `Approved by:   ${r.approvals.map((a) => `${a.role} ${a.name} (${a.fingerprint})`).join('; ')}`,
      `Asked by:      the account "${r.requester.user}"`,
      `Audit entry:   #${entry.seq}`,
      `Audit head:    ${anchorOf(entry)}`,
      '',
      'This message was sent automatically by libcamd.',
    ].join('\n');
  }
}
