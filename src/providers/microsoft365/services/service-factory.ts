// What every service module exports to be registered. It lives apart from the registry (index.ts)
// because the registry imports every module: a module importing the registry back is a cycle.
import type { BackupService } from '../../provider.ts';
import type { GraphSession } from '../graph.ts';

export type ServiceFactory = (session: GraphSession) => BackupService;
