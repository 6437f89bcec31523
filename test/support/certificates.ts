import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCertificates {
  readonly dir: string;
  /** The test CA, and the broker's certificate (CN localhost, for 127.0.0.1) and key it signed. */
  readonly caFile: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** A client certificate the CA signed, with CN `app`. */
  readonly clientCert: string;
  readonly clientKey: string;
  /** A client certificate with CN `app` that no trusted CA signed. */
  readonly rogueCert: string;
  readonly rogueKey: string;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** Makes a CA and the certificates a TLS test needs, with openssl, in `dir`. */
export function makeCertificates(dir: string): TestCertificates {
  const key = (name: string): void => openssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`);
  const signed = (name: string, subject: string, extensions: string): void => {
    key(name);
    openssl(dir, 'req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`);
    writeFileSync(join(dir, `${name}.ext`), extensions);
    openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
  };
  key('ca');
  openssl(dir, 'req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=amqp-broker test CA', '-days', '2', '-out', 'ca.crt');
  signed('server', '/CN=localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  signed('client', '/CN=app', 'extendedKeyUsage=clientAuth\n');
  key('rogue');
  openssl(dir, 'req', '-x509', '-new', '-key', 'rogue.key', '-subj', '/CN=app', '-days', '2', '-out', 'rogue.crt');
  const at = (file: string): string => join(dir, file);
  return {
    dir,
    caFile: at('ca.crt'),
    serverCert: at('server.crt'),
    serverKey: at('server.key'),
    clientCert: at('client.crt'),
    clientKey: at('client.key'),
    rogueCert: at('rogue.crt'),
    rogueKey: at('rogue.key'),
  };
}
