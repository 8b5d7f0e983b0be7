// Placeholder: the calendar workload is being written.
import type { Service } from '../service.ts';

export class CalendarService implements Service {
  readonly name = 'calendar';
  generate(): void {}
  mutate(): [] {
    return [];
  }
  export(): unknown {
    return [];
  }
  expireDeltaTokens(): number {
    return 0;
  }
  routes(): void {}
}
