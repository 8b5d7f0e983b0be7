// The Microsoft 365 service modules, by the name a BackupPolicy uses in spec.services. Adding a
// service adds its module and one line here.
import { calendarService } from './calendar.ts';
import { contactsService } from './contacts.ts';
import { mailService } from './mail.ts';
import { onedriveService } from './onedrive.ts';
import { sharepointService } from './sharepoint.ts';
import type { ServiceFactory } from './service-factory.ts';
import { teamsService } from './teams.ts';

export type { ServiceFactory } from './service-factory.ts';

export const MICROSOFT_SERVICE_MODULES: Record<string, ServiceFactory> = {
  mail: mailService,
  calendar: calendarService,
  contacts: contactsService,
  onedrive: onedriveService,
  sharepoint: sharepointService,
  teams: teamsService,
};
