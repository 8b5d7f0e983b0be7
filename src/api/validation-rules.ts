// The rules on single string fields that a schema `pattern` cannot say (or cannot say clearly),
// written once for two checkers: each rule is a CEL expression the apiserver evaluates
// (`x-kubernetes-validations` on the field) and the same test in TypeScript for the worker, which
// has no CEL and must refuse the same input when a manifest reaches it another way (a hand-written
// file for a local run). Most rules are one regular expression in the syntax RE2 and JavaScript
// share (no lookaround, no backreferences), so both checkers run the very same expression.
import type { TSchema } from '@sinclair/typebox';

/** A CEL rule in `x-kubernetes-validations`. */
export interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** A rule on one string field: CEL for the apiserver (`self` is the string), `holds` for the worker. */
export interface FieldRule {
  cel: string;
  holds: (value: string) => boolean;
  /** What to fix; the apiserver prefixes the field path, and so does the worker. */
  message: string;
}

function celString(pattern: string): string {
  if (pattern.includes("'")) throw new Error(`a rule pattern cannot hold a single quote: ${pattern}`);
  return `r'${pattern}'`;
}

/** The value must match `pattern` (unanchored, as CEL's matches() and RegExp.test() are). */
export function matching(pattern: string, message: string): FieldRule {
  const regex = new RegExp(pattern);
  return { cel: `self.matches(${celString(pattern)})`, holds: (value) => regex.test(value), message };
}

/** The value must not match `pattern` anywhere. */
export function notMatching(pattern: string, message: string): FieldRule {
  const regex = new RegExp(pattern);
  return { cel: `!self.matches(${celString(pattern)})`, holds: (value) => !regex.test(value), message };
}

/** At most `max` characters (CEL's size() counts code points, so does this). */
export function atMostCharacters(max: number, message: string): FieldRule {
  return { cel: `self.size() <= ${max}`, holds: (value) => [...value].length <= max, message };
}

