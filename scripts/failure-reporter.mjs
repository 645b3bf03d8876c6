// A node:test reporter that writes one short entry per failed test (file, name, the first lines of the
// error). scripts/test.mjs prints these after the run, so that the tail of a long CI log names what failed
// even when the spec reporter's full account of it scrolled out of view.
const MAX_LINES = 8;
const ROOT = new URL('..', import.meta.url).pathname;

export default async function* failureReporter(source) {
  for await (const event of source) {
    if (event.type !== 'test:fail') continue;
    const { name, file, details } = event.data;
    const error = details?.error;
    // A suite whose subtests failed adds nothing: the subtests are listed themselves.
    if (error?.failureType === 'subtestsFailed') continue;
    const cause = error?.cause ?? error;
    const text = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    const lines = text.split('\n');
    const shown = lines.slice(0, MAX_LINES).map((l) => `    ${l.slice(0, 200)}`);
    if (lines.length > MAX_LINES) shown.push(`    ... (${lines.length - MAX_LINES} more lines in the full account above)`);
    const where = file === undefined ? '(unknown file)' : file.startsWith(ROOT) ? file.slice(ROOT.length) : file;
    yield `✖ ${where}: ${name}\n${shown.join('\n')}\n`;
  }
}
