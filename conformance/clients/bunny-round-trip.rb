# The clients' common scenario (see README.md) with Bunny (Debian: ruby-bunny).
# Usage: ruby conformance/clients/bunny-round-trip.rb [amqp-url]
require 'bunny'
require 'timeout'

PREFIX = 'bunny'
# [exchange type, binding key, binding arguments, publish routing key, message headers]
ROUTES = [
  ['direct', 'greeting', {}, 'greeting', nil],
  ['fanout', '', {}, 'anything', nil],
  ['topic', 'greetings.*', {}, 'greetings.en', nil],
  ['headers', '', { 'x-match' => 'all', 'lang' => 'en' }, '', { 'lang' => 'en' }]
].freeze

connection = Bunny.new(ARGV[0] || 'amqp://guest:guest@127.0.0.1:5672', logger: Logger.new(nil))
connection.start
channel = connection.create_channel
channel.confirm_select
queue = channel.queue('', exclusive: true)
exchanges = ROUTES.map do |kind, binding_key, arguments, _, _|
  exchange = Bunny::Exchange.new(channel, kind.to_sym, "#{PREFIX}-#{kind}")
  puts "declared #{kind} exchange #{exchange.name}"
  queue.bind(exchange, routing_key: binding_key, arguments: arguments)
  exchange
end
puts "bound queue #{queue.name} to #{ROUTES.size} exchanges"

returned = []
exchanges.each { |exchange| exchange.on_return { |info, _, _| returned << info.reply_text } }
ROUTES.zip(exchanges).each do |(kind, _, _, routing_key, headers), exchange|
  exchange.publish("hello via #{PREFIX}-#{kind}", routing_key: routing_key, headers: headers, mandatory: true,
                                                  content_type: 'text/plain')
end
channel.wait_for_confirms or abort "nacked: #{channel.nacked_set.to_a}"
abort "returned: #{returned}" unless returned.empty?
puts "published and confirmed #{ROUTES.size} messages"

received = Queue.new
queue.subscribe(manual_ack: true) do |delivery_info, _properties, body|
  channel.ack(delivery_info.delivery_tag)
  received << [body, delivery_info.exchange, delivery_info.routing_key]
end
got = ROUTES.map.with_index do |_, index|
  message = Timeout.timeout(10, Timeout::Error, "timed out with #{index} of #{ROUTES.size} messages") { received.pop }
  puts "received #{message[0].inspect} exchange=#{message[1]} routing_key=#{message[2]}"
  message
end
expected = ROUTES.map { |kind, _, _, routing_key, _| ["hello via #{PREFIX}-#{kind}", "#{PREFIX}-#{kind}", routing_key] }
abort "expected #{expected}, got #{got}" unless got == expected
# Closing the channel would requeue anything it still had unacked: an empty
# queue seen from another channel proves the acks were taken.
channel.close
checker = connection.create_channel
left = checker.queue_declare(queue.name, passive: true).message_count
abort "#{left} messages back in the queue after acking them all" unless left.zero?
puts "acked #{got.size} messages, queue empty"
ROUTES.each { |kind, *| checker.exchange_delete("#{PREFIX}-#{kind}") }
connection.close
puts 'closed cleanly'
