import { describe, expect, it } from 'vitest';
import { backupPolicyKind, BackupPolicySpec } from './backup-policy.ts';
import { ConnectorSpec } from './connector.ts';
import {
  BACKUP_POLICY_NAME_RULES,
  brokenRules,
  BUCKET_NAME_RULES,
  HTTPS_URL_RULES,
  KEY_PREFIX_RULES,
  KUBERNETES_NAME_RULES,
  LOCAL_PATH_RULES,
  S3_ENDPOINT_RULES,
  SECRET_KEY_RULES,
  SECRET_NAME_RULES,
  URL_RULES,
  type FieldRule,
} from './validation-rules.ts';

const refused = (rules: readonly FieldRule[], value: string): string[] => rules.filter((rule) => !rule.holds(value)).map((r) => r.message);

describe('field rules', () => {
  it.each([
    ['client-secret', true],
    ['tls.crt', true],
    ['.dockerconfigjson', true],
    ['AWS_ACCESS_KEY_ID', true],
    ['a..b', true],
    ['.', false],
    ['..', false],
    ['..data', false],
    ['../etc', false],
    ['certs/tls.crt', false],
    ['', false],
    ['key with space', false],
  ])('Secret key %j: allowed %s', (key, allowed) => {
    expect(refused(SECRET_KEY_RULES, key).length === 0).toBe(allowed);
  });

  it.each([
    ['contoso-app', true],
    ['tls.contoso', true],
    ['tls/../x', false],
    ['..', false],
    ['a..b', false],
    ['App', false],
    ['-app', false],
  ])('Secret name %j: allowed %s', (name, allowed) => {
    expect(refused(SECRET_NAME_RULES, name).length === 0).toBe(allowed);
  });

  it.each([
    ['backups', []],
    ['a-b.c--d', []],
    ['1.2.3', []],
    ['my.bucket.1', []],
    ['192.168.1.1', ['a bucket name must not be formatted as an IP address']],
    ['a..b', ['a bucket name must not have two adjacent periods, nor a period next to a hyphen']],
    ['a.-b', ['a bucket name must not have two adjacent periods, nor a period next to a hyphen']],
    ['a-.b', ['a bucket name must not have two adjacent periods, nor a period next to a hyphen']],
    ['xn--x', ['a bucket name must not start with xn--, sthree- or amzn-s3-demo- (reserved by S3)']],
    ['sthree-configurator', ['a bucket name must not start with xn--, sthree- or amzn-s3-demo- (reserved by S3)']],
    ['amzn-s3-demo-bucket', ['a bucket name must not start with xn--, sthree- or amzn-s3-demo- (reserved by S3)']],
    ...['b-s3alias', 'b--ol-s3', 'b.mrap', 'b--x-s3', 'b--table-s3'].map((name): [string, string[]] => [
      name,
      ['a bucket name must not end with -s3alias, --ol-s3, .mrap, --x-s3 or --table-s3 (reserved by S3)'],
    ]),
    // '.' in a suffix is literal: 'bxmrap' is no multi-region access point.
    ['bxmrap', []],
    ['Backups', ["a bucket name must use only lowercase letters, digits, '.' and '-', and begin and end with a letter or digit"]],
  ])('bucket %j breaks %j', (bucket, messages) => {
    expect(refused(BUCKET_NAME_RULES, bucket)).toEqual(messages);
  });

  it.each([
    ['', true],
    ['m365', true],
    ['tenants/contoso/', true],
    ['a..b/c', true],
    ['a/../b', false],
    ['..', false],
    ['../x', false],
    ['a/.hidden', false],
    ['/abs', false],
    ['a//b', false],
    ['a\\b', false],
    ['a\nb', false],
  ])('key prefix %j: allowed %s', (prefix, allowed) => {
    expect(refused(KEY_PREFIX_RULES, prefix).length === 0).toBe(allowed);
  });

  it('says so when a prefix has a .. segment', () => {
    expect(refused(KEY_PREFIX_RULES, 'a/../b')).toEqual([
      "a key prefix must not have a '..' segment, nor any segment that starts with '.'",
    ]);
  });

  it.each([
    ['/var/backup', true],
    ['/var/backup/..snapshots', true],
    ['/backup/../etc', false],
    ['/backup/..', false],
    ['backup', false],
    ['/backup\u0000x', false],
  ])('local path %j: allowed %s', (path, allowed) => {
    expect(refused(LOCAL_PATH_RULES, path).length === 0).toBe(allowed);
  });

  it('keeps credentials out of every URL and plain http out of SaaS overrides', () => {
    expect(refused(URL_RULES, 'http://minio:9000')).toEqual([]);
    expect(refused(URL_RULES, 'https://user:pw@minio:9000')).toHaveLength(1);
    expect(refused(URL_RULES, 'https://user@minio:9000')).toHaveLength(1);
    // An @ after the authority is not a user name.
    expect(refused(URL_RULES, 'https://graph.example.com/v1.0/users/a@contoso.com')).toEqual([]);
    expect(refused(HTTPS_URL_RULES, 'https://login.example.com')).toEqual([]);
    expect(refused(HTTPS_URL_RULES, 'http://login.example.com')).toEqual(['an endpoint override must be an https:// URL']);
    expect(refused(S3_ENDPOINT_RULES, 'https://s3.eu-west-1.amazonaws.com/')).toEqual([]);
    expect(refused(S3_ENDPOINT_RULES, 'http://minio:9000/backups')).toHaveLength(1);
    expect(refused(S3_ENDPOINT_RULES, 'http://minio:9000?x=1')).toHaveLength(1);
  });

  it('bounds names', () => {
    expect(refused(BACKUP_POLICY_NAME_RULES, 'p'.repeat(50))).toEqual([]);
    expect(refused(BACKUP_POLICY_NAME_RULES, 'p'.repeat(51))).toEqual(['a BackupPolicy name has at most 50 characters']);
    expect(refused(KUBERNETES_NAME_RULES, '../x')).toHaveLength(1);
    expect(backupPolicyKind.nameRules).toBe(BACKUP_POLICY_NAME_RULES);
  });

  it('gives every rule the same expression in CEL and in TypeScript', () => {
    for (const rule of [...SECRET_KEY_RULES, ...BUCKET_NAME_RULES, ...KEY_PREFIX_RULES, ...LOCAL_PATH_RULES, ...S3_ENDPOINT_RULES]) {
      const pattern = /^!?self\.matches\(r'(.*)'\)$/.exec(rule.cel)?.[1];
      expect(pattern, rule.cel).toBeDefined();
      expect(() => new RegExp(pattern!)).not.toThrow();
    }
  });
});

describe('brokenRules', () => {
  it('finds the rules of nested fields, named as the apiserver names them', () => {
    const policy = {
      connectorRef: { name: 'c' },
      services: ['mail'],
      storage: {
        s3: { endpoint: 'https://u:p@minio', bucket: 'a..b', prefix: 'ok', credentialsSecretRef: { name: 's3/x' } },
        encryptionKeySecretRef: { name: 'key', key: '..data' },
      },
    };
    expect(brokenRules(BackupPolicySpec, policy, 'spec').map((b) => b.path)).toEqual([
      'spec.storage.s3.endpoint',
      'spec.storage.s3.bucket',
      'spec.storage.s3.credentialsSecretRef.name',
      'spec.storage.encryptionKeySecretRef.key',
    ]);
  });

  it('leaves values of the wrong type to the schema', () => {
    expect(brokenRules(ConnectorSpec, { provider: 'microsoft365', microsoft365: { certificateRef: { name: 42 } } }, 'spec')).toEqual([]);
    expect(brokenRules(ConnectorSpec, null, 'spec')).toEqual([]);
  });
});
