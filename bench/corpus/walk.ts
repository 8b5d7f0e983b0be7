// Listing a corpus directory: every regular file under it, in a stable (sorted) order.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface CorpusFile {
  /** Path relative to the corpus root, with forward slashes. */
  rel: string;
  abs: string;
  size: number;
}

/** Every regular file under `root`, sorted by relative path. */
export function listFiles(root: string): CorpusFile[] {
  const out: CorpusFile[] = [];
  const visit = (dir: string, rel: string): void => {
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const abs = join(dir, e.name);
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) visit(abs, r);
      else if (e.isFile()) out.push({ rel: r, abs, size: statSync(abs).size });
    }
  };
  visit(root, '');
  return out;
}

export interface CorpusTotals {
  items: number;
  bytes: number;
}

export function totals(files: readonly CorpusFile[]): CorpusTotals {
  let bytes = 0;
  for (const f of files) bytes += f.size;
  return { items: files.length, bytes };
}

/** Size percentiles of a list of sizes (bytes). */
export function sizePercentiles(sizes: number[]): { p10: number; p50: number; p90: number; p99: number; max: number; mean: number } {
  if (sizes.length === 0) return { p10: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0 };
  const s = Float64Array.from(sizes).sort();
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  let sum = 0;
  for (const v of s) sum += v;
  return { p10: at(0.1), p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1] ?? 0, mean: Math.round(sum / s.length) };
}
