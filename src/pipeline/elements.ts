import { execFile } from 'node:child_process';
import { arch, homedir } from 'node:os';
import { join } from 'node:path';
import { LibcamError } from '../errors.js';
import { collectSoon, createPipeline } from './gst.js';

/**
 * Every GStreamer element libcam and its tests use, with the Debian package that provides
 * it: the one list that scripts/setup checks after building the GStreamer registry, that
 * libcamd checks before it starts, and that `libcam doctor` reports on.
 *
 * A plugin can be installed and still missing: GStreamer's registry (a cache of what each
 * plugin file provides) blacklists a plugin whose scan failed once — seen on a fresh machine
 * with libgstlibav, which broke every still — and keeps it blacklisted until the registry
 * is rebuilt.
 */
export interface ElementNeed {
  element: string;
  /** The Debian package that installs its plugin. */
  pkg: string;
  /** What needs it: `tests` ones only the test suite (the camera simulator, fixtures). */
  usedBy: 'recording' | 'stills' | 'live view' | 'test-pattern' | 'tests';
}

const need = (usedBy: ElementNeed['usedBy'], pkg: string, ...elements: string[]): ElementNeed[] => elements.map((element) => ({ element, pkg, usedBy }));

export const GST_ELEMENTS: readonly ElementNeed[] = [
  ...need('recording', 'libgstreamer1.0-0', 'tee', 'funnel', 'capsfilter', 'filesink'),
  ...need('recording', 'gstreamer1.0-plugins-good', 'rtspsrc', 'rtph264depay', 'rtph265depay', 'splitmuxsink', 'mp4mux', 'rtpjitterbuffer', 'udpsrc'),
  ...need('recording', 'gstreamer1.0-plugins-bad', 'h264parse', 'h265parse'),
  ...need('recording', 'libgstreamer1.0-0', 'valve', 'queue', 'fdsink'),
  ...need('recording', 'gstreamer1.0-plugins-bad', 'gdppay', 'watchdog'),
  ...need('live view', 'libgstreamer1.0-0', 'fdsrc'),
  ...need('live view', 'gstreamer1.0-plugins-base', 'videorate', 'videoscale'),
  ...need('live view', 'gstreamer1.0-plugins-bad', 'gdpdepay'),
  ...need('stills', 'libgstreamer1.0-0', 'filesrc'),
  ...need('recording', 'gstreamer1.0-plugins-base', 'appsrc'),
  ...need('stills', 'gstreamer1.0-plugins-base', 'decodebin', 'videoconvert', 'appsink'),
  ...need('stills', 'gstreamer1.0-plugins-good', 'qtdemux', 'jpegenc'),
  ...need('stills', 'gstreamer1.0-libav', 'avdec_h264', 'avdec_h265'),
  ...need('test-pattern', 'gstreamer1.0-plugins-base', 'videotestsrc'),
  ...need('test-pattern', 'gstreamer1.0-plugins-ugly', 'x264enc'),
  ...need('test-pattern', 'gstreamer1.0-plugins-bad', 'x265enc'),
  ...need('tests', 'libgstreamer1.0-0', 'fakesink'),
  ...need('tests', 'gstreamer1.0-plugins-base', 'audiotestsrc', 'audioconvert', 'audioresample', 'opusenc'),
  ...need('tests', 'gstreamer1.0-plugins-good', 'rtph264pay', 'rtph265pay', 'rtpopuspay', 'rtpmp4gpay', 'rtppcmupay', 'mulawenc'),
  ...need('tests', 'gstreamer1.0-plugins-bad', 'voaacenc'),
];

/** What libcamd itself needs (the tests' elements aside). */
export const DAEMON_ELEMENTS: readonly ElementNeed[] = GST_ELEMENTS.filter((e) => e.usedBy !== 'tests');

const GST_ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', arm: 'arm', ia32: 'i686', riscv64: 'riscv64' };

/** Where GStreamer keeps the registry of the process with this environment. */
export function registryPath(env: NodeJS.ProcessEnv = process.env, home = env['HOME'] ?? homedir()): string {
  if (env['GST_REGISTRY']) return env['GST_REGISTRY'];
  const cache = env['XDG_CACHE_HOME'] ?? join(home, '.cache');
  return join(cache, 'gstreamer-1.0', `registry.${GST_ARCH[arch()] ?? arch()}.bin`);
}

/**
 * The problem, for a person: each missing element with its package, the plugin files the
 * registry has blacklisted, and what to do. Empty when nothing is missing.
 */
