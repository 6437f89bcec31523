import { Decoder } from '../protocol/decoder.js';
import { plainValue } from '../protocol/field-value.js';

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** The password mechanisms offered in connection.start, in the order RabbitMQ lists them. */
export const SASL_MECHANISMS = ['AMQPLAIN', 'PLAIN'] as const;

/**
 * What connection.start offers: EXTERNAL too (first, as RabbitMQ's
 * rabbitmq_auth_mechanism_ssl lists it) on a TLS connection whose client
 * certificate was verified, since it logs in as the certificate's CN.
 */
export function offeredMechanisms(certificateName: string | undefined): readonly string[] {
  return certificateName === undefined ? SASL_MECHANISMS : ['EXTERNAL', ...SASL_MECHANISMS];
}

/**
 * Reads the client's start-ok response. PLAIN is "authzid NUL authcid NUL
 * password" (RFC 4616); AMQPLAIN is a field table without its length prefix
 * holding LOGIN and PASSWORD. Returns undefined for anything malformed.
 */
export function parseSaslResponse(mechanism: string, response: Buffer): Credentials | undefined {
  if (mechanism === 'PLAIN') {
    const parts = response.toString('utf8').split('\0');
    if (parts.length !== 3) return undefined;
    return { username: parts[1]!, password: parts[2]! };
  }
  if (mechanism === 'AMQPLAIN') {
    const withLength = Buffer.allocUnsafe(4 + response.length);
    withLength.writeUInt32BE(response.length, 0);
    response.copy(withLength, 4);
    try {
      const table = new Decoder(withLength).table();
      const login = table['LOGIN'];
      const password = table['PASSWORD'];
      if (login === undefined || password === undefined) return undefined;
      return { username: String(plainValue(login)), password: String(plainValue(password)) };
    } catch {
      return undefined;
    }
  }
  return undefined;
}
