"""Declares an exchange of each type, binds a queue, and round-trips a message with
publisher confirms and a manual ack, using pika (Debian: python3-pika).
Usage: python3 conformance/clients/pika-round-trip.py [amqp-url]"""
import sys

import pika

url = sys.argv[1] if len(sys.argv) > 1 else 'amqp://guest:guest@127.0.0.1:5672/%2F'
connection = pika.BlockingConnection(pika.URLParameters(url))
channel = connection.channel()
channel.confirm_delivery()
for kind in ('direct', 'fanout', 'topic', 'headers'):
    channel.exchange_declare(exchange=f'pika-{kind}', exchange_type=kind)
    print(f'declared {kind} exchange pika-{kind}')
queue = channel.queue_declare(queue='', exclusive=True).method.queue
channel.queue_bind(queue=queue, exchange='pika-topic', routing_key='greetings.*')
channel.basic_publish(exchange='pika-topic', routing_key='greetings.en', body=b'hello from pika',
                      properties=pika.BasicProperties(content_type='text/plain', headers={'lang': 'en'}),
                      mandatory=True)
print('published and confirmed')
method, properties, body = next(channel.consume(queue, inactivity_timeout=5))
print(f'received {body!r} routing_key={method.routing_key} headers={properties.headers}')
channel.basic_ack(method.delivery_tag)
channel.cancel()
for kind in ('direct', 'fanout', 'topic', 'headers'):
    channel.exchange_delete(exchange=f'pika-{kind}')
connection.close()
print('closed cleanly')
