// Placeholder: the directory workload is being written.
import type { Service } from '../service.ts';

export class DirectoryService implements Service {
  readonly name = 'directory';
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
