"""The clients' common scenario (see README.md) with pika (Debian: python3-pika).
Usage: python3 conformance/clients/pika-round-trip.py [amqp-url]"""
import sys

import pika

from scenario import routes, url

prefix = 'pika'

connection = pika.BlockingConnection(pika.URLParameters(url))
channel = connection.channel()
channel.confirm_delivery()
queue = channel.queue_declare(queue='', exclusive=True).method.queue
for kind, binding_key, arguments, _, _ in routes:
    channel.exchange_declare(exchange=f'{prefix}-{kind}', exchange_type=kind)
    print(f'declared {kind} exchange {prefix}-{kind}')
    channel.queue_bind(queue=queue, exchange=f'{prefix}-{kind}', routing_key=binding_key, arguments=arguments)
print(f'bound queue {queue} to {len(routes)} exchanges')

# With confirms on, a BlockingChannel's basic_publish waits for the broker's
# basic.ack and raises on a nack (and, being mandatory, on a basic.return).
for kind, _, _, routing_key, headers in routes:
    channel.basic_publish(exchange=f'{prefix}-{kind}', routing_key=routing_key, body=f'hello via {prefix}-{kind}'.encode(),
                          properties=pika.BasicProperties(content_type='text/plain', headers=headers), mandatory=True)
print(f'published and confirmed {len(routes)} messages')

received = []
for method, properties, body in channel.consume(queue, inactivity_timeout=10):
    if method is None:
        sys.exit(f'timed out with {len(received)} of {len(routes)} messages')
    print(f'received "{body.decode()}" exchange={method.exchange} routing_key={method.routing_key}')
    received.append((body.decode(), method.exchange, method.routing_key))
    channel.basic_ack(method.delivery_tag)
    if len(received) == len(routes):
        break
expected = [(f'hello via {prefix}-{kind}', f'{prefix}-{kind}', key) for kind, _, _, key, _ in routes]
if received != expected:
    sys.exit(f'expected {expected}, got {received}')
# Closing the channel would requeue anything it still had unacked: an empty
# queue seen from another channel proves the acks were taken.
channel.close()
checker = connection.channel()
left = checker.queue_declare(queue=queue, passive=True).method.message_count
if left != 0:
    sys.exit(f'{left} messages back in the queue after acking them all')
print(f'acked {len(received)} messages, queue empty')
for kind, *_ in routes:
    checker.exchange_delete(exchange=f'{prefix}-{kind}')
connection.close()
print('closed cleanly')
