"""The clients' common scenario (see README.md) with py-amqp, the client under
kombu and Celery (Debian: python3-amqp).
Usage: python3 conformance/clients/py-amqp-round-trip.py [amqp-url]"""
import socket
import sys
from urllib.parse import unquote, urlsplit

import amqp

import scenario
from scenario import routes

url = urlsplit(scenario.url)
prefix = 'py-amqp'

# py-amqp takes no URL; confirm_publish makes basic_publish wait for the
# broker's basic.ack and raise on a nack. amqps: TLS with the default CAs
# (SSL_CERT_FILE) and host name checks.
tls = url.scheme == 'amqps'
connection = amqp.Connection(host=f'{url.hostname}:{url.port or (5671 if tls else 5672)}', userid=unquote(url.username or 'guest'),
                             password=unquote(url.password or 'guest'), virtual_host=unquote(url.path[1:]) or '/',
                             confirm_publish=True, ssl={'server_hostname': url.hostname} if tls else False)
connection.connect()
channel = connection.channel()
queue = channel.queue_declare(queue='', exclusive=True, auto_delete=False).queue
for kind, binding_key, arguments, _, _ in routes:
    channel.exchange_declare(exchange=f'{prefix}-{kind}', type=kind, auto_delete=False)
    print(f'declared {kind} exchange {prefix}-{kind}')
    channel.queue_bind(queue=queue, exchange=f'{prefix}-{kind}', routing_key=binding_key, arguments=arguments)
print(f'bound queue {queue} to {len(routes)} exchanges')

for kind, _, _, routing_key, headers in routes:
    message = amqp.Message(f'hello via {prefix}-{kind}', content_type='text/plain', application_headers=headers or {})
    channel.basic_publish(message, exchange=f'{prefix}-{kind}', routing_key=routing_key, mandatory=True)
print(f'published and confirmed {len(routes)} messages')

received = []


def on_message(message):
    body = message.body.decode() if isinstance(message.body, bytes) else message.body
    print(f'received "{body}" exchange={message.delivery_info["exchange"]} routing_key={message.delivery_info["routing_key"]}')
    received.append((body, message.delivery_info['exchange'], message.delivery_info['routing_key']))
    channel.basic_ack(message.delivery_tag)


channel.basic_consume(queue=queue, callback=on_message, no_ack=False)
while len(received) < len(routes):
    try:
        connection.drain_events(timeout=10)
    except socket.timeout:
        sys.exit(f'timed out with {len(received)} of {len(routes)} messages')
expected = [(f'hello via {prefix}-{kind}', f'{prefix}-{kind}', key) for kind, _, _, key, _ in routes]
if received != expected:
    sys.exit(f'expected {expected}, got {received}')
# Closing the channel would requeue anything it still had unacked: an empty
# queue seen from another channel proves the acks were taken.
channel.close()
checker = connection.channel()
left = checker.queue_declare(queue=queue, passive=True).message_count
if left != 0:
    sys.exit(f'{left} messages back in the queue after acking them all')
print(f'acked {len(received)} messages, queue empty')
for kind, *_ in routes:
    checker.exchange_delete(exchange=f'{prefix}-{kind}')
connection.close()
print('closed cleanly')
