/**
 * The one naming rule for workspaces and sources, shared by the store, the CLI and the API.
 * Names are kept to a plain character set because they end up in terminals, URLs and, following
 * the Segment warehouse convention, in schema names.
 *
 * @example
 * ```ts
 * nameProblem('web-app');   // undefined
 * nameProblem('my source'); // 'must be 1 to 64 letters, digits, _ . or -'
 * ```
 */
export const NAME_RULE = '1 to 64 letters, digits, _ . or -';

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Why `name` is not a valid workspace or source name, or undefined when it is. */
export function nameProblem(name: string): string | undefined {
  return NAME.test(name) ? undefined : `must be ${NAME_RULE}`;
}
