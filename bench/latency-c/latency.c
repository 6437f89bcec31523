/*
 * Publish-to-delivery latency at a fixed rate, measured by a C client on
 * librabbitmq: the second instrument for the latency-1k-rate benchmark
 * (bench/scenarios.ts, scenario latency-1k-rate-c). The TypeScript generator
 * adds its own event-loop and timer delays to every sample; this one does a
 * few µs of its own work per message and busy-polls, so what it measures is
 * the broker and the kernel's loopback path.
 *
 *   latency HOST PORT [RATE [SECONDS [WARMUP [BODY [QUEUE]]]]]
 *     RATE     messages per second (1000)       SECONDS  measured seconds (10)
 *     WARMUP   seconds before measuring (1)     BODY     body bytes, >= 16 (1024)
 *     QUEUE    queue name (bench.latency)
 *   Credentials and vhost from AMQP_USER, AMQP_PASSWORD, AMQP_VHOST
 *   (guest, guest, /): not on the command line, where ps shows them.
 *
 * Two connections, publisher and consumer, as in the TypeScript generator.
 * The queue is deleted and declared fresh (non-durable, not exclusive, not
 * auto-delete) and deleted at the end, as run-load.ts does; the consumer
 * uses no-ack.
 *
 * No coordinated omission: message i is due at start + i/RATE
 * (CLOCK_MONOTONIC) whatever the deliveries do; until it is due the
 * program busy-polls the consumer connection with a zero timeout, so a
 * delivery is read within a microsecond or two of arriving and no wake-up
 * delay of the generator enters the samples (the generator is meant to own
 * its CPU). Each body starts with its send time (CLOCK_MONOTONIC ns, taken
 * just before basic.publish) and its sequence number. Every delivery of a
 * message published after the warm-up gives one sample: receive time (when
 * the whole message has been read) minus the send time. A send that went
 * out late (the generator busy reading a delivery, or preempted) is counted
 * in lateSends / maxSendLagUs rather than hidden.
 *
 * After the measured seconds it waits at most 2 s for the deliveries still
 * due, tears down, and prints one JSON line on stdout. `rate` in it is the
 * deliveries per second received during the measured window
 * (`deliveriesMeasured` of them: the meaning `rate` has in every scenario's
 * record); `targetRate` is RATE; p50Us … maxUs and meanUs the latencies;
 * `lost` the messages published but not delivered by the end of the drain
 * (the line is printed, but the exit status is then 1);
 * `outOfOrder` deliveries whose sequence number did not follow the previous
 * one; publishCall{P50,Max}Us and deliveryCall{P50,Max}Us the median and
 * longest time spent in one basic.publish call and in reading one delivery
 * (the generator's cost per
 * message, most of it the kernel's: sending on loopback runs the receiving
 * side's TCP path and wakes the broker's CPU).
 *
 * stderr carries "latency: measuring" and "latency: measured" when the
 * measured window starts and ends (for a parent reading the broker's CPU
 * from /proc at those moments; each is written at a quiet point, nothing in
 * flight and the next send at least 0.5 ms away, within 50 ms of the
 * boundary), and any error. Exit status 1 on any AMQP or system error, 2 on
 * bad arguments; the whole run is bounded by an alarm.
 */
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<rabbitmq-c/amqp.h>)
#define RABBITMQ_C_SUBDIR 1
#endif
#endif
#ifdef RABBITMQ_C_SUBDIR /* rabbitmq-c 0.12 and later */
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/tcp_socket.h>
#else /* 0.11 (Debian 12's librabbitmq-dev) */
#include <amqp.h>
#include <amqp_tcp_socket.h>
#endif

#define CHANNEL 1
#define FRAME_MAX 131072
#define STAMP_BYTES 16
#define SETUP_TIMEOUT_S 10
#define DRAIN_NS 2000000000ULL
#define LATE_SEND_NS 100000ULL
/* A window mark is written only with this much time before the next send... */
#define MARK_QUIET_NS 500000ULL
/* ...or, failing that, this long after the boundary. */
#define MARK_DEADLINE_NS 50000000ULL
/* Beyond the run itself: connecting, setup and teardown. */
#define ALARM_MARGIN_S 60
#define MAX_MESSAGES 100000000ULL

struct config {
  const char *host;
  int port;
  long rate;
  double seconds;
  double warmup;
  long body_bytes;
  const char *queue;
  const char *user;
  const char *password;
  const char *vhost;
};

