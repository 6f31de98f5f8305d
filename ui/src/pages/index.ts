import type { Page } from '../page';
import { eventsPage } from './events';
import { livePage } from './live';
import { pipelinesPage } from './pipelines';
import { sourcesPage } from './sources';

/** Every page of the UI, in navigation order. A page is added here and in its own file. */
export const pages: Page[] = [livePage, sourcesPage, eventsPage, pipelinesPage];
