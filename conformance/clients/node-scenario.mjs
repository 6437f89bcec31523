// What the two Node clients' scripts share: the URL, the routes of the common
// scenario (see README.md) and failing with a reason.

export const url = process.argv[2] ?? 'amqp://guest:guest@127.0.0.1:5672/%2F';

/** One exchange of each type, how the queue is bound to it and how a message is published to reach it. */
export const routes = [
  { kind: 'direct', bindingKey: 'greeting', routingKey: 'greeting' },
  { kind: 'fanout', bindingKey: '', routingKey: 'anything' },
  { kind: 'topic', bindingKey: 'greetings.*', routingKey: 'greetings.en' },
  { kind: 'headers', bindingKey: '', bindingArguments: { 'x-match': 'all', lang: 'en' }, routingKey: '', headers: { lang: 'en' } },
];

export function fail(why) {
  console.error(why);
  process.exit(1);
}

setTimeout(() => fail('timed out after 30 s'), 30_000).unref();
