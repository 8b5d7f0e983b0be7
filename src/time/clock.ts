// Time comes from an injected clock so that decisions and waits can be tested without sleeping;
// every layer (runtime, providers, repository) takes it from here.

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
