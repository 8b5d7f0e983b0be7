// The reasons catalog: every condition and run reason the operator writes, with the one-line
// message a user sees and what to do about it. The README table is rendered from this list
// (`npm run generate`), so the two cannot drift. Transient reasons need no action.

export interface ReasonEntry {
  reason: string;
  message: string;
  remediation: string;
  /** Transient: a new run is scheduled by itself and no one needs to act. */
  transient: boolean;
}

const NO_ACTION = 'No action is needed; a new run is scheduled automatically.';

export const REASONS = {
  // Healthy states
  Ready: { message: 'The object is valid and ready.', remediation: 'None.', transient: false },
  Succeeded: { message: 'Every item was processed.', remediation: 'None.', transient: false },
  Protected: { message: 'Every selected account had a successful backup in the last 24 hours.', remediation: 'None.', transient: false },
  Scheduled: { message: 'The run is waiting to start.', remediation: 'None.', transient: true },
  InProgress: { message: 'The run is in progress.', remediation: 'None.', transient: true },
  OnboardingInProgress: {
    message: 'The first full backup (base) of one or more accounts is still running; it may take up to 72 hours.',
    remediation: 'None; alerts stay quiet while accounts are onboarding.',
    transient: true,
  },
  // Problems with the manifest or its references
  InvalidConfiguration: {
    message: 'The object is not valid.',
    remediation: 'Fix the field named in the message and apply the object again.',
    transient: false,
  },
  ConnectorNotFound: {
    message: 'The referenced Connector does not exist in this namespace.',
    remediation: 'Create the Connector, or correct spec.connectorRef.name.',
    transient: false,
  },
  ConnectorNotReady: {
    message: 'The referenced Connector is not Ready.',
    remediation: 'Look at the Connector condition Ready and fix what its message names.',
    transient: false,
  },
  PolicyNotFound: {
    message: 'The referenced BackupPolicy does not exist in this namespace.',
    remediation: 'Create the BackupPolicy, or correct spec.policyRef.name.',
    transient: false,
  },
  SecretNotFound: {
    message: 'A referenced Secret or Secret key does not exist in this namespace.',
    remediation: 'Create the Secret with the key named in the message, in the same namespace.',
    transient: false,
  },
  SnapshotNotFound: {
    message: 'No snapshot matches the requested snapshot id or point in time.',
    remediation: 'List snapshots with `saasbackup repo snapshots` and pick an existing one.',
    transient: false,
  },
  // Source (SaaS) problems, as users know them from the job monitor
  AuthenticationFailed: {
    message: 'Authentication to the SaaS tenant failed: the credentials are wrong, expired or revoked.',
    remediation: 'Renew the client secret, certificate or service-account key, update the Secret, and check admin consent.',
    transient: false,
  },
  InsufficientPermissions: {
    message: 'The application lacks API permissions that the selected services need.',
    remediation: 'Grant the permissions listed in status.permissions.missing and give admin consent.',
    transient: false,
  },
  ApiRequestLimitReached: {
    message: 'The provider API request limit was reached.',
    remediation: `${NO_ACTION} If it persists, lower run.concurrency or raise run.apiBudgetPercent.`,
    transient: true,
  },
  TenantNotFound: {
    message: 'The tenant no longer exists or the tenant id is wrong.',
    remediation: 'Check that the Microsoft 365 tenant has not expired and that spec.microsoft365.tenantId is right.',
    transient: false,
  },
  OrganizationNotFound: {
    message: 'No organization was found for the configured admin and domain.',
    remediation: 'Check spec.google.domain and adminEmail, and that the admin has a license and access.',
    transient: false,
  },
  AuthorizationServerUnavailable: {
    message: 'The authorization server is temporarily unavailable.',
    remediation: NO_ACTION,
    transient: true,
  },
  ApiAccessDisabled: {
    message: 'API access is disabled for the tenant or the service.',
    remediation: 'Enable the API for the project or tenant (for example the Gmail API in the Google Cloud project).',
    transient: false,
  },
  GroupsMissing: {
    message: 'The account selection names groups that no longer exist in the tenant.',
    remediation: 'Remove the missing groups from spec.accounts, or create them again in the directory.',
    transient: false,
  },
  // Storage and execution
  StorageUnavailable: {
    message: 'The repository storage cannot be reached or refused the request.',
    remediation: 'Check the S3 endpoint, bucket and credentials Secret; the run is retried on schedule.',
    transient: false,
  },
  RepositoryKeyInvalid: {
    message: 'The repository key from the encryption-key Secret does not open the repository.',
    remediation: 'Restore the original key into the Secret; a repository cannot be read without it.',
    transient: false,
  },
  JobAborted: { message: 'The job was aborted before it finished.', remediation: NO_ACTION, transient: true },
  InternalError: {
    message: 'An unexpected error occurred.',
    remediation: 'Collect the worker logs and the object status and report the problem.',
    transient: false,
  },
  ItemsSkipped: {
    message: 'One or more items were skipped.',
    remediation: 'See the skipped-items report; skipped backup items are retried by the next run.',
    transient: true,
  },
  AllItemsSkipped: {
    message: 'Every item was skipped.',
    remediation: 'Start the restore again; if it keeps happening, check the skipped-items report and the Connector.',
    transient: false,
  },
  Cancelled: { message: 'The run was cancelled.', remediation: 'None; start a new run when needed.', transient: false },
} as const satisfies Record<string, Omit<ReasonEntry, 'reason'>>;

export type Reason = keyof typeof REASONS;

export function reasonEntry(reason: Reason): ReasonEntry {
  return { reason, ...REASONS[reason] };
}

/** A condition/Event message: the specific detail first, then what to do. */
export function reasonMessage(reason: Reason, detail?: string): string {
  const entry = REASONS[reason];
  const what = detail ?? entry.message;
  return entry.remediation === 'None.' ? what : `${what} ${entry.remediation}`;
}