struct run {
  amqp_connection_state_t pub;
  amqp_connection_state_t sub;
  amqp_bytes_t queue;
  amqp_bytes_t body;
  /* Messages with a sequence number below this are the warm-up. */
  uint64_t warm_count;
  uint64_t window_start;
  uint64_t window_end;
  uint64_t published;
  uint64_t consumed;
  /* Deliveries received inside the measured window. */
  uint64_t in_window;
  uint64_t next_seq;
  uint64_t out_of_order;
  uint64_t *samples;
  uint64_t n_samples;
  uint64_t cap_samples;
  /* How long each basic.publish call and each delivery read took (ns): the generator's own cost per message. */
  uint32_t *publish_calls;
  uint32_t *delivery_calls;
  uint64_t cap_calls;
  uint64_t max_send_lag;
  uint64_t late_sends;
  const char *pending_mark;
  uint64_t mark_requested;
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A call's duration for the uint32 arrays (4.29 s at most). */
static uint32_t call_ns(uint64_t ns) {
  return ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static void die(const char *context, const char *detail) {
  fprintf(stderr, "latency: %s: %s\n", context, detail);
  exit(1);
}

static void die_status(int status, const char *context) {
  die(context, amqp_error_string2(status));
}

static void die_close(const char *context, const char *scope, uint16_t code, amqp_bytes_t text) {
  fprintf(stderr, "latency: %s: the broker closed the %s: %u %.*s\n", context, scope, code, (int)text.len, (const char *)text.bytes);
  exit(1);
}

static void die_reply(amqp_rpc_reply_t reply, const char *context) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return;
    case AMQP_RESPONSE_NONE:
      die(context, "no reply");
      break;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      die_status(reply.library_error, context);
      break;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const amqp_connection_close_t *m = reply.reply.decoded;
        die_close(context, "connection", m->reply_code, m->reply_text);
      }
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const amqp_channel_close_t *m = reply.reply.decoded;
        die_close(context, "channel", m->reply_code, m->reply_text);
      }
      die(context, amqp_method_name(reply.reply.id));
      break;
  }
  die(context, "unknown reply type");
}

/* Checks the reply of the last synchronous call (amqp_queue_declare and the like return NULL on failure). */
static void check_rpc(amqp_connection_state_t conn, const char *context) {
  die_reply(amqp_get_rpc_reply(conn), context);
}

/* A frame nobody asked for arrived (anything but a delivery on the consumer, anything at all on the publisher). */
static void die_unexpected(const amqp_frame_t *frame, const char *context) {
  if (frame->frame_type != AMQP_FRAME_METHOD) die(context, "unexpected content frame");
  const amqp_method_t *m = &frame->payload.method;
  if (m->id == AMQP_CONNECTION_CLOSE_METHOD) {
    const amqp_connection_close_t *c = m->decoded;
    die_close(context, "connection", c->reply_code, c->reply_text);
  }
  if (m->id == AMQP_CHANNEL_CLOSE_METHOD) {
    const amqp_channel_close_t *c = m->decoded;
    die_close(context, "channel", c->reply_code, c->reply_text);
  }
  if (m->id == AMQP_BASIC_CANCEL_METHOD) die(context, "the broker cancelled the consumer (basic.cancel: was the queue deleted?)");
  if (m->id == AMQP_CONNECTION_BLOCKED_METHOD) die(context, "the broker blocked publishing (connection.blocked: a resource alarm)");
  fprintf(stderr, "latency: %s: unexpected %s\n", context, amqp_method_name(m->id));
  exit(1);
}

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "latency: the run did not finish in time (alarm)\n";
  ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)ignored;
  _exit(1);
}

static amqp_connection_state_t open_connection(const struct config *c, const char *role) {
  amqp_connection_state_t conn = amqp_new_connection();
  if (conn == NULL) die(role, "out of memory");
  amqp_socket_t *socket = amqp_tcp_socket_new(conn);
  if (socket == NULL) die(role, "cannot create a TCP socket");
  struct timeval timeout = {SETUP_TIMEOUT_S, 0};
  int status = amqp_socket_open_noblock(socket, c->host, c->port, &timeout);
  if (status != AMQP_STATUS_OK) die_status(status, role);
  amqp_set_handshake_timeout(conn, &timeout);
  amqp_set_rpc_timeout(conn, &timeout);
  /* consumer_cancel_notify: a deleted queue then ends the run with basic.cancel instead of silently losing messages. */
  amqp_table_entry_t capability = {amqp_cstring_bytes("consumer_cancel_notify"), {.kind = AMQP_FIELD_KIND_BOOLEAN, .value.boolean = 1}};
  amqp_table_entry_t properties[] = {
      {amqp_cstring_bytes("product"), {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes("bench latency-c")}},
      {amqp_cstring_bytes("capabilities"), {.kind = AMQP_FIELD_KIND_TABLE, .value.table = {1, &capability}}},
  };
  amqp_table_t client_properties = {2, properties};
  /* No heartbeats, like the TypeScript generator: nothing but the load on the wire. */
  die_reply(amqp_login_with_properties(conn, c->vhost, 0, FRAME_MAX, 0, &client_properties, AMQP_SASL_METHOD_PLAIN, c->user, c->password), role);
  amqp_channel_open(conn, CHANNEL);
  check_rpc(conn, role);
  return conn;
}

