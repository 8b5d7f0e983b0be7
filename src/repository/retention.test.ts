// Table-driven like restic's internal/restic/snapshot_policy_test.go. Every expectation below was
// worked out by hand from the table of bucket keys, never by running applyRetention.
import { describe, expect, it } from 'vitest';
import { applyRetention } from './retention.ts';
import type { RetentionOptions, RetentionPolicy, SnapshotRef } from './retention.ts';

const BERLIN = 'Europe/Berlin';

// Oldest first. Berlin is UTC+1 (CET) in winter and UTC+2 (CEST) in summer; in 2023 summer time runs
// from 2023-03-26 01:00Z to 2023-10-29 01:00Z. Columns: UTC day/hour and ISO week, then Berlin when
// any key differs.
const TIMES: Record<string, string> = {
  s01: '2020-12-20T12:00:00Z', // Sun, 2020-W51
  s02: '2020-12-27T12:00:00Z', // Sun, 2020-W52
  s03: '2020-12-31T10:00:00Z', // Thu, 2020-W53 (2020 has 53 ISO weeks: Mon 28 Dec … Sun 3 Jan)
  s04: '2021-01-02T10:00:00Z', // Sat, 2020-W53 although the year is 2021
  s05: '2021-01-03T23:30:00Z', // Sun, 2020-W53 | Berlin: Mon 2021-01-04 00:30, 2021-W01
  s06: '2021-01-05T10:00:00Z', // Tue, 2021-W01
  s07: '2021-06-15T10:00:00Z', // Tue, 2021-W24
  s08: '2021-12-31T23:30:00Z', // Fri, 2021-W52, year 2021 | Berlin: Sat 2022-01-01 00:30, 2021-W52, year 2022
  s09: '2022-01-01T12:00:00Z', // Sat, 2021-W52, year 2022
  s10: '2022-07-01T10:00:00Z', // Fri, 2022-W26
  s11: '2023-01-01T10:00:00Z', // Sun, 2022-W52, year 2023
  s12: '2023-03-25T22:30:00Z', // Sat, 2023-W12, h22 | Berlin: 23:30 CET, same day
  s13: '2023-03-26T00:30:00Z', // Sun, 2023-W12, h00 | Berlin: 01:30 CET
  s14: '2023-03-26T01:30:00Z', // Sun, 2023-W12, h01 | Berlin: 03:30 CEST (02:xx does not exist that night)
  s15: '2023-03-26T22:30:00Z', // Sun, 2023-W12, h22 | Berlin: Mon 2023-03-27 00:30 CEST, 2023-W13
  s16: '2023-10-28T12:00:00Z', // Sat, 2023-W43, h12 | Berlin: 14:00 CEST
  s17: '2023-10-29T00:30:00Z', // Sun, 2023-W43, h00 | Berlin: 02:30 CEST
  s18: '2023-10-29T01:30:00Z', // Sun, 2023-W43, h01 | Berlin: 02:30 CET, the repeated hour: same bucket as s17
  s19: '2023-10-29T02:30:00Z', // Sun, 2023-W43, h02 | Berlin: 03:30 CET
  s20: '2023-12-30T08:00:00Z', // Sat, 2023-W52
  s21: '2023-12-30T20:00:00Z', // Sat, 2023-W52
  s22: '2023-12-31T23:30:00Z', // Sun, 2023-W52, 2023-12, 2023 | Berlin: Mon 2024-01-01 00:30, 2024-W01, 2024-01, 2024
  s23: '2024-01-01T09:00:00Z', // Mon, 2024-W01 (2024 starts on a Monday), h09
  s24: '2024-01-01T09:40:00Z', // Mon, h09 (same hour as s23)
  s25: '2024-01-02T06:00:00Z', // Tue, h06
  s26: '2024-01-02T06:15:00Z', // Tue, h06 (same hour as s25)
  s27: '2024-01-02T07:00:00Z', // Tue, h07
  s28: '2024-01-02T23:30:00Z', // Tue, h23 | Berlin: Wed 2024-01-03 00:30
  s29: '2024-01-03T10:00:00Z', // Wed, h10
  s30: '2024-01-03T10:30:00Z', // Wed, h10 (same hour as s29), the newest
};

function refs(times: Record<string, string>, group = 'g'): SnapshotRef[] {
  return Object.entries(times).map(([id, time]) => ({ id, time: new Date(time), group }));
}

