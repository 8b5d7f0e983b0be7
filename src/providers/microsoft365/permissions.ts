// Which application permissions (app roles in the access token) each Microsoft 365 service needs.
// Each requirement is a list of alternatives: any one of them is enough (Mail.Read or the
// broader Mail.ReadWrite). Restores need the ReadWrite variants.
export const MICROSOFT_SERVICES = ['mail', 'calendar', 'contacts', 'onedrive', 'sharepoint', 'teams'] as const;
export type MicrosoftService = (typeof MICROSOFT_SERVICES)[number];

type Requirement = readonly string[];

/** Discovery of users, shared mailboxes, groups and their members. */
export const DISCOVERY_PERMISSIONS: readonly Requirement[] = [
  ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  ['Group.Read.All', 'GroupMember.Read.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
];

export const BACKUP_PERMISSIONS: Record<MicrosoftService, readonly Requirement[]> = {
  mail: [['Mail.Read', 'Mail.ReadWrite']],
  calendar: [['Calendars.Read', 'Calendars.ReadWrite']],
  contacts: [['Contacts.Read', 'Contacts.ReadWrite']],
  onedrive: [['Files.Read.All', 'Files.ReadWrite.All']],
  sharepoint: [['Sites.Read.All', 'Sites.ReadWrite.All', 'Sites.FullControl.All']],
  teams: [
    ['Team.ReadBasic.All', 'Group.Read.All', 'Directory.Read.All'],
    ['Channel.ReadBasic.All', 'ChannelSettings.Read.All', 'Group.Read.All'],
    ['ChannelMessage.Read.All'],
  ],
};

export interface PermissionReport {
  /** The roles the token carries, sorted. */
  granted: string[];
  /** One entry per unmet requirement: its first alternative (what to grant). */
  missing: string[];
}

/** Compares the token's roles with what discovery and the given services need. */
export function checkPermissions(roles: Iterable<string>, services: readonly MicrosoftService[]): PermissionReport {
  const granted = new Set(roles);
  const missing: string[] = [];
  const requirements = [...DISCOVERY_PERMISSIONS, ...services.flatMap((s) => BACKUP_PERMISSIONS[s])];
  for (const alternatives of requirements) {
    if (!alternatives.some((r) => granted.has(r))) {
      const first = alternatives[0] as string;
      if (!missing.includes(first)) missing.push(first);
    }
  }
  return { granted: [...granted].sort(), missing };
}
