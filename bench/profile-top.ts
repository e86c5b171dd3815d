// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by file, heaviest first.
import { readFileSync } from 'node:fs';

interface CpuNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: CpuNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self-time shares (percent of samples) per function and per source file, top `n` of each. */
export function summarise(profile: CpuProfile, n = 15): { functions: string[]; files: string[] } {
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  const counts = new Map<number, number>();
  for (const s of profile.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  const total = profile.samples.length || 1;
  const fns = new Map<string, number>();
  const files = new Map<string, number>();
  for (const [id, c] of counts) {
    const node = byId.get(id);
    if (!node) continue;
    const f = node.callFrame;
    const file = shortFile(f.url) || `(${f.functionName || 'native'})`;
    const fn = `${f.functionName || '(anonymous)'} ${file}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    fns.set(fn, (fns.get(fn) ?? 0) + c);
    files.set(file, (files.get(file) ?? 0) + c);
  }
  const top = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
  return { functions: top(fns), files: top(files) };
}

function shortFile(url: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return `[${m[1]}]`;
  return url.replace(/^file:\/\//, '').replace(/^.*\/(src|bench|test)\//, '$1/');
}

if (process.argv[1]?.endsWith('profile-top.ts')) {
  const path = process.argv[2];
  if (!path) {
    process.stderr.write('usage: tsx bench/profile-top.ts <file.cpuprofile> [n]\n');
    process.exit(2);
  }
  const s = summarise(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, Number(process.argv[3] ?? 15));
  process.stdout.write(
    `by function (self time):\n${s.functions.join('\n')}\n\nby file:\n${s.files.join('\n')}\n`,
  );
}
