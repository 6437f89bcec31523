// The Java client's automatic recovery across a broker restart: connection,
// channel, a fanout exchange, a client-named auto-delete queue, an exclusive
// one and a server-named one, their bindings and consumers. Prints "ready"
// once its topology is up; after the broker comes back, publishes once and
// prints "OK" when each queue's consumer got it. Exit 1: no recovery within
// 60 s; 2: a delivery missing. Run by test/integration/java-recovery.test.ts
// with Debian's librabbitmq-client-java through the single-file launcher.
import com.rabbitmq.client.*;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.*;

public class Recovery {
    public static void main(String[] args) throws Exception {
        ConnectionFactory factory = new ConnectionFactory();
        factory.setUri(args[0]);
        factory.setAutomaticRecoveryEnabled(true);
        factory.setTopologyRecoveryEnabled(true);
        factory.setNetworkRecoveryInterval(500);
        Connection connection = factory.newConnection();
        CountDownLatch recovered = new CountDownLatch(1);
        ((Recoverable) connection).addRecoveryListener(new RecoveryListener() {
            public void handleRecovery(Recoverable r) { System.out.println("recovered"); recovered.countDown(); }
            public void handleRecoveryStarted(Recoverable r) { System.out.println("recovery started"); }
        });
        connection.addShutdownListener(cause -> System.out.println("shutdown: " + cause.getMessage()));
        Channel ch = connection.createChannel();
        ch.exchangeDeclare("jrec.x", "fanout", false);
        ch.queueDeclare("jrec.named", false, false, true, null);
        ch.queueDeclare("jrec.exclusive", false, true, true, null);
        ch.queueBind("jrec.exclusive", "jrec.x", "");
        ch.queueBind("jrec.named", "jrec.x", "");
        String serverNamed = ch.queueDeclare().getQueue();
        ch.queueBind(serverNamed, "jrec.x", "");
        BlockingQueue<String> got = new LinkedBlockingQueue<>();
        ch.basicConsume("jrec.named", true, (tag, m) -> got.add("named:" + new String(m.getBody(), StandardCharsets.UTF_8)), tag -> {});
        ch.basicConsume("jrec.exclusive", true, (tag, m) -> got.add("exclusive:" + new String(m.getBody(), StandardCharsets.UTF_8)), tag -> {});
        ch.basicConsume(serverNamed, true, (tag, m) -> got.add("server-named:" + new String(m.getBody(), StandardCharsets.UTF_8)), tag -> {});
        System.out.println("ready");
        if (!recovered.await(60, TimeUnit.SECONDS)) { System.out.println("NOT RECOVERED"); System.exit(1); }
        Thread.sleep(500);
        ch.basicPublish("jrec.x", "", null, "after".getBytes(StandardCharsets.UTF_8));
        for (int i = 0; i < 3; i++) {
            String m = got.poll(10, TimeUnit.SECONDS);
            System.out.println("delivered " + m);
            if (m == null) System.exit(2);
        }
        System.out.println("OK");
        connection.close();
    }
}