static void close_connection(amqp_connection_state_t conn, const char *role) {
  die_reply(amqp_channel_close(conn, CHANNEL, AMQP_REPLY_SUCCESS), role);
  die_reply(amqp_connection_close(conn, AMQP_REPLY_SUCCESS), role);
  int status = amqp_destroy_connection(conn);
  if (status != AMQP_STATUS_OK) die_status(status, role);
}

/* Asks for a window mark on stderr, written at the next quiet moment. */
static void request_mark(struct run *r, const char *mark) {
  r->pending_mark = mark;
  r->mark_requested = now_ns();
}

static void write_mark(struct run *r) {
  fprintf(stderr, "latency: %s\n", r->pending_mark);
  r->pending_mark = NULL;
}

/* Writes a pending mark when nothing is in flight and the next send (next_due) is far enough away: the parent reading /proc then delays nothing measured. */
static void maybe_mark(struct run *r, uint64_t t, uint64_t next_due) {
  if (r->pending_mark == NULL) return;
  int quiet = r->consumed == r->published && next_due > t + MARK_QUIET_NS;
  if (quiet || t >= r->mark_requested + MARK_DEADLINE_NS) write_mark(r);
}

static void on_delivery(struct run *r, const amqp_envelope_t *env, uint64_t received) {
  const amqp_bytes_t *body = &env->message.body;
  if (body->len < STAMP_BYTES) die("consumer", "a delivery too short to hold the send time");
  uint64_t sent;
  uint64_t seq;
  memcpy(&sent, body->bytes, sizeof sent);
  memcpy(&seq, (const char *)body->bytes + sizeof sent, sizeof seq);
  r->consumed++;
  if (received >= r->window_start && received < r->window_end) r->in_window++;
  if (seq != r->next_seq) r->out_of_order++;
  r->next_seq = seq + 1;
  if (seq >= r->warm_count && r->n_samples < r->cap_samples) r->samples[r->n_samples++] = received - sent;
}

/* One non-blocking look at the consumer connection: reads a delivery if one has arrived. */
static void poll_delivery(struct run *r) {
  static const struct timeval zero = {0, 0};
  amqp_envelope_t env;
  uint64_t t0 = now_ns();
  amqp_rpc_reply_t reply = amqp_consume_message(r->sub, &env, &zero, 0);
  uint64_t t = now_ns();
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
    on_delivery(r, &env, t);
    if (r->consumed <= r->cap_calls) r->delivery_calls[r->consumed - 1] = call_ns(t - t0);
    amqp_destroy_envelope(&env);
    return;
  }
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_TIMEOUT) return;
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
    /* The frame that was not a delivery is put back: read it to say what it was. */
    amqp_frame_t frame;
    int status = amqp_simple_wait_frame_noblock(r->sub, &frame, &zero);
    if (status != AMQP_STATUS_OK) die_status(status, "consumer");
    die_unexpected(&frame, "consumer");
  }
  die_reply(reply, "consumer");
}

/* The publisher connection should stay silent (no mandatory flag, no confirms): anything on it is an error. */
static void check_publisher(struct run *r) {
  static const struct timeval zero = {0, 0};
  amqp_frame_t frame;
  int status = amqp_simple_wait_frame_noblock(r->pub, &frame, &zero);
  if (status == AMQP_STATUS_TIMEOUT) return;
  if (status != AMQP_STATUS_OK) die_status(status, "publisher");
  die_unexpected(&frame, "publisher");
}

/* Busy-polls the consumer until `until`. */
static void wait_until(struct run *r, uint64_t until) {
  uint64_t t;
  while ((t = now_ns()) < until) {
    poll_delivery(r);
    maybe_mark(r, t, until);
  }
}

