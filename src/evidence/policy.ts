/**
 * Who may release footage (policy §3): the Library Director with the President of the Board
 * of Trustees, or the Library Assistant with the President. Kept apart from the keys so the
 * configuration, the CLI and the offline verifier can read the rule without them.
 */
export const ROLES = ['director', 'assistant', 'president'] as const;
export type Role = (typeof ROLES)[number];

/** The policy's pairs: every release needs the two roles of one of them. */
export const POLICY_PAIRS: readonly (readonly [Role, Role])[] = [
  ['director', 'president'],
  ['assistant', 'president'],
];

/** Whether two roles form one of `pairs` (two different roles, in either order). */
export function isPair(a: Role, b: Role, pairs: readonly (readonly [Role, Role])[] = POLICY_PAIRS): boolean {
  return a !== b && pairs.some(([x, y]) => (x === a && y === b) || (x === b && y === a));
}

export const isRole = (value: string): value is Role => ROLES.some((r) => r === value);
