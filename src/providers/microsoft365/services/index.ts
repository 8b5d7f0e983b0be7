// The Microsoft 365 service modules, by the name a BackupPolicy uses in spec.services. Adding a
// service adds its module and one line here.
import type { BackupService } from '../../provider.ts';
import type { GraphSession } from '../graph.ts';
import { mailService } from './mail.ts';
import { teamsService } from './teams.ts';

export type ServiceFactory = (session: GraphSession) => BackupService;

export const MICROSOFT_SERVICE_MODULES: Record<string, ServiceFactory> = {
  mail: mailService,
  teams: teamsService,
};
