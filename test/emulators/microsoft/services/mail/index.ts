// Placeholder: the mail workload is being written.
import type { Service } from '../service.ts';

export class MailService implements Service {
  readonly name = 'mail';
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
