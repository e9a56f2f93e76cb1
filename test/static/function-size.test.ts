import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';

/** Longer than this, a function is split by phase (issue 24): each part named for what it does. */
const MAX_LINES = 80;

interface Long {
  at: string;
  name: string;
  lines: number;
}

/** Every function (declaration, method, arrow, expression) of a source text longer than `max` lines. */
function longFunctions(file: string, text: string, max = MAX_LINES): Long[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const long: Long[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isArrowFunction(node) || ts.isFunctionExpression(node) || ts.isConstructorDeclaration(node) || ts.isGetAccessor(node) || ts.isSetAccessor(node)) {
      const start = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = end - start + 1;
      if (lines > max) {
        const name = node.name?.getText() ?? (ts.isVariableDeclaration(node.parent) ? node.parent.name.getText() : '(anonymous)');
        long.push({ at: `${file}:${start + 1}`, name, lines });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return long;
}

const sources = (readdirSync(join(ROOT, 'src'), { recursive: true }) as string[])
  .filter((f) => f.endsWith('.ts'))
  .map((f) => `src/${f}`)
  .sort();

describe('function size', () => {
  it(`no function in src/ is longer than ${MAX_LINES} lines`, () => {
    expect(sources.length).toBeGreaterThan(20);
    const long = sources.flatMap((f) => longFunctions(f, readFileSync(join(ROOT, f), 'utf8')));
    expect(long.map((l) => `${l.at} ${l.name}: ${l.lines} lines`), `split these by phase (at most ${MAX_LINES} lines each)`).toEqual([]);
  });

  it('finds a long function of any kind, and leaves a short one alone', () => {
    const body = (n: number) => Array.from({ length: n }, (_, i) => `  const x${i} = ${i};`).join('\n');
    const text = [
      `export function declared() {\n${body(79)}\n}`,
      `const arrow = () => {\n${body(80)}\n};`,
      `class C {\n  method() {\n${body(85)}\n  }\n}`,
      `function short() {\n${body(78)}\n}`,
    ].join('\n');
    expect(longFunctions('x.ts', text).map((l) => `${l.name} ${l.lines}`)).toEqual(['declared 81', 'arrow 82', 'method 87']);
  });
});
