import type { Command } from 'commander';
import { contextOf } from '../context.js';
import { printJson, printText, table } from '../output.js';
import { readNewSecret } from '../prompt.js';

const PASSWORD_HELP =
  '\nThe password is asked twice without echo (else one per line from standard input), must be\n' +
  'strong (zxcvbn: a few unrelated words do well) and is stored only as scrypt (32 MiB). Every\n' +
  'change is audited; removing an account or changing its password ends its sessions at once.\n';

/** `libcam staff`: who may log in to the live view (policy §1: a password protected site). */
export function registerStaff(program: Command): void {
  const staff = program.command('staff').description('staff accounts of the live view: who may watch the cameras from a browser on a staff network');
  staff
    .command('add')
    .argument('<user>', 'the account name: lower-case letters, digits, . _ - (up to 32)')
    .description('adds a staff account; its password is asked twice')
    .addHelpText('after', `${PASSWORD_HELP}\nExample:\n  libcam staff add circ-desk`)
    .action(async (user: string, _opts: unknown, command: Command) => {
      const { client, json } = contextOf(command);
      const password = await readNewSecret(`New password for ${user}: `, 'The same password again: ');
      const info = await client.call('staff.add', { user, password });
      if (json) return printJson(info);
      printText(`added ${info.user}: it may log in to the live view from a staff network`);
    });
  staff
    .command('passwd')
    .argument('<user>', 'the account')
    .description("changes a staff account's password (asked twice); its sessions end")
    .addHelpText('after', `${PASSWORD_HELP}\nExample:\n  libcam staff passwd circ-desk`)
    .action(async (user: string, _opts: unknown, command: Command) => {
      const { client, json } = contextOf(command);
      const password = await readNewSecret(`New password for ${user}: `, 'The same password again: ');
      const info = await client.call('staff.passwd', { user, password });
      if (json) return printJson(info);
      printText(`changed the password of ${info.user}; its sessions ended`);
    });
  staff
    .command('remove')
    .argument('<user>', 'the account')
    .description('removes a staff account; its sessions end at once')
    .action(async (user: string, _opts: unknown, command: Command) => {
      const { client, json } = contextOf(command);
      const info = await client.call('staff.remove', { user });
      if (json) return printJson(info);
      printText(`removed ${info.user}; its sessions ended`);
    });
  staff
    .command('list')
    .description('staff accounts: name, created, last login')
    .action(async (_opts: unknown, command: Command) => {
      const { client, json, time } = contextOf(command);
      const list = await client.call('staff.list', {});
      if (json) return printJson(list);
      if (list.length === 0) return printText('no staff accounts (libcam staff add USER)');
      printText(table(['USER', 'CREATED', 'LAST LOGIN'], list.map((a) => [a.user, time(a.created), a.lastLogin === null ? null : time(a.lastLogin)])));
    });
}
