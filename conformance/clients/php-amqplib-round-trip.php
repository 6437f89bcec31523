<?php
// The clients' common scenario (see README.md) with php-amqplib (Debian: php-amqplib, php-cli).
// Usage: php conformance/clients/php-amqplib-round-trip.php [amqp-url]
require_once 'PhpAmqpLib/autoload.php';

use PhpAmqpLib\Connection\AMQPStreamConnection;
use PhpAmqpLib\Message\AMQPMessage;
use PhpAmqpLib\Wire\AMQPTable;

function fail(string $why): never
{
    fwrite(STDERR, "$why\n");
    exit(1);
}

$url = parse_url($argv[1] ?? 'amqp://guest:guest@127.0.0.1:5672/%2F');
$prefix = 'php-amqplib';
// [exchange type, binding key, binding arguments, publish routing key, message headers]
$routes = [
    ['direct', 'greeting', [], 'greeting', null],
    ['fanout', '', [], 'anything', null],
    ['topic', 'greetings.*', [], 'greetings.en', null],
    ['headers', '', ['x-match' => 'all', 'lang' => 'en'], '', ['lang' => 'en']],
];

// php-amqplib takes no URL: host, port, user, password and vhost one by one.
$connection = new AMQPStreamConnection($url['host'], $url['port'] ?? 5672, urldecode($url['user'] ?? 'guest'),
    urldecode($url['pass'] ?? 'guest'), urldecode(substr($url['path'] ?? '', 1)) ?: '/');
$channel = $connection->channel();
$channel->confirm_select();
$nacked = 0;
$returned = [];
$channel->set_nack_handler(function () use (&$nacked) { $nacked++; });
$channel->set_return_listener(function ($code, $text) use (&$returned) { $returned[] = "$code $text"; });

// Both default to auto-delete in php-amqplib, unlike the other clients.
[$queue] = $channel->queue_declare('', false, false, true, false);
foreach ($routes as [$kind, $bindingKey, $arguments]) {
    $channel->exchange_declare("$prefix-$kind", $kind, false, false, false);
    echo "declared $kind exchange $prefix-$kind\n";
    $channel->queue_bind($queue, "$prefix-$kind", $bindingKey, false, new AMQPTable($arguments));
}
echo "bound queue $queue to " . count($routes) . " exchanges\n";

foreach ($routes as [$kind, , , $routingKey, $headers]) {
    $properties = ['content_type' => 'text/plain'];
    if ($headers !== null) $properties['application_headers'] = new AMQPTable($headers);
    $channel->basic_publish(new AMQPMessage("hello via $prefix-$kind", $properties), "$prefix-$kind", $routingKey, true);
}
$channel->wait_for_pending_acks_returns(10);
if ($nacked > 0) fail("$nacked messages nacked");
if ($returned) fail('returned: ' . implode(', ', $returned));
echo 'published and confirmed ' . count($routes) . " messages\n";

$received = [];
$channel->basic_consume($queue, '', false, false, false, false, function (AMQPMessage $message) use (&$received) {
    echo "received \"{$message->getBody()}\" exchange={$message->getExchange()} routing_key={$message->getRoutingKey()}\n";
    $received[] = [$message->getBody(), $message->getExchange(), $message->getRoutingKey()];
    $message->ack();
});
try {
    while (count($received) < count($routes)) $channel->wait(null, false, 10);
} catch (PhpAmqpLib\Exception\AMQPTimeoutException) {
    fail('timed out with ' . count($received) . ' of ' . count($routes) . ' messages');
}
$expected = array_map(fn ($route) => ["hello via $prefix-$route[0]", "$prefix-$route[0]", $route[3]], $routes);
if ($received !== $expected) fail('expected ' . json_encode($expected) . ', got ' . json_encode($received));
// Closing the channel would requeue anything it still had unacked: an empty
// queue seen from another channel proves the acks were taken.
$channel->close();
$checker = $connection->channel();
[, $left] = $checker->queue_declare($queue, true);
if ($left !== 0) fail("$left messages back in the queue after acking them all");
echo 'acked ' . count($received) . " messages, queue empty\n";
foreach ($routes as [$kind]) $checker->exchange_delete("$prefix-$kind");
$connection->close();
echo "closed cleanly\n";
