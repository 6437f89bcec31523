import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import * as amqp from 'amqplib';
import t, { type Test } from 'tap';
import type { Broker } from '../../src/index.js';
import { withBroker } from '../support/broker.js';
import { makeCertificates, type TestCertificates } from '../support/certificates.js';

function tlsBroker(t: Test, certs: TestCertificates, client: { verifyPeer: boolean; failIfNoPeerCert: boolean }): Promise<Broker> {
  return withBroker(t, { tls: { port: 0, certFile: certs.serverCert, keyFile: certs.serverKey, caFile: certs.caFile, ...client } });
}

/** Connects over amqps, sends a message to itself and reads it back; resolves with the body. */
async function roundTrip(t: Test, url: string, options: Record<string, unknown>): Promise<string> {
  const connection = await amqp.connect(url, options);
  t.teardown(() => connection.close().catch(() => {}));
  const ch = await connection.createChannel();
  const { queue } = await ch.assertQueue('', { exclusive: true });
  ch.sendToQueue(queue, Buffer.from('over tls'));
  for (let i = 0; i < 100; i++) {
    const m = await ch.get(queue, { noAck: true });
    if (m !== false) return m.content.toString();
    await new Promise((r) => setTimeout(r, 20));
  }
  return 'nothing';
}

const certs = makeCertificates(t.testdir());
const ca = readFileSync(certs.caFile);

t.test('amqps: a client that trusts the CA round-trips a message; plain TCP goes on beside it', async (t) => {
  const broker = await tlsBroker(t, certs, { verifyPeer: false, failIfNoPeerCert: false });
  t.equal(await roundTrip(t, `amqps://guest:guest@127.0.0.1:${broker.tlsPort}`, { ca: [ca] }), 'over tls');
  t.equal(await roundTrip(t, broker.url, {}), 'over tls', 'and the same on the plain port');
  await t.rejects(amqp.connect(`amqps://guest:guest@127.0.0.1:${broker.tlsPort}`), /self-signed certificate|unable to verify/, 'a client that does not trust the CA refuses the broker');
});

t.test('amqps refuses TLS older than 1.2', async (t) => {
  const broker = await tlsBroker(t, certs, { verifyPeer: false, failIfNoPeerCert: false });
  const error = await new Promise<Error | undefined>((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: broker.tlsPort!, ca: [ca], minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    socket.once('secureConnect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', resolve);
  });
  t.ok(error !== undefined, `a TLS 1.1 handshake fails (${error?.message})`);
});

t.test('verify peer: a client certificate the CA signed logs in with EXTERNAL as its CN; no certificate may still use a password', async (t) => {
  const broker = await tlsBroker(t, certs, { verifyPeer: true, failIfNoPeerCert: false });
  await broker.admin.addUser('app', 'unused-password');
  await broker.admin.setPermissions('app', '/', { configure: '.*', write: '.*', read: '.*' });
  const url = `amqps://127.0.0.1:${broker.tlsPort}`;
  const clientCert = { ca: [ca], cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) };
  t.equal(await roundTrip(t, url, { ...clientCert, credentials: amqp.credentials.external() }), 'over tls', 'EXTERNAL as app');
  t.equal(await roundTrip(t, `amqps://guest:guest@127.0.0.1:${broker.tlsPort}`, { ca: [ca] }), 'over tls', 'no certificate, PLAIN');
  await t.rejects(
    amqp.connect(`amqps://guest:guest@127.0.0.1:${broker.tlsPort}`, { ca: [ca], credentials: amqp.credentials.external() }),
    /EXTERNAL|mechanism/,
    'without a certificate, EXTERNAL is not offered',
  );
  const rogue = { ca: [ca], cert: readFileSync(certs.rogueCert), key: readFileSync(certs.rogueKey) };
  await t.rejects(amqp.connect(url, { ...rogue, credentials: amqp.credentials.external() }), 'a certificate no trusted CA signed is refused');
  await broker.admin.deleteUser('app');
  await t.rejects(amqp.connect(url, { ...clientCert, credentials: amqp.credentials.external() }), /ACCESS_REFUSED/, 'a certificate naming no user is refused');
});

t.test('fail if no peer cert: a client without a certificate is refused', async (t) => {
  const broker = await tlsBroker(t, certs, { verifyPeer: true, failIfNoPeerCert: true });
  await t.rejects(amqp.connect(`amqps://guest:guest@127.0.0.1:${broker.tlsPort}`, { ca: [ca] }), 'refused');
  const clientCert = { ca: [ca], cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) };
  t.equal(await roundTrip(t, `amqps://guest:guest@127.0.0.1:${broker.tlsPort}`, clientCert), 'over tls', 'with one, PLAIN still works');
});
