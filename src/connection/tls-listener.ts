import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createServer, type Server, TLSSocket } from 'node:tls';

/** RabbitMQ's ssl_options, as files: certificate, key, CA, and how client certificates are treated. */
export interface TlsOptions {
  readonly certFile: string;
  readonly keyFile: string;
  /** CA bundle the client certificates must chain to. */
  readonly caFile: string | undefined;
  /** verify_peer: ask for a client certificate and refuse one that does not verify. */
  readonly verifyPeer: boolean;
  /** fail_if_no_peer_cert: also refuse a client that presents none. */
  readonly failIfNoPeerCert: boolean;
}

/**
 * The amqps listener: TLS 1.2 or later, then the same connection code as
 * plain TCP. A client certificate that does not verify ends the connection
 * after the handshake, before any AMQP is read.
 */
export function createTlsServer(options: TlsOptions, accept: (socket: Socket) => void): Server {
  const server = createServer(
    {
      cert: readFileSync(options.certFile),
      key: readFileSync(options.keyFile),
      ...(options.caFile === undefined ? {} : { ca: readFileSync(options.caFile) }),
      minVersion: 'TLSv1.2',
      requestCert: options.verifyPeer,
      // Judged below instead: without fail_if_no_peer_cert a client may present no certificate.
      rejectUnauthorized: false,
    },
    (socket) => {
      if (options.verifyPeer && !socket.authorized && (options.failIfNoPeerCert || presentedCertificate(socket))) {
        socket.destroy();
        return;
      }
      accept(socket);
    },
  );
  return server;
}

function presentedCertificate(socket: TLSSocket): boolean {
  return Object.keys(socket.getPeerCertificate()).length > 0;
}

/** The CN of a TLS client certificate the broker verified; undefined for plain TCP or an unverified or absent certificate. */
export function verifiedCertificateName(socket: Socket): string | undefined {
  if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined;
  const cn = socket.getPeerCertificate().subject?.CN;
  return Array.isArray(cn) ? cn[0] : cn;
}
