import type { StateStore } from '../state/state-store.js';
import { snakeCase } from './segment-schema.js';

/**
 * The warehouse schema of each source, as Segment names them: the snake_case source name. Sources
 * of other workspaces than the default get the workspace name in front, so two workspaces'
 * sources of the same name never share a schema.
 *
 * @example
 * ```ts
 * const schemas = new SourceSchemas(state);
 * await schemas.schemaOf('src_abc'); // 'web'
 * ```
 */
export class SourceSchemas {
  private readonly cache = new Map<string, string>();

  constructor(private readonly state: Pick<StateStore, 'getSource' | 'defaultWorkspace' | 'listWorkspaces'>) {}

  /** By source id or name; an unknown source keeps its id as schema so its events are not lost. */
  async schemaOf(idOrName: string): Promise<string> {
    const hit = this.cache.get(idOrName);
    if (hit !== undefined) return hit;
    const source = await this.state.getSource(idOrName);
    let schema: string;
    if (!source) schema = snakeCase(idOrName);
    else {
      const fallback = await this.state.defaultWorkspace();
      if (source.workspaceId === fallback.id) schema = snakeCase(source.name);
      else {
        const ws = (await this.state.listWorkspaces()).find((w) => w.id === source.workspaceId);
        schema = snakeCase(`${ws?.name ?? source.workspaceId}_${source.name}`);
      }
    }
    this.cache.set(idOrName, schema);
    return schema;
  }
}
