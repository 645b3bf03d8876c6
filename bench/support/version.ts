/** What version of a peer a benchmark ran against, for its report. */
import { execFileSync } from 'node:child_process';

/** First line of `cmd args` (stdout or stderr); else the Debian package version; else "unknown version". */
export function versionOf(cmd: string, args: readonly string[], debianPackage: string): string {
  const run = (c: string, a: readonly string[]): string => {
    try {
      const r = execFileSync(c, a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
      return r.split('\n')[0]!.trim();
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      return `${e.stdout ?? ''}${e.stderr ?? ''}`.split('\n')[0]!.trim();
    }
  };
  const line = run(cmd, args);
  if (line !== '') return line;
  const deb = run('dpkg-query', ['-W', '-f=${Version}', debianPackage]);
  return deb !== '' ? `Debian package ${debianPackage} ${deb}` : 'unknown version';
}
