// Recurrence expansion the way Outlook does it: a series master carries a `patternedRecurrence`
// (pattern + range) and its occurrences are computed, not stored. Every time is UTC (the emulator
// serves `timeZone: "UTC"` and ignores `Prefer: outlook.timezone`).
import { GraphError } from '../../http/types.ts';

export interface RecurrencePattern {
  type: 'daily' | 'weekly' | 'absoluteMonthly' | 'relativeMonthly' | 'absoluteYearly' | 'relativeYearly';
  interval: number;
  month: number;
  dayOfMonth: number;
  daysOfWeek: string[];
  firstDayOfWeek: string;
  index: string;
}

export interface RecurrenceRange {
  type: 'numbered' | 'endDate' | 'noEnd';
  startDate: string;
  endDate: string;
  recurrenceTimeZone: string;
  numberOfOccurrences: number;
}

export interface PatternedRecurrence {
  pattern: RecurrencePattern;
  range: RecurrenceRange;
}

const DAY = 86_400_000;
const DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
/** A series without an end is expanded this far (Outlook expands lazily; a window never needs more). */
const MAX_OCCURRENCES = 1000;

/** Graph's `dateTimeTimeZone.dateTime`: local time with seven fractional digits, no offset. */
export function graphDateTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$10000');
}

export function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The original start day of an occurrence, `YYYYMMDD`: it names the occurrence in its id. */
export function dateKey(ms: number): string {
  return isoDate(ms).replaceAll('-', '');
}

/** Parses a `dateTimeTimeZone` (or a query-string date). Only UTC is modelled: a zone is ignored. */
export function parseDateTime(value: unknown, what: string): number {
  const raw = typeof value === 'string' ? value : (value as { dateTime?: unknown } | undefined)?.dateTime;
  if (typeof raw !== 'string' || raw === '') throw new GraphError(400, 'ErrorInvalidRequest', `The ${what} is missing or invalid.`);
  const hasZone = /(?:Z|[+-]\d\d:?\d\d)$/i.test(raw);
  const ms = Date.parse(hasZone ? raw : `${raw.replace(/(\.\d{3})\d+$/, '$1')}Z`);
  if (Number.isNaN(ms)) throw new GraphError(400, 'ErrorInvalidRequest', `The ${what} '${raw}' is not a valid date and time.`);
  return ms;
}

/** Fills what Graph fills in a recurrence a client sent (defaults it echoes back). */
export function normaliseRecurrence(input: unknown, start: number): PatternedRecurrence {
  const r = input as { pattern?: Partial<RecurrencePattern>; range?: Partial<RecurrenceRange> };
  const p = r?.pattern;
  const g = r?.range;
  const types = ['daily', 'weekly', 'absoluteMonthly', 'relativeMonthly', 'absoluteYearly', 'relativeYearly'];
  if (!p || !g || typeof p.type !== 'string' || !types.includes(p.type)) {
    throw new GraphError(400, 'ErrorInvalidRequest', 'The recurrence pattern is missing or invalid.');
  }
  const startDate = typeof g.startDate === 'string' ? g.startDate : isoDate(start);
  const rangeType = g.type === 'endDate' || g.type === 'noEnd' ? g.type : 'numbered';
  if (rangeType === 'numbered' && !(Number(g.numberOfOccurrences) > 0)) {
    throw new GraphError(400, 'ErrorInvalidRequest', 'numberOfOccurrences must be positive for a numbered recurrence range.');
  }
  return {
    pattern: {
      type: p.type,
      interval: Math.max(1, Number(p.interval ?? 1)),
      month: Number(p.month ?? 0),
      dayOfMonth: Number(p.dayOfMonth ?? 0),
      daysOfWeek: Array.isArray(p.daysOfWeek) ? p.daysOfWeek.map((d) => String(d).toLowerCase()) : [],
      firstDayOfWeek: typeof p.firstDayOfWeek === 'string' ? p.firstDayOfWeek.toLowerCase() : 'sunday',
      index: typeof p.index === 'string' ? p.index : 'first',
    },
    range: {
      type: rangeType,
      startDate,
      endDate: rangeType === 'endDate' && typeof g.endDate === 'string' ? g.endDate : '0001-01-01',
      recurrenceTimeZone: 'UTC',
      numberOfOccurrences: rangeType === 'numbered' ? Number(g.numberOfOccurrences) : 0,
    },
  };
}

/**
 * The original start instants of a series' occurrences, in order. `start` is the master's start
 * (its time of day applies to every occurrence).
 */
export function occurrenceStarts(recurrence: PatternedRecurrence, start: number): number[] {
  const { pattern, range } = recurrence;
  const timeOfDay = ((start % DAY) + DAY) % DAY;
  const first = Date.parse(`${range.startDate}T00:00:00Z`);
  const last = range.type === 'endDate' ? Date.parse(`${range.endDate}T00:00:00Z`) : Number.POSITIVE_INFINITY;
  const limit = range.type === 'numbered' ? Math.min(range.numberOfOccurrences, MAX_OCCURRENCES) : MAX_OCCURRENCES;
  const out: number[] = [];
  const push = (day: number): boolean => {
    if (day < first) return true;
    if (day > last || out.length >= limit) return false;
    out.push(day + timeOfDay);
    return out.length < limit;
  };
  const startDay = new Date(first);
  switch (pattern.type) {
    case 'daily':
      for (let day = first; push(day); day += pattern.interval * DAY);
      break;
    case 'weekly': {
      const wanted = (pattern.daysOfWeek.length ? pattern.daysOfWeek : [DAYS[startDay.getUTCDay()] as string])
        .map((d) => DAYS.indexOf(d))
        .filter((d) => d >= 0);
      const fdw = Math.max(0, DAYS.indexOf(pattern.firstDayOfWeek));
      const weekStart = first - ((startDay.getUTCDay() - fdw + 7) % 7) * DAY;
      const offsets = wanted.map((d) => (d - fdw + 7) % 7).sort((a, b) => a - b);
      for (let week = weekStart, going = true; going; week += pattern.interval * 7 * DAY) {
        for (const off of offsets) {
          going = push(week + off * DAY);
          if (!going) break;
        }
      }
      break;
    }
    default: {
      // Monthly and yearly patterns: the same day of the month (relative patterns are approximated
      // by the range's start day).
      const yearly = pattern.type === 'absoluteYearly' || pattern.type === 'relativeYearly';
      const stepMonths = yearly ? 12 * pattern.interval : pattern.interval;
      const dom =
        pattern.type === 'absoluteMonthly' || pattern.type === 'absoluteYearly'
          ? pattern.dayOfMonth || startDay.getUTCDate()
          : startDay.getUTCDate();
      const month0 = yearly && pattern.month > 0 ? pattern.month - 1 : startDay.getUTCMonth();
      for (let i = 0; ; i++) {
        const d = Date.UTC(startDay.getUTCFullYear(), month0 + i * stepMonths, dom);
        if (new Date(d).getUTCDate() !== dom) continue; // no 31st in this month
        if (!push(d)) break;
        if (i > MAX_OCCURRENCES * 2) break;
      }
    }
  }
  return out;
}