static void publish(struct run *r, uint64_t seq, uint64_t due) {
  uint64_t sent = now_ns();
  memcpy(r->body.bytes, &sent, sizeof sent);
  memcpy((char *)r->body.bytes + sizeof sent, &seq, sizeof seq);
  int status = amqp_basic_publish(r->pub, CHANNEL, amqp_empty_bytes, r->queue, 0, 0, NULL, r->body);
  uint64_t done = now_ns();
  if (status != AMQP_STATUS_OK) die_status(status, "basic.publish");
  r->publish_calls[r->published++] = call_ns(done - sent);
  uint64_t lag = sent > due ? sent - due : 0;
  if (lag > r->max_send_lag) r->max_send_lag = lag;
  if (lag > LATE_SEND_NS) r->late_sends++;
  check_publisher(r);
}

static int by_value(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a;
  uint64_t y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

static int by_value32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a;
  uint32_t y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

/* The median and the longest of n call durations, as "<name>P50Us" and "<name>MaxUs" (sorts them). */
static void json_calls(const char *name, uint32_t *calls, uint64_t n) {
  if (n > 0) qsort(calls, n, sizeof *calls, by_value32);
  printf(",\"%sP50Us\":", name);
  if (n == 0) printf("null,\"%sMaxUs\":null", name);
  else printf("%.1f,\"%sMaxUs\":%.1f", (double)calls[n / 2] / 1000, name, (double)calls[n - 1] / 1000);
}

/* The p-th percentile in µs of sorted samples, the same rank as bench/load/latency-recorder.ts. */
static double percentile_us(const uint64_t *sorted, uint64_t n, double p) {
  if (n == 0) return NAN;
  uint64_t i = (uint64_t)floor(p / 100 * (double)n);
  return (double)sorted[i < n ? i : n - 1] / 1000;
}

/* A JSON number, or null when there is none (no samples). */
static void json_us(const char *name, double us) {
  if (isnan(us)) printf(",\"%s\":null", name);
  else printf(",\"%s\":%.1f", name, us);
}

static void usage(const char *why) {
  fprintf(stderr, "latency: %s\nusage: latency HOST PORT [RATE [SECONDS [WARMUP [BODY [QUEUE]]]]] (AMQP_USER, AMQP_PASSWORD, AMQP_VHOST)\n", why);
  exit(2);
}

static double number_arg(const char *text, const char *name, double min, double max) {
  char *end;
  double v = strtod(text, &end);
  if (*text == '\0' || *end != '\0' || !(v >= min && v <= max)) {
    fprintf(stderr, "latency: %s must be a number from %g to %g, not '%s'\n", name, min, max, text);
    exit(2);
  }
  return v;
}

static const char *env_or(const char *name, const char *fallback) {
  const char *v = getenv(name);
  return v == NULL || *v == '\0' ? fallback : v;
}

static struct config parse_args(int argc, char **argv) {
  if (argc < 3 || argc > 8) usage("wrong number of arguments");
  struct config c = {
      .host = argv[1],
      .port = (int)number_arg(argv[2], "PORT", 1, 65535),
      .rate = argc > 3 ? (long)number_arg(argv[3], "RATE", 1, 10000000) : 1000,
      .seconds = argc > 4 ? number_arg(argv[4], "SECONDS", 0.1, 3600) : 10,
      .warmup = argc > 5 ? number_arg(argv[5], "WARMUP", 0, 600) : 1,
      .body_bytes = argc > 6 ? (long)number_arg(argv[6], "BODY", STAMP_BYTES, FRAME_MAX * 64) : 1024,
      .queue = argc > 7 ? argv[7] : "bench.latency",
      .user = env_or("AMQP_USER", "guest"),
      .password = env_or("AMQP_PASSWORD", "guest"),
      .vhost = env_or("AMQP_VHOST", "/"),
  };
  if ((double)c.rate * (c.warmup + c.seconds) > (double)MAX_MESSAGES) usage("RATE × (WARMUP + SECONDS) is over 100 million messages");
  return c;
}

int main(int argc, char **argv) {
  struct config c = parse_args(argc, argv);
  signal(SIGALRM, on_alarm);
  alarm((unsigned)ceil(c.warmup + c.seconds + (double)DRAIN_NS / 1e9) + ALARM_MARGIN_S);

  struct run r = {0};
  r.queue = amqp_cstring_bytes(c.queue);
  r.warm_count = (uint64_t)llround((double)c.rate * c.warmup);
  uint64_t total = (uint64_t)llround((double)c.rate * (c.warmup + c.seconds));
  r.cap_samples = total - r.warm_count;
  r.samples = malloc((r.cap_samples + 1) * sizeof *r.samples);
  r.cap_calls = total;
  r.publish_calls = malloc((total + 1) * sizeof *r.publish_calls);
  r.delivery_calls = malloc((total + 1) * sizeof *r.delivery_calls);
  r.body.len = (size_t)c.body_bytes;
  r.body.bytes = malloc(r.body.len);
  if (r.samples == NULL || r.publish_calls == NULL || r.delivery_calls == NULL || r.body.bytes == NULL) die("setup", "out of memory");
  memset(r.body.bytes, 'x', r.body.len);

  /* Setup on the publisher connection, as the TypeScript generator's admin connection does it: a fresh queue. */
  r.pub = open_connection(&c, "publisher connection");
  amqp_queue_delete(r.pub, CHANNEL, r.queue, 0, 0);
  check_rpc(r.pub, "queue.delete");
  amqp_queue_declare(r.pub, CHANNEL, r.queue, 0, 0, 0, 0, amqp_empty_table);
  check_rpc(r.pub, "queue.declare");
  r.sub = open_connection(&c, "consumer connection");
  amqp_basic_consume(r.sub, CHANNEL, r.queue, amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
  check_rpc(r.sub, "basic.consume");

  const double period_ns = 1e9 / (double)c.rate;
  const uint64_t start = now_ns() + 1000000;
  r.window_start = start + (uint64_t)llround((double)r.warm_count * period_ns);
  r.window_end = start + (uint64_t)llround((double)total * period_ns);
  if (r.warm_count == 0) request_mark(&r, "measuring");
  for (uint64_t i = 0; i < total; i++) {
    uint64_t due = start + (uint64_t)llround((double)i * period_ns);
    wait_until(&r, due);
    publish(&r, i, due);
    if (i + 1 == r.warm_count) request_mark(&r, "measuring");
  }
  wait_until(&r, r.window_end);
  request_mark(&r, "measured");
  const uint64_t drain_end = now_ns() + DRAIN_NS;
  uint64_t t;
  while (r.consumed < r.published && (t = now_ns()) < drain_end) {
    poll_delivery(&r);
    maybe_mark(&r, t, UINT64_MAX);
  }
  if (r.pending_mark != NULL) write_mark(&r);

  close_connection(r.sub, "consumer connection");
  amqp_queue_delete(r.pub, CHANNEL, r.queue, 0, 0);
  check_rpc(r.pub, "queue.delete");
  close_connection(r.pub, "publisher connection");

  qsort(r.samples, r.n_samples, sizeof *r.samples, by_value);
  double sum = 0;
  for (uint64_t i = 0; i < r.n_samples; i++) sum += (double)r.samples[i];
  printf("{\"scenario\":\"latency-1k-rate-c\",\"generator\":\"c-librabbitmq\",\"rate\":%.0f,\"targetRate\":%ld,\"seconds\":%g,\"warmupSeconds\":%g,\"bodyBytes\":%ld",
         (double)r.in_window / c.seconds, c.rate, c.seconds, c.warmup, c.body_bytes);
  printf(",\"published\":%llu,\"consumed\":%llu,\"lost\":%llu,\"outOfOrder\":%llu,\"deliveriesMeasured\":%llu,\"latencySamples\":%llu", (unsigned long long)r.published,
         (unsigned long long)r.consumed, (unsigned long long)(r.published - r.consumed), (unsigned long long)r.out_of_order, (unsigned long long)r.in_window, (unsigned long long)r.n_samples);
  json_us("p50Us", percentile_us(r.samples, r.n_samples, 50));
  json_us("p90Us", percentile_us(r.samples, r.n_samples, 90));
  json_us("p99Us", percentile_us(r.samples, r.n_samples, 99));
  json_us("p999Us", percentile_us(r.samples, r.n_samples, 99.9));
  json_us("maxUs", r.n_samples == 0 ? NAN : (double)r.samples[r.n_samples - 1] / 1000);
  json_us("meanUs", r.n_samples == 0 ? NAN : sum / (double)r.n_samples / 1000);
  json_us("maxSendLagUs", (double)r.max_send_lag / 1000);
  printf(",\"lateSends\":%llu", (unsigned long long)r.late_sends);
  json_calls("publishCall", r.publish_calls, r.published);
  json_calls("deliveryCall", r.delivery_calls, r.consumed < r.cap_calls ? r.consumed : r.cap_calls);
  printf("}\n");
  free(r.samples);
  free(r.publish_calls);
  free(r.delivery_calls);
  free(r.body.bytes);
  if (r.consumed < r.published) {
    /* The samples leave the lost messages out: not a measurement to use. */
    fprintf(stderr, "latency: %llu of %llu messages were not delivered within 2 s of the end\n", (unsigned long long)(r.published - r.consumed),
            (unsigned long long)r.published);
    return 1;
  }
  return 0;
}
