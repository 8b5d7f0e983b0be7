// The skipped-items report of a run: one CSV row per item that could not be backed up (or
// restored), with where it is in the source and why. Stored sealed in the repository next to the
// run's snapshot, since paths and subjects are customer data; `saasbackup repo report` prints it.
import type { SkippedItem } from './backup-account.ts';

const COLUMNS = ['account', 'service', 'path', 'name', 'id', 'version', 'size', 'source', 'code', 'message'] as const;

function cell(value: string | number): string {
  const text = String(value);
  // Quote what CSV readers would split, and defuse cells a spreadsheet would run as a formula.
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\n\r]/.test(safe) || safe !== text ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function skippedItemsCsv(items: readonly SkippedItem[]): string {
  const rows = [COLUMNS.join(',')];
  for (const i of items) {
    rows.push(
      [i.account, i.service, i.path, i.name, i.id, i.version, i.size, i.issue.source, i.issue.code, i.issue.message].map(cell).join(','),
    );
  }
  return `${rows.join('\n')}\n`;
}

/** Where a run's report lives in the repository. */
export function skippedReportName(policy: string, run: string, shard: number): string {
  return `reports/${encodeURIComponent(policy)}/${encodeURIComponent(run)}/shard-${shard}-skipped.csv`;
}
