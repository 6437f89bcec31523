// The clients' common scenario (see README.md) with amqp091-go (Debian:
// golang-go, golang-github-rabbitmq-amqp091-go-dev), built in GOPATH mode:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run conformance/clients/go-amqp091-round-trip.go [amqp-url]
package main

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

const prefix = "go-amqp091"

type route struct {
	kind, bindingKey string
	bindingArguments amqp.Table
	routingKey       string
	headers          amqp.Table
}

var routes = []route{
	{"direct", "greeting", nil, "greeting", nil},
	{"fanout", "", nil, "anything", nil},
	{"topic", "greetings.*", nil, "greetings.en", nil},
	{"headers", "", amqp.Table{"x-match": "all", "lang": "en"}, "", amqp.Table{"lang": "en"}},
}

func check(err error, doing string) {
	if err != nil {
		fail("%s: %v", doing, err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	url := "amqp://guest:guest@127.0.0.1:5672/%2F"
	if len(os.Args) > 1 {
		url = os.Args[1]
	}
	connection, err := amqp.Dial(url)
	check(err, "connecting")
	channel, err := connection.Channel()
	check(err, "opening a channel")
	check(channel.Confirm(false), "confirm.select")
	confirms := channel.NotifyPublish(make(chan amqp.Confirmation, len(routes)))
	returns := channel.NotifyReturn(make(chan amqp.Return, len(routes)))

	queue, err := channel.QueueDeclare("", false, false, true, false, nil)
	check(err, "declaring the queue")
	for _, r := range routes {
		check(channel.ExchangeDeclare(prefix+"-"+r.kind, r.kind, false, false, false, false, nil), "declaring "+r.kind)
		fmt.Printf("declared %s exchange %s-%s\n", r.kind, prefix, r.kind)
		check(channel.QueueBind(queue.Name, r.bindingKey, prefix+"-"+r.kind, false, r.bindingArguments), "binding to "+r.kind)
	}
	fmt.Printf("bound queue %s to %d exchanges\n", queue.Name, len(routes))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, r := range routes {
		message := amqp.Publishing{ContentType: "text/plain", Headers: r.headers, Body: []byte("hello via " + prefix + "-" + r.kind)}
		check(channel.PublishWithContext(ctx, prefix+"-"+r.kind, r.routingKey, true, false, message), "publishing")
	}
	for range routes {
		select {
		case confirmation := <-confirms:
			if !confirmation.Ack {
				fail("message %d nacked", confirmation.DeliveryTag)
			}
		case returned := <-returns:
			fail("returned: %d %s", returned.ReplyCode, returned.ReplyText)
		case <-ctx.Done():
			fail("timed out waiting for confirms")
		}
	}
	fmt.Printf("published and confirmed %d messages\n", len(routes))

	deliveries, err := channel.Consume(queue.Name, "", false, false, false, false, nil)
	check(err, "basic.consume")
	var received, expected [][3]string
	for _, r := range routes {
		select {
		case d := <-deliveries:
			fmt.Printf("received %q exchange=%s routing_key=%s\n", d.Body, d.Exchange, d.RoutingKey)
			received = append(received, [3]string{string(d.Body), d.Exchange, d.RoutingKey})
			check(d.Ack(false), "basic.ack")
		case <-ctx.Done():
			fail("timed out with %d of %d messages", len(received), len(routes))
		}
		expected = append(expected, [3]string{"hello via " + prefix + "-" + r.kind, prefix + "-" + r.kind, r.routingKey})
	}
	if !reflect.DeepEqual(received, expected) {
		fail("expected %v, got %v", expected, received)
	}
	// Closing the channel would requeue anything it still had unacked: an
	// empty queue seen from another channel proves the acks were taken.
	check(channel.Close(), "closing the channel")
	checker, err := connection.Channel()
	check(err, "opening a second channel")
	left, err := checker.QueueDeclarePassive(queue.Name, false, false, true, false, nil)
	check(err, "passive queue.declare")
	if left.Messages != 0 {
		fail("%d messages back in the queue after acking them all", left.Messages)
	}
	fmt.Printf("acked %d messages, queue empty\n", len(received))
	for _, r := range routes {
		check(checker.ExchangeDelete(prefix+"-"+r.kind, false, false), "deleting "+r.kind)
	}
	check(connection.Close(), "closing the connection")
	fmt.Println("closed cleanly")
}
