/** The oracle's rules, numbered as in docs/oracle.md; each is checked by the module of its name here. */
export const RULES = {
  1: 'clone-preserved',
  2: 'reads-right',
  3: 'restore-ends-right',
  4: 'delta-map-sound',
  5: 'only-differing-copied',
  6: 'progress',
  7: 'atomic-start',
} as const;
export type RuleNumber = keyof typeof RULES;
export type RuleName = (typeof RULES)[RuleNumber];
