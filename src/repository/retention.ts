// Retention: which snapshots a forget pass keeps and which it removes. Pure: no I/O and no clock.
//
// The rules are restic's `forget` policy (internal/restic/snapshot_policy.go, ApplyPolicy), applied
// per group:
// - Snapshots are sorted newest first (equal times: by id, so the answer never depends on the order
//   the repository listed them in).
// - keepLast/Hourly/Daily/Weekly/Monthly/Yearly = n: walk the snapshots newest first and keep one
//   whenever its bucket key differs from the key of the last snapshot that rule kept, until the rule
//   has used n buckets. Sorted newest first, that keeps the newest snapshot of each of the n newest
//   buckets. Like restic, the oldest snapshot of the group is also kept while the rule still has
//   buckets left, even if it shares a bucket with a newer kept one ("this maximizes the history
//   length kept"). 0 or absent turns a rule off; Infinity is restic's -1, unlimited.
// - Buckets are local calendar units in `timeZone` (default UTC): hour yyyy-mm-dd-hh, day
//   yyyy-mm-dd, ISO 8601 week (ISO week-year, so 31 Dec may be week 1 of the next year and 1 Jan
//   week 52/53 of the previous one), month yyyy-mm, year yyyy. Around a DST fall-back the repeated
//   local hour is one hourly bucket, as with restic's local times.
// - maxAgeMs is restic's --keep-within: keep every snapshot strictly newer than (newest snapshot of
//   the group − maxAgeMs). It is relative to the newest snapshot, not to the clock, so a group that
//   stops getting backups is not emptied by age alone. With `now`, snapshots dated after `now`
//   (clock skew) do not count as the newest for this, as in restic; if all are, all are kept.
// - A snapshot is kept if any rule keeps it; `reasons` lists every rule that did, in restic's wording
//   and order ("within 30d", "last snapshot", "hourly snapshot", ... "yearly snapshot").
// - An empty policy (every count 0 or absent, no maxAgeMs) keeps everything with "policy is empty"
//   and sets `emptyPolicy`; restic refuses to forget with an empty policy, and so should callers.
//
// On top of restic: the newest snapshot of every group (the current version) is always kept and
// carries the reason "newest in group". With restic's rules any non-empty policy keeps it anyway (the
// first snapshot opens a bucket of every active rule, and is within any max age of itself), so this
// is a guarantee that holds by construction and a label for callers, never a change of the outcome.

export interface RetentionPolicy {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  /** Keep every snapshot newer than the group's newest snapshot minus this many milliseconds. */
  maxAgeMs?: number;
}

export interface SnapshotRef {
  readonly id: string;
  readonly time: Date;
  /** The policy applies per group; for us policy + shard + account scope. */
  readonly group: string;
}

export interface RetentionOptions {
  /** IANA time zone whose local calendar defines the hour/day/week/month/year buckets. Default 'UTC'. */
  timeZone?: string;
  /** The current time; only used to ignore future-dated snapshots as the reference of maxAgeMs. */
  now?: Date;
}

export type RetentionReason =
  | 'last snapshot'
  | 'hourly snapshot'
  | 'daily snapshot'
  | 'weekly snapshot'
  | 'monthly snapshot'
  | 'yearly snapshot'
  | `within ${string}`
  | 'policy is empty'
  | 'newest in group';

export interface KeptSnapshot<S extends SnapshotRef = SnapshotRef> {
  snapshot: S;
  reasons: RetentionReason[];
}

export interface RetentionDecision<S extends SnapshotRef = SnapshotRef> {
  /** Groups in order of their key, each newest first. */
  keep: KeptSnapshot<S>[];
  /** Groups in order of their key, each newest first. */
  remove: S[];
  /** True when the policy has no rule at all: everything is kept and nothing should be forgotten. */
  emptyPolicy: boolean;
}

interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
}

type CountField = 'keepLast' | 'keepHourly' | 'keepDaily' | 'keepWeekly' | 'keepMonthly' | 'keepYearly';

interface CountRule {
  field: CountField;
  reason: RetentionReason;
  bucket: (local: () => LocalTime, index: number) => string;
}

// restic's order: last, hourly, daily, weekly, monthly, yearly.
const COUNT_RULES: readonly CountRule[] = [
  { field: 'keepLast', reason: 'last snapshot', bucket: (_local, index) => `#${index}` },
  { field: 'keepHourly', reason: 'hourly snapshot', bucket: (local) => `${ymd(local())}-${pad(local().hour, 2)}` },
  { field: 'keepDaily', reason: 'daily snapshot', bucket: (local) => ymd(local()) },
  { field: 'keepWeekly', reason: 'weekly snapshot', bucket: (local) => isoWeek(local()) },
  { field: 'keepMonthly', reason: 'monthly snapshot', bucket: (local) => `${pad(local().year, 4)}-${pad(local().month, 2)}` },
  { field: 'keepYearly', reason: 'yearly snapshot', bucket: (local) => pad(local().year, 4) },
];

