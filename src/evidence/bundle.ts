import { createHash } from 'node:crypto';
import type { AuditEntry } from '../store/audit.js';
import type { Role } from './policy.js';

/**
 * An export bundle (policy §3, §5: footage released to law enforcement under two
 * approvers' signatures), as a police officer, a court and the board receive it:
 *
 *   manifest.json      canonical JSON (sorted keys, no whitespace): what, why, who, every file
 *   signatures/        one raw Ed25519 signature per approver, and the appliance's, over manifest.json
 *   keys/              their public keys (PEM)
 *   segments/          the held segment files, byte for byte as recorded (the evidence master)
 *   clips/             the incident's clips (the working copy, labelled as such)
 *   stills/            a still of each clip
 *   approvals.json     when each approver approved (signed by the appliance: signatures/approvals.sig)
 *   SHA256SUMS         every other file: sha256sum -c SHA256SUMS
 *   VERIFY.txt         how to check it with libcam verify, or with sha256sum and openssl alone
 *   index.html         opens offline in a browser: the incident, the clips, hashes and approvers
 *   receipt.html       the receipt the officer signs
 *
 * Everything but manifest.json, approvals.json, signatures/ and SHA256SUMS is listed in the manifest with
 * its size and SHA-256, so the signatures cover it.
 */
export const BUNDLE_FORMAT = 'libcam-export/1';

/** A pending export waits this long for its approvals; every approval falls within it. */
export const REQUEST_MS = 72 * 3_600_000;

/**
 * approvals.json: when each approver approved, and from which account. The approvers sign
 * the manifest before those times exist, so the appliance signs this record of them
 * (signatures/approvals.sig), naming the manifest by its SHA-256.
 */
export const APPROVALS_FILE = 'approvals.json';
export const APPROVALS_SIGNATURE = 'signatures/approvals.sig';
export const APPROVALS_FORMAT = 'libcam-approvals/1';

export interface ApprovalsRecord {
  format: typeof APPROVALS_FORMAT;
  request: string;
  manifestSha256: string;
  approvals: { role: Role; name: string; fingerprint: string; approvedAt: string; account: string }[];
}

export type LegalBasis = 'court-order' | 'subpoena' | 'emergency';
export const LEGAL_BASES: readonly LegalBasis[] = ['court-order', 'subpoena', 'emergency'];

export interface ManifestFile {
  path: string;
  bytes: number;
  sha256: string;
}

export interface Manifest {
  format: typeof BUNDLE_FORMAT;
  request: string;
  created: string;
  appliance: { storeId: string; fingerprint: string; key: string };
  incident: {
    id: string;
    cameras: string[];
    from: string;
    to: string;
    purpose: string;
    requestedBy: string;
    account: { user: string; uid: number | null };
    note: string | null;
    patrons: string[];
    gaps: { camera: string; start: string; end: string | null; cause: string }[];
  };
  legalBasis: { basis: LegalBasis; reference: string; officer: string | null; badge: string | null; agency: string | null };
  approvalPairs: (readonly [Role, Role])[];
  approvers: { role: Role; name: string; fingerprint: string; key: string; signature: string }[];
  files: ManifestFile[];
  clips: {
    path: string;
    camera: string;
    start: string;
    end: string;
    sha256: string;
    earlierMs: number;
    still: string | null;
    segments: { path: string; start: string; end: string; sha256: string; prev: string | null }[];
  }[];
  /** The incident's audit entries, each with the appliance's signature, and the head at the time. */
  audit: AuditEntry[];
  auditHead: { seq: number; hash: string } | null;
}

