// Throw-away PKI for a test control plane, made with the openssl CLI: a CA, the kube-apiserver
// serving certificate, an admin client certificate (O=system:masters) and the service-account
// token signing key pair. EC P-256 keys keep generation in the tens of milliseconds.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './process.ts';

/** File paths only, so the object can be handed to test workers through vitest's provide(). */
export interface TestCerts {
  dir: string;
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  /** Client certificate of CN=envtest-admin, O=system:masters. */
  adminCert: string;
  adminKey: string;
  /** Private key the apiserver signs service-account tokens with. */
  serviceAccountKey: string;
  /** Public key the apiserver verifies service-account tokens with. */
  serviceAccountPub: string;
}

/** The IP of the `kubernetes` Service for --service-cluster-ip-range=10.0.0.0/24. */
export const KUBERNETES_SERVICE_IP = '10.0.0.1';

const DAYS = '30';

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir, timeoutMs: 30_000 });
}

async function ecKey(dir: string, file: string): Promise<void> {
  await openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
}

async function signedCert(dir: string, name: string, subject: string, extensions: string[]): Promise<void> {
  await ecKey(dir, `${name}.key`);
  await openssl(dir, ['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`]);
  writeFileSync(join(dir, `${name}.ext`), `${extensions.join('\n')}\n`);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    DAYS,
    '-sha256',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.crt`,
  ]);
}

/** Writes the PKI into `dir` (created if needed) and returns the file paths. */
export async function generateCerts(dir: string): Promise<TestCerts> {
  mkdirSync(dir, { recursive: true });
  const caAndSa = Promise.all([
    (async () => {
      await ecKey(dir, 'ca.key');
      await openssl(dir, [
        'req',
        '-x509',
        '-new',
        '-key',
        'ca.key',
        '-sha256',
        '-days',
        DAYS,
        '-subj',
        '/CN=saasbackup-envtest-ca',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
        '-out',
        'ca.crt',
      ]);
    })(),
    (async () => {
      await ecKey(dir, 'sa.key');
      await openssl(dir, ['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
    })(),
  ]);
  await caAndSa;
  // -CAcreateserial writes ca.srl; sign sequentially so the two signings do not race on it.
  await signedCert(dir, 'apiserver', '/CN=kube-apiserver', [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=IP:127.0.0.1,DNS:localhost,IP:${KUBERNETES_SERVICE_IP},DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local`,
  ]);
  await signedCert(dir, 'admin', '/O=system:masters/CN=envtest-admin', [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=clientAuth',
  ]);
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    servingCert: join(dir, 'apiserver.crt'),
    servingKey: join(dir, 'apiserver.key'),
    adminCert: join(dir, 'admin.crt'),
    adminKey: join(dir, 'admin.key'),
    serviceAccountKey: join(dir, 'sa.key'),
    serviceAccountPub: join(dir, 'sa.pub'),
  };
}
