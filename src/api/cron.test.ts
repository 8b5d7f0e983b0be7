import { CronExpressionParser } from 'cron-parser';
import { describe, expect, it } from 'vitest';
import { isValidCron } from './cron.ts';

const valid = [
  '0 */6 * * *',
  '*/15 * * * *',
  '30 2 * * 1-5',
  '0 0 1 * *',
  '0 3 * * SUN',
  '0 3 * * mon-fri',
  '0 0 1 JAN,JUL *',
  '5,35 8-18/2 * * *',
  '59 23 31 12 7',
  '@daily',
  '@hourly',
  '@weekly',
];

const invalid = [
  '',
  '* * * *',
  '* * * * * *',
  '60 * * * *',
  '0 24 * * *',
  '0 0 32 * *',
  '0 0 0 * *',
  '0 0 * 13 *',
  '0 0 * * 8',
  'every 6 hours',
  '@every 6h',
  '*/0 * * * *',
  '0 0 * * FUNDAY',
];

describe('cron grammar of spec.schedule', () => {
  it.each(valid)('accepts %s, and so does the scheduler library', (expression) => {
    expect(isValidCron(expression)).toBe(true);
    expect(() => CronExpressionParser.parse(expression)).not.toThrow();
  });

  it.each(invalid)('rejects %j', (expression) => {
    expect(isValidCron(expression)).toBe(false);
  });
});