const ALL = refs(TIMES);
const ALL_IDS_NEWEST_FIRST = Object.keys(TIMES).reverse();

/** The `count` newest ids, newest first: newest(3) is s30, s29, s28. */
function newest(count: number): string[] {
  return ALL_IDS_NEWEST_FIRST.slice(0, count);
}

function without(...ids: string[]): string[] {
  return ALL_IDS_NEWEST_FIRST.filter((id) => !ids.includes(id));
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Case {
  name: string;
  policy: RetentionPolicy;
  options?: RetentionOptions;
  keep: string[]; // newest first
  reasons?: Record<string, string[]>;
}

const CASES: Case[] = [
  // keepLast: the n newest, nothing else.
  { name: 'last 1', policy: { keepLast: 1 }, keep: ['s30'], reasons: { s30: ['last snapshot', 'newest in group'] } },
  { name: 'last 3', policy: { keepLast: 3 }, keep: ['s30', 's29', 's28'], reasons: { s28: ['last snapshot'] } },
  // 29 buckets are used up at s02, so s01 (the oldest) has no count left.
  { name: 'last 29', policy: { keepLast: 29 }, keep: without('s01') },
  { name: 'last 30', policy: { keepLast: 30 }, keep: ALL_IDS_NEWEST_FIRST },
  { name: 'last 100', policy: { keepLast: 100 }, keep: ALL_IDS_NEWEST_FIRST },
  { name: 'last unlimited', policy: { keepLast: Infinity }, keep: ALL_IDS_NEWEST_FIRST },

  // keepHourly, UTC: s29, s26 and s24 are the newest of their hour; s29, s25, s23 share one.
  { name: 'hourly 3', policy: { keepHourly: 3 }, keep: ['s30', 's28', 's27'] },
  {
    name: 'hourly 5',
    policy: { keepHourly: 5 },
    keep: ['s30', 's28', 's27', 's26', 's24'],
    reasons: { s30: ['hourly snapshot', 'newest in group'], s24: ['hourly snapshot'] },
  },
  { name: 'hourly unlimited', policy: { keepHourly: Infinity }, keep: without('s29', 's25', 's23') },
  // Berlin: s17 (02:30 CEST) and s18 (02:30 CET) are the same local hour after the fall-back.
  {
    name: 'hourly unlimited in Berlin',
    policy: { keepHourly: Infinity },
    options: { timeZone: BERLIN },
    keep: without('s29', 's25', 's23', 's17'),
  },

  // keepDaily, UTC days newest first: s30 (01-03), s28 (01-02), s24 (01-01), s22 (12-31), s21 (12-30),
  // s19, s16, s15, s12, s11, s10, s09, s08, s07, s06, s05, s04, s03, s02, s01: 20 days.
  { name: 'daily 1', policy: { keepDaily: 1 }, keep: ['s30'] },
  { name: 'daily 3', policy: { keepDaily: 3 }, keep: ['s30', 's28', 's24'], reasons: { s28: ['daily snapshot'] } },
  { name: 'daily 5', policy: { keepDaily: 5 }, keep: ['s30', 's28', 's24', 's22', 's21'] },
  // s28 (23:30Z) is 3 January in Berlin, so the 2nd of January is s27; s22 (23:30Z on 31 Dec) is
  // 1 January in Berlin, together with s24.
  { name: 'daily 3 in Berlin', policy: { keepDaily: 3 }, options: { timeZone: BERLIN }, keep: ['s30', 's27', 's24'] },
  { name: 'daily 5 in Berlin', policy: { keepDaily: 5 }, options: { timeZone: BERLIN }, keep: ['s30', 's27', 's24', 's21', 's19'] },
  {
    name: 'daily unlimited',
    policy: { keepDaily: Infinity },
    keep: without('s29', 's27', 's26', 's25', 's23', 's20', 's18', 's17', 's14', 's13'),
  },
  // 20 days exist: 20 keeps them all, 19 runs out before s01.
  { name: 'daily 20', policy: { keepDaily: 20 }, keep: without('s29', 's27', 's26', 's25', 's23', 's20', 's18', 's17', 's14', 's13') },
  {
    name: 'daily 19',
    policy: { keepDaily: 19 },
    keep: without('s29', 's27', 's26', 's25', 's23', 's20', 's18', 's17', 's14', 's13', 's01'),
  },

  // keepWeekly, UTC ISO weeks newest first: s30 (2024-W01), s22 (2023-W52), s19 (W43), s15 (W12),
  // s11 (2022-W52), s10 (W26), s09 (2021-W52, with s08), s07 (W24), s06 (2021-W01),
  // s05 (2020-W53, with s04 and s03 across the new year), s02 (W52), s01 (W51): 12 weeks.
  { name: 'weekly 4', policy: { keepWeekly: 4 }, keep: ['s30', 's22', 's19', 's15'] },
  { name: 'weekly 5', policy: { keepWeekly: 5 }, keep: ['s30', 's22', 's19', 's15', 's11'] },
  {
    name: 'weekly unlimited',
    policy: { keepWeekly: Infinity },
    keep: ['s30', 's22', 's19', 's15', 's11', 's10', 's09', 's07', 's06', 's05', 's02', 's01'],
    reasons: { s05: ['weekly snapshot'] },
  },
  // Berlin: s22 moves into 2024-W01, s15 into 2023-W13 (Monday 00:30), s05 into 2021-W01 with s06,
  // so s04 becomes the newest of 2020-W53.
  { name: 'weekly 4 in Berlin', policy: { keepWeekly: 4 }, options: { timeZone: BERLIN }, keep: ['s30', 's21', 's19', 's15'] },
  { name: 'weekly 5 in Berlin', policy: { keepWeekly: 5 }, options: { timeZone: BERLIN }, keep: ['s30', 's21', 's19', 's15', 's14'] },
  {
    name: 'weekly unlimited in Berlin',
    policy: { keepWeekly: Infinity },
    options: { timeZone: BERLIN },
    keep: ['s30', 's21', 's19', 's15', 's14', 's11', 's10', 's09', 's07', 's06', 's04', 's02', 's01'],
  },

  // keepMonthly, UTC months newest first: s30 (2024-01), s22 (2023-12), s19 (10), s15 (03), s11 (01),
  // s10 (2022-07), s09 (2022-01), s08 (2021-12), s07 (06), s06 (01), s03 (2020-12, with s02, s01).
  { name: 'monthly 2', policy: { keepMonthly: 2 }, keep: ['s30', 's22'] },
  {
    name: 'monthly 11',
    policy: { keepMonthly: 11 },
    keep: ['s30', 's22', 's19', 's15', 's11', 's10', 's09', 's08', 's07', 's06', 's03'],
  },
  // restic keeps the oldest snapshot while a rule has counts left, although s01 is in s03's month.
  {
    name: 'monthly 12 keeps the oldest',
    policy: { keepMonthly: 12 },
    keep: ['s30', 's22', 's19', 's15', 's11', 's10', 's09', 's08', 's07', 's06', 's03', 's01'],
    reasons: { s01: ['monthly snapshot'] },
  },
  // Berlin: s22 belongs to 2024-01 and s08 to 2022-01; unlimited always keeps the oldest too.
  {
    name: 'monthly unlimited in Berlin',
    policy: { keepMonthly: Infinity },
    options: { timeZone: BERLIN },
    keep: ['s30', 's21', 's19', 's15', 's11', 's10', 's09', 's07', 's06', 's03', 's01'],
  },

  // keepYearly, UTC years newest first: s30 (2024), s22 (2023), s10 (2022), s08 (2021), s03 (2020).
  { name: 'yearly 2', policy: { keepYearly: 2 }, keep: ['s30', 's22'] },
  { name: 'yearly 5', policy: { keepYearly: 5 }, keep: ['s30', 's22', 's10', 's08', 's03'] },
  { name: 'yearly 6 keeps the oldest', policy: { keepYearly: 6 }, keep: ['s30', 's22', 's10', 's08', 's03', 's01'] },
  { name: 'yearly unlimited', policy: { keepYearly: Infinity }, keep: ['s30', 's22', 's10', 's08', 's03', 's01'] },
  // New Year's Eve 23:30Z is already the next year in Berlin: s22 is 2024, s08 is 2022.
  { name: 'yearly 5 in Berlin', policy: { keepYearly: 5 }, options: { timeZone: BERLIN }, keep: ['s30', 's21', 's10', 's07', 's03'] },

  // Combinations: the union, with every rule's reason.
  {
    name: 'last 2, daily 3, weekly 2, monthly 2, yearly 3',
    policy: { keepLast: 2, keepDaily: 3, keepWeekly: 2, keepMonthly: 2, keepYearly: 3 },
    keep: ['s30', 's29', 's28', 's24', 's22', 's10'],
    reasons: {
      s30: ['last snapshot', 'daily snapshot', 'weekly snapshot', 'monthly snapshot', 'yearly snapshot', 'newest in group'],
      s29: ['last snapshot'],
      s28: ['daily snapshot'],
      s24: ['daily snapshot'],
      s22: ['weekly snapshot', 'monthly snapshot', 'yearly snapshot'],
      s10: ['yearly snapshot'],
    },
  },
  // Berlin hours: s30 (Jan 3 11h), s28 (Jan 3 00h); Berlin days: s30 (Jan 3), s27 (Jan 2).
  {
    name: 'hourly 2 and daily 2 in Berlin',
    policy: { keepHourly: 2, keepDaily: 2 },
    options: { timeZone: BERLIN },
    keep: ['s30', 's28', 's27'],
    reasons: { s30: ['hourly snapshot', 'daily snapshot', 'newest in group'], s28: ['hourly snapshot'], s27: ['daily snapshot'] },
  },

  // maxAgeMs, relative to the newest snapshot s30 (2024-01-03 10:30Z).
  // 1 day: after 2024-01-02 10:30Z, that is s28 (23:30) but not s27 (07:00).
  {
    name: 'within 1d',
    policy: { maxAgeMs: DAY },
    keep: ['s30', 's29', 's28'],
    reasons: { s30: ['within 1d', 'newest in group'], s29: ['within 1d'] },
  },
  // 28h30m reaches back exactly to s25 (2024-01-02 06:00Z); restic keeps only strictly newer ones.
  {
    name: 'within, the boundary is exclusive',
    policy: { maxAgeMs: 28 * HOUR + 30 * 60_000 },
    keep: ['s30', 's29', 's28', 's27', 's26'],
    reasons: { s26: ['within 1d4h30m'] },
  },
  // 7 days: after 2023-12-27 10:30Z, s20 (2023-12-30) and newer.
  { name: 'within 7d', policy: { maxAgeMs: 7 * DAY }, keep: newest(11) },
  { name: 'within 30d', policy: { maxAgeMs: 30 * DAY }, keep: newest(11), reasons: { s20: ['within 30d'] } },
  // Relative to s30, not the clock: `now` years later changes nothing.
  {
    name: 'within 1d, now far away',
    policy: { maxAgeMs: DAY },
    options: { now: new Date('2031-01-01T00:00:00Z') },
    keep: ['s30', 's29', 's28'],
  },
  // within 1d: s30, s29, s28; monthly 3: s30, s22, s19.
  {
    name: 'within 1d and monthly 3',
    policy: { maxAgeMs: DAY, keepMonthly: 3 },
    keep: ['s30', 's29', 's28', 's22', 's19'],
    reasons: { s30: ['within 1d', 'monthly snapshot', 'newest in group'], s28: ['within 1d'], s19: ['monthly snapshot'] },
  },

  // An empty policy keeps everything; zeros are the same as absent rules.
  {
    name: 'empty policy',
    policy: {},
    keep: ALL_IDS_NEWEST_FIRST,
    reasons: { s30: ['policy is empty', 'newest in group'], s01: ['policy is empty'] },
  },
  {
    name: 'all zero is empty',
    policy: { keepLast: 0, keepHourly: 0, keepDaily: 0, keepWeekly: 0, keepMonthly: 0, keepYearly: 0, maxAgeMs: 0 },
    keep: ALL_IDS_NEWEST_FIRST,
  },
  { name: 'daily 0 only is empty', policy: { keepDaily: 0 }, keep: ALL_IDS_NEWEST_FIRST },
];

describe('applyRetention, restic forget semantics on one group', () => {
  it.each(CASES)('$name', ({ policy, options, keep, reasons }) => {
    const decision = applyRetention(ALL, policy, options);
    expect(decision.keep.map((k) => k.snapshot.id)).toEqual(keep);
    expect(decision.remove.map((s) => s.id)).toEqual(ALL_IDS_NEWEST_FIRST.filter((id) => !keep.includes(id)));
    for (const [id, expected] of Object.entries(reasons ?? {})) {
      expect(decision.keep.find((k) => k.snapshot.id === id)?.reasons, id).toEqual(expected);
    }
    // The current version is never forgotten.
    expect(decision.keep[0]?.snapshot.id).toBe('s30');
    expect(decision.keep[0]?.reasons.at(-1)).toBe('newest in group');
  });

  it('flags the empty policy and only the empty policy', () => {
    expect(applyRetention(ALL, {}).emptyPolicy).toBe(true);
    expect(applyRetention(ALL, { keepDaily: 0 }).emptyPolicy).toBe(true);
    expect(applyRetention(ALL, { keepDaily: 1 }).emptyPolicy).toBe(false);
    expect(applyRetention(ALL, { maxAgeMs: 1 }).emptyPolicy).toBe(false);
  });

  it('does not depend on the input order and does not change the input', () => {
    const shuffled = [ALL[7]!, ...ALL.slice(20), ...ALL.slice(0, 7), ...ALL.slice(8, 20)];
    const before = shuffled.map((s) => s.id);
    const decision = applyRetention(shuffled, { keepDaily: 3 });
    expect(decision.keep.map((k) => k.snapshot.id)).toEqual(['s30', 's28', 's24']);
    expect(shuffled.map((s) => s.id)).toEqual(before);
  });
});

describe('applyRetention, details of the buckets', () => {
  // Around the Berlin fall-back, s19 (03:30 CET), s18 (02:30 CET), s17 (02:30 CEST), s16 (Sat 14:00):
  // in Berlin s17 shares s18's hour, so the third hourly bucket is s16; in UTC it is s17.
  const fallBack = ALL.filter((s) => ['s16', 's17', 's18', 's19'].includes(s.id));
  it.each([
    { timeZone: 'UTC', keep: ['s19', 's18', 's17'] },
    { timeZone: BERLIN, keep: ['s19', 's18', 's16'] },
  ])('hourly 3 around the DST fall-back in $timeZone', ({ timeZone, keep }) => {
    const decision = applyRetention(fallBack, { keepHourly: 3 }, { timeZone });
    expect(decision.keep.map((k) => k.snapshot.id)).toEqual(keep);
  });

  // Three snapshots on one day: daily 1 keeps the newest; daily 2 has a count left when it reaches
  // the oldest, which restic keeps although it is in the same day.
  const oneDay = refs({ a: '2024-05-01T08:00:00Z', b: '2024-05-01T12:00:00Z', c: '2024-05-01T16:00:00Z' });
  it.each([
    { policy: { keepDaily: 1 }, keep: ['c'] },
    { policy: { keepDaily: 2 }, keep: ['c', 'a'] },
    { policy: { keepDaily: Infinity }, keep: ['c', 'a'] },
    { policy: { keepLast: 1, keepDaily: 1 }, keep: ['c'] },
  ])('oldest of one day with $policy', ({ policy, keep }) => {
    const decision = applyRetention(oneDay, policy);
    expect(decision.keep.map((k) => k.snapshot.id)).toEqual(keep);
  });

  it('orders snapshots with the same time by id', () => {
    const same = refs({ y: '2024-05-01T08:00:00Z', x: '2024-05-01T08:00:00Z' });
    const decision = applyRetention(same, { keepLast: 1 });
    expect(decision.keep.map((k) => k.snapshot.id)).toEqual(['x']);
    expect(decision.remove.map((s) => s.id)).toEqual(['y']);
  });

  it('keeps a single snapshot under any policy', () => {
    const one = refs({ only: '2024-05-01T08:00:00Z' });
    expect(applyRetention(one, { keepLast: 1 }).keep).toEqual([{ snapshot: one[0], reasons: ['last snapshot', 'newest in group'] }]);
    expect(applyRetention(one, { maxAgeMs: 1 }).keep[0]?.reasons).toEqual(['within 1ms', 'newest in group']);
  });

  it('returns nothing for no snapshots', () => {
    expect(applyRetention([], { keepLast: 1 })).toEqual({ keep: [], remove: [], emptyPolicy: false });
    expect(applyRetention([], {})).toEqual({ keep: [], remove: [], emptyPolicy: true });
  });
});

describe('applyRetention with a clock-skewed snapshot', () => {
  // A snapshot dated in the future would make every real one look old to maxAge. With `now`, restic
  // measures from the newest snapshot that is not in the future (s30); the future one is newer than
  // that cutoff and is kept too, and as the newest it is the current version.
  const future = { id: 'future', time: new Date('2024-06-01T00:00:00Z'), group: 'g' };
  it('measures maxAge from the newest snapshot before now', () => {
    const decision = applyRetention([...ALL, future], { maxAgeMs: DAY }, { now: new Date('2024-01-04T00:00:00Z') });
    expect(decision.keep.map((k) => k.snapshot.id)).toEqual(['future', 's30', 's29', 's28']);
    expect(decision.keep[0]?.reasons).toEqual(['within 1d', 'newest in group']);
  });
  it('without now, measures from the newest snapshot whatever its date', () => {
    const decision = applyRetention([...ALL, future], { maxAgeMs: DAY });
    expect(decision.keep.map((k) => k.snapshot.id)).toEqual(['future']);
  });
  it('keeps everything by age when every snapshot is after now', () => {
    const decision = applyRetention(ALL, { maxAgeMs: DAY }, { now: new Date('2000-01-01T00:00:00Z') });
    expect(decision.keep.map((k) => k.snapshot.id)).toEqual(ALL_IDS_NEWEST_FIRST);
  });
});

describe('applyRetention per group', () => {
  // Group A is the main table. Group B has newer snapshots: its newest b1 is two months after s30.
  const groupB = refs({ b3: '2024-01-03T11:00:00Z', b2: '2024-02-29T06:00:00Z', b1: '2024-03-01T00:00:00Z' }, 'B');
  const groupA = refs(TIMES, 'A');
  // Interleaved, B first, to show that the output order comes from the group keys and times.
  const mixed = [...groupB, ...groupA].sort((x, y) => x.id.localeCompare(y.id));

  it.each([
    // Each group keeps its own newest.
    { name: 'last 1', policy: { keepLast: 1 }, keep: ['s30', 'b1'] },
    { name: 'last 2', policy: { keepLast: 2 }, keep: ['s30', 's29', 'b1', 'b2'] },
    // Measured from each group's newest: A from s30, B from b1 (cutoff 2024-02-29 00:00Z). Measured from
    // b1 for everybody, A would keep nothing.
    { name: 'within 1d', policy: { maxAgeMs: DAY }, keep: ['s30', 's29', 's28', 'b1', 'b2'] },
    // B's months: b1 (2024-03), b2 (2024-02), b3 (2024-01), each in its own bucket.
    { name: 'monthly 2', policy: { keepMonthly: 2 }, keep: ['s30', 's22', 'b1', 'b2'] },
    { name: 'daily 0 (empty)', policy: { keepDaily: 0 }, keep: [...ALL_IDS_NEWEST_FIRST, 'b1', 'b2', 'b3'] },
  ])('$name', ({ policy, keep }) => {
    const decision = applyRetention(mixed, policy);
    expect(decision.keep.map((k) => k.snapshot.id)).toEqual(keep);
    const allIds = [...ALL_IDS_NEWEST_FIRST, 'b1', 'b2', 'b3'];
    expect(decision.remove.map((s) => s.id)).toEqual(allIds.filter((id) => !keep.includes(id)));
    for (const group of ['A', 'B']) {
      const newestOfGroup = decision.keep.find((k) => k.snapshot.group === group);
      expect(newestOfGroup?.reasons.at(-1)).toBe('newest in group');
    }
    expect(decision.keep.filter((k) => k.reasons.includes('newest in group')).map((k) => k.snapshot.id)).toEqual(['s30', 'b1']);
  });
});

describe('applyRetention rejects what it cannot apply', () => {
  it.each([
    { keepDaily: -1 },
    { keepLast: 1.5 },
    { keepWeekly: Number.NaN },
    { keepYearly: -Infinity },
    { maxAgeMs: -1 },
    { maxAgeMs: Infinity },
  ] as RetentionPolicy[])('%o', (policy) => {
    expect(() => applyRetention(ALL, policy)).toThrow(RangeError);
  });

  it('an unknown time zone', () => {
    expect(() => applyRetention(ALL, { keepDaily: 1 }, { timeZone: 'Mars/Olympus_Mons' })).toThrow(RangeError);
  });

  it('an invalid snapshot time', () => {
    expect(() => applyRetention([{ id: 'x', time: new Date('nope'), group: 'g' }], { keepLast: 1 })).toThrow(/invalid time/);
  });

  it('a snapshot listed twice', () => {
    expect(() => applyRetention([...ALL, { ...ALL[0]!, group: 'other' }], { keepLast: 1 })).toThrow(/more than once/);
  });
});
