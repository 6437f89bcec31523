"""What the Python clients' scripts share: the URL and the routes of the
common scenario (see README.md)."""
import sys

url = sys.argv[1] if len(sys.argv) > 1 else 'amqp://guest:guest@127.0.0.1:5672/%2F'
# (exchange type, binding key, binding arguments, publish routing key, message headers)
routes = [
    ('direct', 'greeting', None, 'greeting', None),
    ('fanout', '', None, 'anything', None),
    ('topic', 'greetings.*', None, 'greetings.en', None),
    ('headers', '', {'x-match': 'all', 'lang': 'en'}, '', {'lang': 'en'}),
]
