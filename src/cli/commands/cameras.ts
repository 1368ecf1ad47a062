import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { parseDuration } from '../../config/units.js';
import { LibcamError, errnoOf } from '../../errors.js';
import { discoverDevices, probeDevice, type OnvifProbe } from '../../pipeline/onvif.js';
import { contextOf, type GlobalOptions } from '../context.js';
import { printJson, printText, table } from '../output.js';

/** The password for `probe`: the file's first line, or its part after the colon when it is a credentials file. */
async function loginFrom(user: string | undefined, passwordFile: string | undefined): Promise<{ user?: string; password?: string }> {
  if (passwordFile === undefined) return user === undefined ? {} : { user };
  let line: string;
  try {
    line = (await readFile(passwordFile, 'utf8')).split(/\r?\n/)[0] ?? '';
  } catch (err) {
    throw new LibcamError('invalid-input', `--password-file: cannot read ${passwordFile} (${errnoOf(err) ?? 'error'})`, { flag: '--password-file' });
  }
  const colon = line.indexOf(':');
  if (user === undefined && colon > 0) return { user: line.slice(0, colon), password: line.slice(colon + 1) };
  if (user === undefined) throw new LibcamError('usage', '--user: required unless --password-file holds user:password', { flag: '--user' });
  return { user, password: line };
}

export function renderProbe(probe: OnvifProbe): string {
  const head = `${probe.device.manufacturer ?? 'unknown maker'} ${probe.device.model ?? 'unknown model'}`;
  if (probe.profiles.length === 0) return `${head}\nno media profiles`;
  const rows = probe.profiles.map((p) => [p.token, p.name, p.encoding, p.width && p.height ? `${p.width}x${p.height}` : null, p.rtspUri]);
  return `${head}\n\n${table(['TOKEN', 'NAME', 'ENCODING', 'SIZE', 'RTSP URI'], rows)}`;
}

export function registerCameras(program: Command): void {
  const cameras = program.command('cameras').description('the configured cameras');
  cameras
    .command('list')
    .description('configured cameras, their sources and states (credentials are never shown)')
    .action(async (_opts: unknown, command: Command) => {
      const { client, json } = contextOf(command);
      const list = await client.call('cameras.list', {});
      if (json) return printJson(list);
      if (list.length === 0) return printText('no cameras configured');
      printText(table(['CAMERA', 'KIND', 'SOURCE', 'STATE'], list.map((c) => [c.name, c.source.kind, c.source.url, c.state])));
    });

  cameras
    .command('discover')
    .description('finds ONVIF cameras on the local network (WS-Discovery); needs no daemon')
    .addOption(new Option('--timeout <duration>', 'how long to listen for answers').default('5s'))
    .addHelpText(
      'after',
      '\nThen ask a device for its streams with `libcam cameras probe --onvif XADDR --user U --password-file F`.',
    )
    .action(async (opts: { timeout: string }, command: Command) => {
      const { json } = command.optsWithGlobals<GlobalOptions>();
      const ms = parseDuration(opts.timeout);
      if (ms === undefined || ms <= 0 || ms > 60_000) {
        throw new LibcamError('usage', `--timeout: "${opts.timeout}" is not a duration between 1ms and 60s (e.g. 5s)`, { flag: '--timeout' });
      }
      const devices = await discoverDevices(ms);
      if (json) return printJson(devices);
      if (devices.length === 0) return printText(`no ONVIF device answered within ${opts.timeout}`);
      printText(table(['ADDRESS', 'XADDR', 'NAME', 'HARDWARE'], devices.map((d) => [d.address, d.xaddr, d.name, d.hardware])));
    });

  cameras
    .command('probe')
    .description("asks an ONVIF device for its media profiles and their RTSP stream URIs; needs no daemon")
    .requiredOption('--onvif <url>', "the device service URL (an XADDR from discover), e.g. http://10.0.0.7/onvif/device_service")
    .option('--user <name>', 'the ONVIF user')
    .option('--password-file <file>', 'a file holding the password (or user:password, as a camera credentialsFile does)')
    .addHelpText('after', '\nUse a TOKEN as the camera\'s source.profile in libcam.yaml to record a profile other than the first.')
    .action(async (opts: { onvif: string; user?: string; passwordFile?: string }, command: Command) => {
      const { json } = command.optsWithGlobals<GlobalOptions>();
      if (!/^https?:\/\/\S+$/.test(opts.onvif)) {
        throw new LibcamError('usage', `--onvif: "${opts.onvif}" is not an http(s) URL`, { flag: '--onvif' });
      }
      const probe = await probeDevice(opts.onvif, await loginFrom(opts.user, opts.passwordFile));
      if (json) printJson(probe);
      else printText(renderProbe(probe));
    });
}
