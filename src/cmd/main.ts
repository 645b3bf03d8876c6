/** `argus <role> [flags]`: dispatches to one small wiring file per role. */
import { agentRole, runAgent } from './agent.js';
import { allRole, runAll } from './all.js';
import { receiveRole, runReceive } from './receive.js';
import { runStore, storeRole } from './store.js';
import { compactRole, runCompact } from './compact.js';
import { UsageError, parseFlags, roleHelp, type Role } from './flags.js';
import { ConfigError } from '../config/index.js';

const ROLES: { role: Role; run: (v: Record<string, unknown>) => Promise<void> }[] = [
  { role: allRole, run: runAll },
  { role: agentRole, run: runAgent },
  { role: receiveRole, run: runReceive },
  { role: storeRole, run: runStore },
  { role: compactRole, run: runCompact },
];

function usage(): string {
  const lines = ['usage: argus <role> [flags]', '', 'Argus: highly available, Prometheus-compatible metrics.', '', 'Roles:'];
  for (const { role } of ROLES) lines.push(`  ${role.name.padEnd(10)} ${role.summary}`);
  lines.push('', 'Run `argus <role> --help` for the flags of a role.');
  return lines.join('\n') + '\n';
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    process.exit(name === undefined ? 2 : 0);
  }
  const entry = ROLES.find((r) => r.role.name === name);
  if (!entry) throw new UsageError(`argus: unknown role ${JSON.stringify(name)}; roles: ${ROLES.map((r) => r.role.name).join(', ')}`);
  const values = parseFlags(entry.role, rest);
  if (values.help) {
    process.stdout.write(roleHelp(entry.role));
    process.exit(0);
  }
  await entry.run(values);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UsageError || err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`argus: fatal: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
