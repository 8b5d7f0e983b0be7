// JSON logs on stdout, one object per line, for every process of the operator. Fields that could
// carry credentials are redacted at the logger, so a careless log call cannot leak a secret.
import { pino, type Logger as PinoLogger } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export const REDACTED_PATHS = [
  'token',
  'accessToken',
  'clientSecret',
  'password',
  'secret',
  'authorization',
  'headers.authorization',
  '*.token',
  '*.accessToken',
  '*.clientSecret',
  '*.password',
  '*.secret',
  '*.authorization',
  '*.data',
  '*.stringData',
];

export function createLogger(component: string, level: LogLevel = 'info', destination?: NodeJS.WritableStream): PinoLogger {
  return pino(
    {
      level,
      base: { component },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    destination ?? process.stdout,
  );
}
