// TLS for the emulators. msal-node accepts only https authorities, so every emulator serves TLS
// with a server certificate signed by a CA generated at start-up. Clients trust that CA through
// NODE_EXTRA_CA_CERTS (child processes) or trustCertificateAuthority() (the test's own process).
// Keys come from node:crypto (fast, native); node-forge only assembles and signs the certificates.
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as tls from 'node:tls';
import forge from 'node-forge';

export interface CertificateAuthority {
  /** The CA certificate in PEM: what clients trust. */
  caPem: string;
  /** The server certificate (for 127.0.0.1 and localhost) and its private key, in PEM. */
  certPem: string;
  keyPem: string;
}

interface KeyPairPem {
  publicKey: string;
  privateKey: string;
}

function rsaKeyPair(): KeyPairPem {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

function serial(): string {
  // 16 random bytes, the first between 0x01 and 0x7f: positive and minimally encoded in DER
  // (OpenSSL 3 refuses a certificate whose serial has a superfluous leading zero byte).
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

interface CertificateSpec {
  subject: string;
  issuer: string;
  publicKeyPem: string;
  signingKeyPem: string;
  extensions: object[];
  days: number;
}

function certificate(spec: CertificateSpec): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(spec.publicKeyPem);
  cert.serialNumber = serial();
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60_000);
  cert.validity.notAfter = new Date(now + spec.days * 86_400_000);
  cert.setSubject([{ name: 'commonName', value: spec.subject }]);
  cert.setIssuer([{ name: 'commonName', value: spec.issuer }]);
  cert.setExtensions(spec.extensions);
  cert.sign(forge.pki.privateKeyFromPem(spec.signingKeyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/** A fresh CA and a server certificate for 127.0.0.1 / localhost signed by it. */
export function createCertificateAuthority(baseName = 'saasbackup emulator CA'): CertificateAuthority {
  // Unique per CA: a process that trusts two emulators' CAs must find each server's issuer by name.
  const name = `${baseName} ${randomBytes(4).toString('hex')}`;
  const ca = rsaKeyPair();
  const caPem = certificate({
    subject: name,
    issuer: name,
    publicKeyPem: ca.publicKey,
    signingKeyPem: ca.privateKey,
    days: 30,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const server = rsaKeyPair();
  const certPem = certificate({
    subject: '127.0.0.1',
    issuer: name,
    publicKeyPem: server.publicKey,
    signingKeyPem: ca.privateKey,
    days: 30,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  return { caPem, certPem, keyPem: server.privateKey };
}

/** A self-signed certificate for an app registration's certificate credential. */
export function createClientCertificate(name: string): { certPem: string; keyPem: string; thumbprintSha256: string } {
  const pair = rsaKeyPair();
  const certPem = certificate({
    subject: name,
    issuer: name,
    publicKeyPem: pair.publicKey,
    signingKeyPem: pair.privateKey,
    days: 365,
    extensions: [{ name: 'keyUsage', digitalSignature: true, critical: true }],
  });
  const thumbprintSha256 = new X509Certificate(certPem).fingerprint256.replaceAll(':', '').toLowerCase();
  return { certPem, keyPem: pair.privateKey, thumbprintSha256 };
}

export function writeCaFile(path: string, caPem: string): void {
  writeFileSync(path, caPem, { mode: 0o644 });
}

const trusted = new Set<string>();

/**
 * Makes this process trust `caPem` for every later TLS connection (https, fetch), as
 * NODE_EXTRA_CA_CERTS does for a new process. Node 24's tls.setDefaultCACertificates.
 */
export function trustCertificateAuthority(caPem: string): void {
  if (trusted.has(caPem)) return;
  trusted.add(caPem);
  tls.setDefaultCACertificates([...tls.getCACertificates('default'), caPem]);
}
