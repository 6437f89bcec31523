# Declares a topic exchange, binds a queue and round-trips a message with
# publisher confirms, using Bunny (Debian: ruby-bunny).
# Usage: ruby conformance/clients/bunny-round-trip.rb [amqp-url]
require 'bunny'

connection = Bunny.new(ARGV[0] || 'amqp://guest:guest@127.0.0.1:5672')
connection.start
channel = connection.create_channel
channel.confirm_select
exchange = channel.topic('bunny-topic')
queue = channel.queue('', exclusive: true).bind(exchange, routing_key: 'greetings.*')
exchange.publish('hello from bunny', routing_key: 'greetings.nl', headers: { 'lang' => 'nl' })
channel.wait_for_confirms or abort 'publish was nacked'
puts 'published and confirmed'
delivery_info, properties, body = queue.pop(manual_ack: true)
puts "received #{body.inspect} routing_key=#{delivery_info.routing_key} headers=#{properties.headers}"
channel.ack(delivery_info.delivery_tag)
exchange.delete
connection.close
puts 'closed cleanly'
