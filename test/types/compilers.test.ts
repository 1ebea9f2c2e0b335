/**
 * The public types under every TypeScript the package supports (5.9, and 7 installed as the
 * `typescript7` alias): the type tests of scheduler-types.test.ts compile cleanly, and each
 * mistake in fixtures/misspelled-options.ts is reported against the wrong option itself, not as
 * "not assignable to parameter of type 'string'" from whichever overload came last.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIXTURES = join(ROOT, 'test', 'types', 'fixtures');
const COMPILERS = {
  'TypeScript 5.9': join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
  'TypeScript 7': join(ROOT, 'node_modules', 'typescript7', 'bin', 'tsc'),
};

interface Diagnostic {
  file: string;
  line: number;
  text: string;
}

/** Runs a compiler on the fixture project; resolves to its diagnostics and its version. */
function compile(tsc: string): Promise<{ version: string; diagnostics: Diagnostic[] }> {
  const run = (args: string[]) =>
    new Promise<string>((resolve) => {
      execFile(
        process.execPath,
        [tsc, ...args],
        { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
        (_error, stdout) => resolve(stdout),
      );
    });
  return Promise.all([
    run(['--version']),
    run(['-p', join(FIXTURES, 'tsconfig.json'), '--pretty', 'false']),
  ]).then(([version, output]) => {
    const diagnostics: Diagnostic[] = [];
    for (const line of output.split('\n')) {
      const m = /^(.+?)\((\d+),\d+\): error (TS\d+: .*)$/.exec(line);
      if (m !== null) diagnostics.push({ file: m[1].replaceAll('\\', '/'), line: Number(m[2]), text: m[3] });
      else if (diagnostics.length > 0 && line.startsWith(' '))
        diagnostics[diagnostics.length - 1].text += `\n${line}`;
    }
    return { version: version.trim(), diagnostics };
  });
}

/** The line after each `// <name>` marker of the fixture. */
function markedLines(): Map<string, number> {
  const lines = readFileSync(join(FIXTURES, 'misspelled-options.ts'), 'utf8').split('\n');
  const marks = new Map<string, number>();
  lines.forEach((text, i) => {
    const m = /^\s*\/\/ ([a-z-]+)$/.exec(text);
    if (m !== null) marks.set(m[1], i + 2);
  });
  return marks;
}

const EXPECTED: Record<string, RegExp> = {
  'cron-typo': /'dayOfWek' does not exist in type .*Did you mean to write 'dayOfWeek'\?/,
  'interval-typo': /'minuts' does not exist in type .*Did you mean to write 'minutes'\?/,
  'job-option-typo': /'misfireGracetime' does not exist in type .*Did you mean to write 'misfireGraceTime'\?/,
  'args-type': /Type 'number' is not assignable to type 'string'/,
};

describe.each(Object.entries(COMPILERS))('%s', (name, tsc) => {
  it('compiles the type tests and names each misspelled option', async () => {
    const { version, diagnostics } = await compile(tsc);
    expect(version).toMatch(name === 'TypeScript 7' ? /^Version 7\./ : /^Version 5\.9\./);
    // The type tests: no error at all (every @ts-expect-error is used).
    expect(diagnostics.filter((d) => !d.file.endsWith('misspelled-options.ts'))).toEqual([]);
    const marks = markedLines();
    const byLine = new Map(
      diagnostics.filter((d) => d.file.endsWith('misspelled-options.ts')).map((d) => [d.line, d.text]),
    );
    expect(byLine.size).toBe(marks.size);
    for (const [mark, line] of marks) {
      const text = byLine.get(line) ?? '(no error)';
      expect(text, `${mark} at line ${line}`).toMatch(EXPECTED[mark]);
      expect(text, `${mark} at line ${line}`).not.toMatch(/parameter of type 'string'/);
    }
  }, 180_000);
});
