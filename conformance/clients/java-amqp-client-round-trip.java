// The clients' common scenario (see README.md) with the RabbitMQ Java client
// (Debian: librabbitmq-client-java, plus a JDK for the java launcher).
// Usage, compiling in memory with the single-file source launcher:
//   java -cp /usr/share/java/amqp-client.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-nop.jar \
//     conformance/clients/java-amqp-client-round-trip.java [amqp-url]
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

public class RoundTrip {
    static final String PREFIX = "java-amqp-client";

    record Route(String kind, String bindingKey, Map<String, Object> bindingArguments, String routingKey, Map<String, Object> headers) {}

    static final List<Route> ROUTES = List.of(
        new Route("direct", "greeting", null, "greeting", null),
        new Route("fanout", "", null, "anything", null),
        new Route("topic", "greetings.*", null, "greetings.en", null),
        new Route("headers", "", Map.of("x-match", "all", "lang", "en"), "", Map.of("lang", "en")));

    static void fail(String why) {
        System.err.println(why);
        System.exit(1);
    }

    public static void main(String[] args) throws Exception {
        ConnectionFactory factory = new ConnectionFactory();
        factory.setUri(args.length > 0 ? args[0] : "amqp://guest:guest@127.0.0.1:5672/%2F");
        Connection connection = factory.newConnection();
        Channel channel = connection.createChannel();
        channel.confirmSelect();
        List<String> returned = new ArrayList<>();
        channel.addReturnListener((code, text, exchange, routingKey, properties, body) -> returned.add(code + " " + text));

        String queue = channel.queueDeclare("", false, true, false, null).getQueue();
        for (Route route : ROUTES) {
            channel.exchangeDeclare(PREFIX + "-" + route.kind(), route.kind());
            System.out.println("declared " + route.kind() + " exchange " + PREFIX + "-" + route.kind());
            channel.queueBind(queue, PREFIX + "-" + route.kind(), route.bindingKey(), route.bindingArguments());
        }
        System.out.println("bound queue " + queue + " to " + ROUTES.size() + " exchanges");

        for (Route route : ROUTES) {
            AMQP.BasicProperties properties = new AMQP.BasicProperties.Builder().contentType("text/plain").headers(route.headers()).build();
            channel.basicPublish(PREFIX + "-" + route.kind(), route.routingKey(), true, properties,
                ("hello via " + PREFIX + "-" + route.kind()).getBytes(StandardCharsets.UTF_8));
        }
        // Throws on a nack or when the 10 s run out.
        channel.waitForConfirmsOrDie(10_000);
        if (!returned.isEmpty()) fail("returned: " + returned);
        System.out.println("published and confirmed " + ROUTES.size() + " messages");

        BlockingQueue<List<String>> deliveries = new LinkedBlockingQueue<>();
        channel.basicConsume(queue, false, new DefaultConsumer(channel) {
            @Override
            public void handleDelivery(String tag, Envelope envelope, AMQP.BasicProperties properties, byte[] body) throws java.io.IOException {
                deliveries.add(List.of(new String(body, StandardCharsets.UTF_8), envelope.getExchange(), envelope.getRoutingKey()));
                getChannel().basicAck(envelope.getDeliveryTag(), false);
            }
        });
        List<List<String>> received = new ArrayList<>();
        List<List<String>> expected = new ArrayList<>();
        for (Route route : ROUTES) {
            List<String> message = deliveries.poll(10, TimeUnit.SECONDS);
            if (message == null) fail("timed out with " + received.size() + " of " + ROUTES.size() + " messages");
            System.out.println("received \"" + message.get(0) + "\" exchange=" + message.get(1) + " routing_key=" + message.get(2));
            received.add(message);
            expected.add(List.of("hello via " + PREFIX + "-" + route.kind(), PREFIX + "-" + route.kind(), route.routingKey()));
        }
        if (!received.equals(expected)) fail("expected " + expected + ", got " + received);
        // Closing the channel would requeue anything it still had unacked: an
        // empty queue seen from another channel proves the acks were taken.
        channel.close();
        Channel checker = connection.createChannel();
        int left = checker.queueDeclarePassive(queue).getMessageCount();
        if (left != 0) fail(left + " messages back in the queue after acking them all");
        System.out.println("acked " + received.size() + " messages, queue empty");
        for (Route route : ROUTES) checker.exchangeDelete(PREFIX + "-" + route.kind());
        connection.close();
        System.out.println("closed cleanly");
    }
}
