/**
 * Why footage may be looked at (policy §5): one closed list. Every
 * access to recorded footage names one of these; anything else is refused.
 */
export const PURPOSES = [
  'security-risk', // assess the security risk of a specific individual
  'crime-investigation', // investigate a crime on library property
  'law-enforcement-request', // request law enforcement assistance
  'policy-violation', // validate serious or repeated policy violations
  'banned-individual', // alert staff to banned or repeatedly disruptive individuals
  'internal-security', // address internal security or operational concerns
] as const;

export type Purpose = (typeof PURPOSES)[number];

