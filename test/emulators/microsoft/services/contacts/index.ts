// Placeholder: the contacts workload is being written.
import type { Service } from '../service.ts';

export class ContactsService implements Service {
  readonly name = 'contacts';
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
