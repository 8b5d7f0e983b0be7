// Placeholder: the drive workload is being written.
import type { Service } from '../service.ts';

export class DriveService implements Service {
  readonly name = 'drive';
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
