/*
 * How often this CPU stops running a spinning thread, and for how long: the
 * thread reads CLOCK_MONOTONIC in a tight loop and counts the gaps between
 * two reads. On an idle machine every gap above a few µs is time taken by
 * something else: an interrupt, or on a VM the host running another vCPU or
 * process in this one's place. Run pinned (taskset) to measure one CPU.
 * Those stalls land on message paths too, so they bound how low a latency
 * tail any broker can show on the machine.
 *
 *   cpu-stalls SECONDS   → one JSON line
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? strtod(argv[1], NULL) : 5;
  if (!(seconds > 0 && seconds <= 600)) {
    fprintf(stderr, "usage: cpu-stalls SECONDS (0 < SECONDS <= 600)\n");
    return 2;
  }
  const double start = now_us();
  const double end = start + seconds * 1e6;
  double last = start, worst = 0, stalled = 0;
  long over100 = 0, over300 = 0, over1000 = 0;
  for (;;) {
    const double t = now_us();
    const double gap = t - last;
    last = t;
    if (t > end) break;
    if (gap > 100) {
      over100++;
      stalled += gap;
    }
    if (gap > 300) over300++;
    if (gap > 1000) over1000++;
    if (gap > worst) worst = gap;
  }
  printf("{\"seconds\":%.1f,\"stallsOver100UsPerSecond\":%.1f,\"stallsOver300UsPerSecond\":%.1f,\"stallsOver1MsPerSecond\":%.2f,"
         "\"worstStallUs\":%.0f,\"stalledPct\":%.3f}\n",
         seconds, over100 / seconds, over300 / seconds, over1000 / seconds, worst, stalled / (seconds * 1e6) * 100);
  return 0;
}
