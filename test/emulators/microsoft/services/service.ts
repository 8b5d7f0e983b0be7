// One module per Graph workload. A service owns its slice of the tenant's data (generated from the
// spec, changed by the mutation step, exported for comparison) and the routes that serve it.
// Adding a workload adds a module here and a line in services/index.ts.
import type { Prng } from '../../../../bench/corpus/prng.ts';
import type { Router } from '../http/router.ts';
import type { EmulatorContext } from '../context.ts';
import type { MutationCounts, MutationSpec, TenantSpec } from '../tenant/spec.ts';
import type { Directory } from '../tenant/directory.ts';
import type { Sequence } from '../tenant/changelog.ts';

export interface GenerateInput {
  spec: TenantSpec;
  directory: Directory;
  /** The tenant-wide change sequence every ChangeLog of this tenant must share. */
  sequence: Sequence;
  /** A deterministic random stream for a label (`mail/<user id>`...). */
  rng(label: string): Prng;
}

export interface MutateInput {
  mutation: MutationSpec;
  directory: Directory;
  rng(label: string): Prng;
}

export interface Service {
  readonly name: string;
  /** Builds this workload's data; called once, after the directory exists. */
  generate(input: GenerateInput): void;
  /** Adds, changes, moves and removes items and folders; returns exact counts per account. */
  mutate(input: MutateInput): MutationCounts[];
  /**
   * The workload's data as plain JSON, for comparing a restored tenant item by item: one entry
   * per item with its id, folder path, metadata and the SHA-256 of its content.
   */
  export(): unknown;
  /**
   * Expires the delta tokens of one account's containers (one folder or drive when `container`
   * is given, else all of them): the next delta call with an old token gets the 410 answer.
   * Returns how many change logs were expired.
   */
  expireDeltaTokens(account: string, container?: string): number;
  /** Registers the workload's Graph routes. */
  routes(router: Router, ctx: EmulatorContext): void;
}
