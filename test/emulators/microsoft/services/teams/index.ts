// Placeholder: the teams workload is being written.
import type { Service } from '../service.ts';

export class TeamsService implements Service {
  readonly name = 'teams';
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