export const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** VERIFY.txt: the checks anyone can run, with the exact commands (Debian 12's OpenSSL 3.0). */
export function verifyText(m: Omit<Manifest, 'files'>, fingerprints: { who: string; key: string; fingerprint: string }[]): string {
  const sigs = [...m.approvers.map((a) => ({ who: `${a.role} (${a.name})`, key: a.key, sig: a.signature })), { who: 'the appliance', key: m.appliance.key, sig: 'signatures/appliance.sig' }];
  return [
    `Export ${m.request} of incident ${m.incident.id} (libcam). How to check that nothing in this folder was changed.`,
    '',
    '1. With libcam (on any machine where it is installed; no daemon needed):',
    '',
    '     libcam verify . --appliance KEYID --approver-key KEYID --approver-key KEYID',
    '',
    '   with the key ids the library\'s board keeps on paper — not the ones printed in this',
    '   folder, which came with it: a bundle signed by any other key then fails. Without them,',
    '   libcam verify checks that the bundle is whole and signed by the keys it names, and',
    '   prints their key ids for you to compare with the board\'s paper.',
    '',
    '2. With standard tools only, in this folder:',
    '',
    '   Every file against its SHA-256:',
    '',
    '     sha256sum -c SHA256SUMS',
    '',
    '   Each signature over manifest.json (each line must print "Signature Verified Successfully"):',
    '',
    ...sigs.map((s) => `     openssl pkeyutl -verify -rawin -pubin -inkey ${s.key} -in manifest.json -sigfile ${s.sig}`),
    '',
    '   When each approver approved (approvals.json, signed by the appliance; its manifestSha256',
    '   must be the SHA-256 of manifest.json that SHA256SUMS lists):',
    '',
    `     openssl pkeyutl -verify -rawin -pubin -inkey ${m.appliance.key} -in ${APPROVALS_FILE} -sigfile ${APPROVALS_SIGNATURE}`,
    '',
    '   Each key is the one enrolled: compare its fingerprint with the receipt and with the',
    "   fingerprints the library's board keeps on paper:",
    '',
    ...fingerprints.map((f) => `     openssl pkey -pubin -in ${f.key} -outform DER | sha256sum     (${f.who}: ${f.fingerprint.replace(/^SHA256:/, '')})`),
    '',
    '   manifest.json lists every other file with its size and SHA-256, so the signatures cover',
    '   them all. SHA256SUMS covers manifest.json, approvals.json and the signatures too.',
    '',
    `Release approved by ${m.approvers.map((a) => `${a.role} ${a.name}`).join(' and ')} (policy §3).`,
    `Legal basis: ${m.legalBasis.basis}, ${m.legalBasis.reference}.`,
    '',
    'The segments/ folder holds the footage exactly as the cameras recorded it: each file is',
    "in its camera's SHA-256 chain (manifest.json, clips[].segments[].prev). The clips/ folder",
    'holds working copies joined from them without re-encoding, for viewing.',
    '',
  ].join('\n');
}

/** index.html: offline, no script or file from outside the bundle. */
export function indexHtml(m: Omit<Manifest, 'files'>, codecs: Record<string, 'h264' | 'h265'>): string {
  const clips = m.clips
    .map((c) => {
      const h265 = codecs[c.path] === 'h265';
      const still = c.still ? `<img src="${escape(c.still)}" alt="still of ${escape(c.camera)}" width="480">` : '';
      const media = h265
        ? `<p class="note">This clip is H.265 (HEVC), which most browsers cannot play: open <a href="${escape(c.path)}">${escape(c.path)}</a> with VLC or ffplay. Its first picture:</p>${still}`
        : `<video controls preload="metadata" width="640" src="${escape(c.path)}"${c.still ? ` poster="${escape(c.still)}"` : ''} data-camera="${escape(c.camera)}"></video>`;
      return `<section><h2>${escape(c.camera)}</h2>${media}<table><tr><th>Start</th><td>${escape(c.start)}</td></tr><tr><th>End</th><td>${escape(c.end)}</td></tr><tr><th>SHA-256</th><td><code>${escape(c.sha256)}</code></td></tr><tr><th>Recorded segments</th><td>${c.segments.length} (segments/${escape(c.camera)}/)</td></tr></table></section>`;
    })
    .join('\n');
  const approvers = m.approvers.map((a) => `<li>${escape(a.role)}: ${escape(a.name)} — key <code>${escape(a.fingerprint)}</code></li>`).join('');
  const gaps = m.incident.gaps.map((g) => `<li>${escape(g.camera)}: ${escape(g.cause)} from ${escape(g.start)} to ${escape(g.end ?? '(open)')}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Incident ${escape(m.incident.id)}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:60em}code{font-size:.85em;word-break:break-all}th{text-align:left;padding-right:1em}.note{color:#7a4a00}</style>
</head><body>
<h1>Incident ${escape(m.incident.id)}</h1>
<p>Released as export ${escape(m.request)} on ${escape(m.created)}. ${escape(m.legalBasis.basis)}: ${escape(m.legalBasis.reference)}${m.legalBasis.officer ? `, officer ${escape(m.legalBasis.officer)} (badge ${escape(m.legalBasis.badge ?? '')}, ${escape(m.legalBasis.agency ?? '')})` : ''}.</p>
<p>Purpose: ${escape(m.incident.purpose)}. Cameras: ${escape(m.incident.cameras.join(', '))}. From ${escape(m.incident.from)} to ${escape(m.incident.to)}.</p>
<h2>Approved by</h2><ul>${approvers}</ul>
<p>Appliance key <code>${escape(m.appliance.fingerprint)}</code>. To check this folder, see VERIFY.txt.</p>
${gaps ? `<h2>Gaps (no footage there)</h2><ul>${gaps}</ul>` : ''}
<p>The clips below are working copies joined without re-encoding; the evidence master is in segments/, byte for byte as recorded.</p>
${clips}
</body></html>
`;
}

/** receipt.html: printable, for the officer and the releasing staff member to sign. */
export function receiptHtml(m: Omit<Manifest, 'files'>, files: ManifestFile[]): string {
  const rows = files
    .filter((f) => f.path.startsWith('clips/') || f.path.startsWith('segments/'))
    .map((f) => `<tr><td>${escape(f.path)}</td><td>${f.bytes}</td><td><code>${escape(f.sha256)}</code></td></tr>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Receipt — ${escape(m.incident.id)}</title>
<style>body{font-family:serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px;font-size:.8em}code{word-break:break-all}.sign{margin-top:3em;display:flex;gap:4em}.sign div{border-top:1px solid #000;width:18em;padding-top:.3em}</style>
</head><body>
<h1>Receipt of recorded footage</h1>
<p>Incident <b>${escape(m.incident.id)}</b>, export ${escape(m.request)}, made ${escape(m.created)}.</p>
<p>Legal basis: <b>${escape(m.legalBasis.basis)}</b>, reference ${escape(m.legalBasis.reference)}.${m.legalBasis.officer ? ` Officer ${escape(m.legalBasis.officer)}, badge ${escape(m.legalBasis.badge ?? '')}, ${escape(m.legalBasis.agency ?? '')}.` : ''}</p>
<p>Cameras ${escape(m.incident.cameras.join(', '))}, from ${escape(m.incident.from)} to ${escape(m.incident.to)}; purpose ${escape(m.incident.purpose)}.</p>
<p>Approved by: ${m.approvers.map((a) => `${escape(a.role)} ${escape(a.name)} (key <code>${escape(a.fingerprint)}</code>)`).join('; ')}.
Appliance key <code>${escape(m.appliance.fingerprint)}</code>.</p>
<table><tr><th>File</th><th>Bytes</th><th>SHA-256</th></tr>${rows}</table>
<p>The SHA-256 of manifest.json is printed by <code>libcam verify</code> and stands in SHA256SUMS; it covers every file above.</p>
<div class="sign"><div>Receiving officer: name, badge, date</div><div>Releasing staff member: name, date</div></div>
</body></html>
`;
}
