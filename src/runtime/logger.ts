// The runtime logs through this narrow interface so it needs no logger of its own: a pino
// `Logger` satisfies it, and tests can pass `silentLogger` or a recording fake.

export interface Logger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

const ignore = (): void => {};

export const silentLogger: Logger = { debug: ignore, info: ignore, warn: ignore, error: ignore };