export function applyRetention<S extends SnapshotRef>(
  snapshots: readonly S[],
  policy: RetentionPolicy,
  options: RetentionOptions = {},
): RetentionDecision<S> {
  for (const { field } of COUNT_RULES) {
    const value = policy[field];
    if (value !== undefined && !(value === Infinity || (Number.isInteger(value) && value >= 0))) {
      throw new RangeError(`retention ${field} must be a non-negative integer or Infinity, got ${value}`);
    }
  }
  const maxAgeMs = policy.maxAgeMs ?? 0;
  if (!Number.isFinite(maxAgeMs) || maxAgeMs < 0) {
    throw new RangeError(`retention maxAgeMs must be a non-negative finite number, got ${policy.maxAgeMs}`);
  }
  const now = options.now;
  if (now !== undefined && Number.isNaN(now.getTime())) throw new RangeError('retention now is an invalid Date');
  const toLocal = localTimeIn(options.timeZone ?? 'UTC');

  const groups = new Map<string, S[]>();
  const ids = new Set<string>();
  for (const snapshot of snapshots) {
    if (!(snapshot.time instanceof Date) || Number.isNaN(snapshot.time.getTime())) {
      throw new RangeError(`snapshot ${snapshot.id} has an invalid time`);
    }
    if (ids.has(snapshot.id)) throw new RangeError(`snapshot ${snapshot.id} is listed more than once`);
    ids.add(snapshot.id);
    const group = groups.get(snapshot.group);
    if (group) group.push(snapshot);
    else groups.set(snapshot.group, [snapshot]);
  }

  const counts = COUNT_RULES.map(({ field }) => policy[field] ?? 0);
  const emptyPolicy = maxAgeMs === 0 && counts.every((count) => count === 0);
  const withinReason: RetentionReason = `within ${formatMs(maxAgeMs)}`;
  const decision: RetentionDecision<S> = { keep: [], remove: [], emptyPolicy };

  for (const key of [...groups.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
    const list = [...groups.get(key)!].sort((a, b) => b.time.getTime() - a.time.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const cutoff = maxAgeMs > 0 ? withinCutoff(list, maxAgeMs, now) : Infinity;
    const left = [...counts];
    const lastKey: (string | undefined)[] = COUNT_RULES.map(() => undefined);

    list.forEach((snapshot, index) => {
      const reasons: RetentionReason[] = [];
      if (emptyPolicy) reasons.push('policy is empty');
      if (snapshot.time.getTime() > cutoff) reasons.push(withinReason);
      let local: LocalTime | undefined;
      const localTime = (): LocalTime => (local ??= toLocal(snapshot.time));
      COUNT_RULES.forEach((rule, i) => {
        if (left[i]! <= 0) return;
        const bucket = rule.bucket(localTime, index);
        if (bucket !== lastKey[i] || index === list.length - 1) {
          lastKey[i] = bucket;
          left[i]! -= 1; // Infinity stays Infinity
          reasons.push(rule.reason);
        }
      });
      if (index === 0) reasons.push('newest in group');
      if (reasons.length > 0) decision.keep.push({ snapshot, reasons });
      else decision.remove.push(snapshot);
    });
  }
  return decision;
}

// restic's findLatestTimestamp: the newest snapshot not after `now` is the reference; if every
// snapshot is in the future there is none (restic: the zero time) and everything is within.
function withinCutoff(newestFirst: readonly SnapshotRef[], maxAgeMs: number, now: Date | undefined): number {
  const reference = newestFirst.find((snapshot) => now === undefined || snapshot.time.getTime() < now.getTime());
  return reference === undefined ? -Infinity : reference.time.getTime() - maxAgeMs;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function localTimeIn(timeZone: string): (time: Date) => LocalTime {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    // Throws RangeError for an unknown time zone.
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      calendar: 'gregory',
      numberingSystem: 'latn',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, formatter);
  }
  const zoneFormatter = formatter;
  return (time) => {
    const parts: Record<string, string> = {};
    for (const part of zoneFormatter.formatToParts(time)) parts[part.type] = part.value;
    const year = Number(parts.year);
    return {
      year: parts.era === 'BC' ? 1 - year : year,
      month: Number(parts.month),
      day: Number(parts.day),
      hour: Number(parts.hour),
    };
  };
}

function ymd(local: LocalTime): string {
  return `${pad(local.year, 4)}-${pad(local.month, 2)}-${pad(local.day, 2)}`;
}

/** ISO 8601 week of a local calendar date: `2020-W53`, with the ISO week-year. */
function isoWeek(local: LocalTime): string {
  const date = new Date(0);
  date.setUTCFullYear(local.year, local.month - 1, local.day);
  const weekday = date.getUTCDay() || 7; // Monday 1 … Sunday 7
  date.setUTCDate(date.getUTCDate() + 4 - weekday); // the Thursday of this week decides the year
  const weekYear = date.getUTCFullYear();
  const january1 = new Date(0);
  january1.setUTCFullYear(weekYear, 0, 1);
  const week = Math.floor((date.getTime() - january1.getTime()) / 86_400_000 / 7) + 1;
  return `${pad(weekYear, 4)}-W${pad(week, 2)}`;
}

function pad(value: number, width: number): string {
  return value < 0 ? `-${String(-value).padStart(width, '0')}` : String(value).padStart(width, '0');
}

/** Milliseconds as `30d`, `1d4h30m`, `90s`, `1m500ms` for the "within" reason (m is minutes). */
function formatMs(ms: number): string {
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    const amount = Math.floor(rest / size);
    if (amount > 0) parts.push(`${amount}${unit}`);
    rest -= amount * size;
  }
  if (rest > 0 || parts.length === 0) parts.push(`${rest}ms`);
  return parts.join('');
}