const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const quoted = (words: readonly string[]): string =>
  words.length === 1 ? words[0]! : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]!}`;

// Kubernetes object names: a DNS subdomain (RFC 1123), as every Secret, Connector and policy name is.
export const DNS_SUBDOMAIN_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
export const OBJECT_NAME_MAX_LENGTH = 253;

/** What the apiserver checks of every object's name; the worker checks it of the manifests it is given. */
export const KUBERNETES_NAME_RULES: readonly FieldRule[] = [
  matching(
    DNS_SUBDOMAIN_PATTERN,
    "a name must be a DNS subdomain: lowercase letters, digits, '-' and '.', beginning and ending with a letter or digit",
  ),
  atMostCharacters(OBJECT_NAME_MAX_LENGTH, `a name has at most ${OBJECT_NAME_MAX_LENGTH} characters`),
];

export const SECRET_NAME_RULES: readonly FieldRule[] = [
  matching(
    DNS_SUBDOMAIN_PATTERN,
    "a Secret name must be a DNS subdomain: lowercase letters, digits, '-' and '.', beginning and ending with a letter or digit (no '/', no '..')",
  ),
];

// A key of a Secret is a file name in its mount: Kubernetes' `[-._a-zA-Z0-9]+`, never `.` or `..`,
// never starting with `..` (the kubelet's own `..data` links), so that it cannot name anything but
// a file of that Secret.
export const SECRET_KEY_PATTERN = '^\\.?[-_a-zA-Z0-9][-._a-zA-Z0-9]*$';
export const SECRET_KEY_MAX_LENGTH = 253;

export const SECRET_KEY_RULES: readonly FieldRule[] = [
  matching(
    SECRET_KEY_PATTERN,
    "a Secret key must use only letters, digits, '-', '_' and '.', and must not be '.' or start with '..' (no '/')",
  ),
];

// S3 general purpose bucket names (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
export const BUCKET_NAME_PATTERN = '^[a-z0-9][a-z0-9.-]*[a-z0-9]$';
export const BUCKET_RESERVED_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'] as const;
export const BUCKET_RESERVED_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'] as const;

export const BUCKET_NAME_RULES: readonly FieldRule[] = [
  matching(
    BUCKET_NAME_PATTERN,
    "a bucket name must use only lowercase letters, digits, '.' and '-', and begin and end with a letter or digit",
  ),
  notMatching('\\.\\.|\\.-|-\\.', 'a bucket name must not have two adjacent periods, nor a period next to a hyphen'),
  notMatching('^[0-9]+(\\.[0-9]+){3}$', 'a bucket name must not be formatted as an IP address'),
  notMatching(
    `^(${BUCKET_RESERVED_PREFIXES.map(escapeRegex).join('|')})`,
    `a bucket name must not start with ${quoted(BUCKET_RESERVED_PREFIXES)} (reserved by S3)`,
  ),
  notMatching(
    `(${BUCKET_RESERVED_SUFFIXES.map(escapeRegex).join('|')})$`,
    `a bucket name must not end with ${quoted(BUCKET_RESERVED_SUFFIXES)} (reserved by S3)`,
  ),
];

// The key prefix of a repository follows the repository's own object-name rules
// (src/repository/storage/names.ts), so that what the API accepts the storage accepts too.
export const KEY_PREFIX_RULES: readonly FieldRule[] = [
  notMatching('^/', "a key prefix must not start with '/'"),
  notMatching('(^|/)\\.', "a key prefix must not have a '..' segment, nor any segment that starts with '.'"),
  notMatching('//', "a key prefix must not have an empty segment ('//')"),
  notMatching('[\\x00-\\x1f\\x7f\\\\]', 'a key prefix must not have a backslash or a control character'),
];

export const LOCAL_PATH_RULES: readonly FieldRule[] = [
  matching('^/', "the path must be absolute (start with '/')"),
  notMatching('(^|/)\\.\\.(/|$)', "the path must not have a '..' segment"),
  notMatching('[\\x00-\\x1f\\x7f]', 'the path must not have a control character'),
];

// Endpoint URLs. The scheme and "no white space" are the schema pattern; credentials are refused
// by a rule, whose message (unlike a pattern's) does not repeat the value back.
export const URL_PATTERN = '^https?://[^\\s]+$';
const USERINFO = '^[a-zA-Z][-a-zA-Z0-9+.]*://[^/?#]*@';

export const URL_RULES: readonly FieldRule[] = [
  notMatching(USERINFO, 'an endpoint URL must not carry a user name or password: credentials belong in the Secret'),
];

export const HTTPS_URL_RULES: readonly FieldRule[] = [...URL_RULES, matching('^https://', 'an endpoint override must be an https:// URL')];

export const S3_ENDPOINT_RULES: readonly FieldRule[] = [
  ...URL_RULES,
  notMatching(
    '^[a-zA-Z][-a-zA-Z0-9+.]*://[^/?#]*([?#]|/.)',
    'an S3 endpoint must be the root URL of the S3 API, with no path, query or fragment (the bucket and prefix are separate settings)',
  ),
];

// BackupRun names are <policy>-<yyyymmddhhmm> and must stay valid label values (63 characters).
export const BACKUP_POLICY_NAME_RULES: readonly FieldRule[] = [atMostCharacters(50, 'a BackupPolicy name has at most 50 characters')];

/**
 * Where the rules of a field live on its schema. A symbol, so that they stay out of the CRD (which
 * gets them as CEL) while the worker finds them on the same TypeBox value.
 */
export const FIELD_RULES: unique symbol = Symbol('saasbackup.fieldRules');

export function celRules(rules: readonly FieldRule[]): CelRule[] {
  return rules.map((rule) => ({ rule: rule.cel, message: rule.message }));
}

/** Schema options that attach `rules` to a string field, for both checkers. */
export function withRules(...groups: (readonly FieldRule[])[]): { 'x-kubernetes-validations': CelRule[]; [FIELD_RULES]: FieldRule[] } {
  const rules = groups.flat();
  return { 'x-kubernetes-validations': celRules(rules), [FIELD_RULES]: rules };
}

export interface BrokenRule {
  /** The field, as the apiserver writes it: spec.storage.s3.bucket, spec.services[1]. */
  path: string;
  message: string;
}

/** The broken field rules of `value`, walking it along `schema`; values of the wrong type are the schema's to report. */
export function brokenRules(schema: TSchema, value: unknown, path: string): BrokenRule[] {
  const rules = (schema as { [FIELD_RULES]?: FieldRule[] })[FIELD_RULES];
  if (rules && typeof value === 'string')
    return rules.filter((rule) => !rule.holds(value)).map((rule) => ({ path, message: rule.message }));
  if (Array.isArray(value) && schema.items)
    return value.flatMap((item, index) => brokenRules(schema.items as TSchema, item, `${path}[${index}]`));
  if (!value || typeof value !== 'object' || Array.isArray(value)) return [];
  const record = value as Record<string, unknown>;
  const properties = schema.properties as Record<string, TSchema> | undefined;
  if (properties)
    return Object.entries(properties).flatMap(([name, child]) =>
      name in record ? brokenRules(child, record[name], `${path}.${name}`) : [],
    );
  const additional = schema.additionalProperties as TSchema | boolean | undefined;
  if (additional && typeof additional === 'object')
    return Object.entries(record).flatMap(([key, child]) => brokenRules(additional, child, `${path}[${key}]`));
  return [];
}