export function describeMissing(missing: readonly ElementNeed[], blacklisted: readonly string[], registry: string): string {
  if (missing.length === 0) return '';
  const packages = [...new Set(missing.map((m) => m.pkg))];
  const list = missing.map((m) => `${m.element} (Debian package ${m.pkg})`).join(', ');
  const black = blacklisted.length > 0 ? `; GStreamer's registry ${registry} has blacklisted ${blacklisted.join(', ')}` : '';
  return (
    `GStreamer element${missing.length > 1 ? 's' : ''} missing: ${list}${black}. ` +
    `Install ${packages.join(' ')} (apt-get install ${packages.join(' ')}); if installed, the registry is stale or has blacklisted the plugin: ` +
    `remove ${registry} and run scripts/setup, which rebuilds it`
  );
}

/** Plugin files the registry of this environment has blacklisted (`gst-inspect-1.0 -b`). */
export function blacklistedPlugins(env: NodeJS.ProcessEnv = process.env, command: string[] = ['gst-inspect-1.0']): Promise<string[]> {
  const [file = 'gst-inspect-1.0', ...args] = command;
  return new Promise((resolve) => {
    execFile(file, [...args, '-b'], { env, timeout: 60_000 }, (err, stdout) => {
      if (err) return resolve([]);
      resolve(
        stdout
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l !== '' && !l.startsWith('Blacklisted files') && !l.startsWith('Total count')),
      );
    });
  });
}

/** Whether GStreamer in this process can make the elements of `description` (never played). */
function canMake(description: string): boolean {
  try {
    createPipeline(description);
    return true;
  } catch {
    return false;
  } finally {
    collectSoon();
  }
}

/**
 * Which of `needs` GStreamer cannot make in this process, with this process's registry:
 * one pipeline of them all, unlinked, and only when that fails one per element to name each.
 */
export function unavailableElements(needs: readonly ElementNeed[]): ElementNeed[] {
  if (canMake(needs.map((n) => n.element).join(' '))) return [];
  // Two elements beside the one asked for, so a failed parse still yields a bin, not a lone element.
  return needs.filter((n) => !canMake(`capsfilter capsfilter ${n.element}`));
}

/**
 * The element names GStreamer lists for this environment (`gst-inspect-1.0`, which also
 * builds or brings up to date the registry it reads): for setup and for `libcam doctor`
 * when libcamd cannot be asked. `command` runs it as another user (setup: libcamd's).
 */
export function inspectElements(env: NodeJS.ProcessEnv = process.env, command: string[] = ['gst-inspect-1.0']): Promise<Set<string>> {
  const [file = 'gst-inspect-1.0', ...args] = command;
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: 300_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      if (err) return reject(new Error(`${command.join(' ')}: ${err.message}`));
      const names = new Set<string>();
      for (const line of stdout.split('\n')) {
        const match = /^[\w.-]+:\s+([\w.-]+):/.exec(line);
        if (match?.[1]) names.add(match[1]);
      }
      resolve(names);
    });
  });
}

/**
 * The GStreamer check, as libcamd's start-up and `libcam doctor` both make it: the
 * registry's list of elements, read by `gst-inspect-1.0` in a child process. Making each
 * element here instead (as libcamd once did) loaded every plugin into libcamd for good —
 * gst-libav brings FFmpeg's libraries and theirs (librsvg, flite voices, libplacebo):
 * 37 MB of libcamd's RSS at 16 cameras that recording never uses (BENCHMARKS.md). The
 * registry is the same one libcamd reads (same user, same environment), so an element
 * missing or blacklisted there is missing here.
 */
export async function gstreamerCheck(): Promise<{ ok: boolean; detail: string }> {
  let known: Set<string>;
  try {
    known = await inspectElements();
  } catch (err) {
    // gst-inspect-1.0 itself missing or failing: make the elements here, as a last resort.
    const missing = unavailableElements(DAEMON_ELEMENTS);
    if (missing.length === 0) return { ok: true, detail: `all ${DAEMON_ELEMENTS.length} elements libcamd uses can be made (registry ${registryPath()}; ${err instanceof Error ? err.message : String(err)})` };
    return { ok: false, detail: describeMissing(missing, [], registryPath()) };
  }
  const missing = DAEMON_ELEMENTS.filter((n) => !known.has(n.element));
  if (missing.length === 0) return { ok: true, detail: `all ${DAEMON_ELEMENTS.length} elements libcamd uses are in the registry ${registryPath()}` };
  return { ok: false, detail: describeMissing(missing, await blacklistedPlugins(), registryPath()) };
}

/** libcamd's start-up: refuse to run without the elements recording and stills need. */
export async function requireElements(): Promise<void> {
  const check = await gstreamerCheck();
  if (!check.ok) throw new LibcamError('environment', check.detail);
}
