// The cron grammar accepted in BackupPolicy.spec.schedule. One regular expression serves both the
// CRD (a CEL `matches` rule, so `kubectl apply` rejects a bad schedule) and the reconciler, so the
// two can never disagree. It is the standard five-field grammar of Kubernetes CronJobs (minute,
// hour, day of month, month, day of week; names for months and days; lists, ranges and steps)
// plus the usual macros. Bounds are checked per field: `61 * * * *` is rejected.

const MONTH_NAMES = 'JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC';
const DAY_NAMES = 'SUN|MON|TUE|WED|THU|FRI|SAT';

const fieldValues = {
  minute: '[0-5]?[0-9]',
  hour: '[01]?[0-9]|2[0-3]',
  dayOfMonth: '0?[1-9]|[12][0-9]|3[01]',
  month: `0?[1-9]|1[0-2]|${MONTH_NAMES}`,
  dayOfWeek: `[0-7]|${DAY_NAMES}`,
};

function field(values: string): string {
  const value = `(${values})`;
  const atom = `(\\*|\\?|${value}(-${value})?)(/[1-9][0-9]?)?`;
  return `${atom}(,${atom})*`;
}

const fields = [fieldValues.minute, fieldValues.hour, fieldValues.dayOfMonth, fieldValues.month, fieldValues.dayOfWeek].map(field);

const MACROS = '@(yearly|annually|monthly|weekly|daily|midnight|hourly)';

/** Regular expression source (RE2 and ECMAScript compatible), matched case-insensitively. */
export const CRON_PATTERN = `^(${MACROS}|${fields.join(' +')})$`;

const cronRegExp = new RegExp(CRON_PATTERN, 'i');

export function isValidCron(expression: string): boolean {
  return cronRegExp.test(expression.trim());
}

/** The default schedule: every 6 hours, on the hour. */
export const DEFAULT_SCHEDULE = '0 */6 * * *';
