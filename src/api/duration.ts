// Durations in the API are written the way people say them: `30d`, `12w`, `1y`, `1h30m`.
// Years are 365 days and weeks 7 days; calendar-exact retention is the repository's business.

export const DURATION_PATTERN = '^([0-9]+(s|m|h|d|w|y))+$';

const UNIT_SECONDS: Record<string, number> = {
  s: 1,
  m: 60,
  h: 3600,
  d: 86_400,
  w: 7 * 86_400,
  y: 365 * 86_400,
};

/** Parses a duration into milliseconds; throws with a message naming the bad value. */
export function parseDuration(text: string): number {
  if (!new RegExp(DURATION_PATTERN).test(text)) {
    throw new Error(`"${text}" is not a duration: use a number and a unit, for example 30d, 12w, 1y or 1h30m`);
  }
  let seconds = 0;
  for (const [, amount, unit] of text.matchAll(/([0-9]+)([smhdwy])/g)) {
    seconds += Number(amount) * (UNIT_SECONDS[unit!] ?? 0);
  }
  return seconds * 1000;
}

/** Formats milliseconds for humans in status and printer columns: `2h13m`, `45s`, `3d4h`. */
export function formatDuration(ms: number): string {
  let seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds === 0) return '0s';
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const amount = Math.floor(seconds / size);
    if (amount > 0) parts.push(`${amount}${unit}`);
    seconds -= amount * size;
    if (parts.length === 2) break;
  }
  return parts.join('');
}
