/*  bench_webhook.c — the webhook notifier's path: how many raised changes
    per second bin/lilac-notify-webhook delivers to a local receiver, and
    how long a change takes from the broker to the receiver, with and
    without a hung receiver beside it.

    bench_webhook INGEST PUBLISH PORT COUNT RATE
    The driver starts lilac-notify-webhook first (format lilac, a rule for
    source "webhook" to http://127.0.0.1:PORT/ok, and for the second run
    also a rule to http://127.0.0.1:PORT/hung) and waits for it to sync.
    This program then serves PORT with libmicrohttpd (its own thread: a
    bench tool, not lilac): /ok answers 200 and notes, for each body,
    now − its change's `at` (the broker's wall clock, the same machine's);
    /hung reads the request and never answers (the connection is suspended
    until exit). It sends COUNT raise-now events with fresh ids, at once in frames
    of BENCH_WEBHOOK_BATCH (RATE 0: the throughput) or RATE per second in
    frames of BENCH_PACED_BATCH (the latency of one change, not of a
    queue), and waits until COUNT requests reached /ok. The daemon is not
    stopped at the end (libmicrohttpd aborts on a suspended connection):
    exit closes everything.

    Output, one line:
      count=N received=N seconds=S rate=N p50_ms=X p99_ms=X max_ms=X hung=N
    seconds: from the first /ok request to the last; hung: requests held
    at /hung. Bounded: BENCH_WEBHOOK_DEADLINE_S for the deliveries,
    alarm(BENCH_DEADLINE_S) for all.
*/
#include <czmq.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bench_sub.h"

#define BENCH_SOURCE              "webhook"
#define BENCH_WEBHOOK_BATCH       50
#define BENCH_PACED_BATCH         10
#define BENCH_WEBHOOK_DEADLINE_S  120
#define BENCH_COUNT_MAX           1000000
#define BENCH_DEADLINE_S          300
#define BENCH_BODY_MAX            (64 * 1024)

typedef struct {
    char body [BENCH_BODY_MAX + 1];
    size_t size;
} request_t;

static double *s_latencies;            //  ms, one per /ok request (the MHD thread writes)
static long s_capacity;
static atomic_long s_received;
static atomic_long s_hung;
static double s_first_s, s_last_s;     //  mono s of the first and last /ok

static void
s_note (const request_t *request)
{
    const char *at = strstr (request->body, "\"at\":");
    double latency = -1;
    if (at)
        latency = bench_wall_ms () - strtod (at + 5, NULL);
    long index = atomic_load (&s_received);
    if (index < s_capacity)
        s_latencies [index] = latency;
    double now = bench_mono_s ();
    if (index == 0)
        s_first_s = now;
    s_last_s = now;
    atomic_store (&s_received, index + 1);
}

static enum MHD_Result
s_answer (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
          const char *version, const char *data, size_t *data_size, void **state)
{
    (void) cls; (void) method; (void) version;
    request_t *request = *state;
    if (!request) {
        *state = request = calloc (1, sizeof *request);
        return request ? MHD_YES : MHD_NO;
    }
    if (*data_size) {
        size_t keep = *data_size < BENCH_BODY_MAX - request->size
                    ? *data_size : BENCH_BODY_MAX - request->size;
        memcpy (request->body + request->size, data, keep);
        request->size += keep;
        request->body [request->size] = 0;
        *data_size = 0;
        return MHD_YES;
    }
    if (strcmp (url, "/hung") == 0) {
        atomic_fetch_add (&s_hung, 1);
        MHD_suspend_connection (connection);      //  never resumed
        return MHD_YES;
    }
    s_note (request);
    struct MHD_Response *response = MHD_create_response_from_buffer (2, (void *) "ok",
                                                                     MHD_RESPMEM_PERSISTENT);
    enum MHD_Result result = MHD_queue_response (connection, MHD_HTTP_OK, response);
    MHD_destroy_response (response);
    return result;
}

static void
s_completed (void *cls, struct MHD_Connection *connection, void **state,
             enum MHD_RequestTerminationCode code)
{
    (void) cls; (void) connection; (void) code;
    free (*state);
    *state = NULL;
}

static int
s_compare (const void *left, const void *right)
{
    double a = *(const double *) left, b = *(const double *) right;
    return a < b ? -1 : a > b;
}

int
main (int argc, char *argv [])
{
    if (argc != 6) {
        fprintf (stderr, "usage: bench_webhook INGEST PUBLISH PORT COUNT RATE\n");
        return 2;
    }
    int port = atoi (argv [3]);
    long count = atol (argv [4]);
    long rate = atol (argv [5]);
    if (port <= 0 || port > 65535 || count < 1 || count > BENCH_COUNT_MAX || rate < 0
    ||  rate > 100000) {
        fprintf (stderr, "bench_webhook: bad arguments\n");
        return 2;
    }
    alarm (BENCH_DEADLINE_S);
    s_capacity = count;
    s_latencies = calloc ((size_t) count, sizeof *s_latencies);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port),
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    struct MHD_Daemon *daemon = MHD_start_daemon (
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0,
        NULL, NULL, s_answer, NULL, MHD_OPTION_SOCK_ADDR, &address,
        MHD_OPTION_NOTIFY_COMPLETED, s_completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, 0U, MHD_OPTION_END);
    zsock_t *sub, *push;
    if (!s_latencies || !daemon
    ||  bench_probe_open (argv [1], argv [2], false, "webhook-warm", &sub, &push)) {
        fprintf (stderr, "bench_webhook: cannot start (port %d)\n", port);
        return 1;
    }
    char prefix [BENCH_NAME_MAX];
    snprintf (prefix, sizeof prefix, "hook-%s-", bench_run_tag ());
    wire_writer_t writer;
    wire_writer_init (&writer);
    long batch = rate ? BENCH_PACED_BATCH : BENCH_WEBHOOK_BATCH;
    double started = bench_mono_s ();
    for (long first = 0; first < count; first += batch) {
        if (rate) {                    //  frame k leaves at started + k·batch/rate
            double due = started + (double) first / (double) rate;
            while (bench_mono_s () < due)
                zclock_sleep (1);
        }
        if (bench_send_raises (push, &writer, BENCH_SOURCE, prefix, first,
                               count - first < batch ? count - first : batch, "now"))
            return 1;
    }
    wire_writer_free (&writer);
    double deadline = bench_mono_s () + BENCH_WEBHOOK_DEADLINE_S;
    for (long step = 0; step < BENCH_WEBHOOK_DEADLINE_S * 1000L && atomic_load (&s_received) < count
                        && bench_mono_s () < deadline; step++)
        zclock_sleep (1);
    long received = atomic_load (&s_received);
    long hung = atomic_load (&s_hung);
    long kept = received < count ? received : count;
    qsort (s_latencies, (size_t) kept, sizeof *s_latencies, s_compare);
    double seconds = received > 1 ? s_last_s - s_first_s : 0;
    printf ("count=%ld received=%ld seconds=%.3f rate=%.0f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f"
            " hung=%ld\n", count, received, seconds, seconds > 0 ? (double) received / seconds : 0,
            kept ? s_latencies [kept / 2] : 0, kept ? s_latencies [(kept * 99) / 100 < kept ?
            (kept * 99) / 100 : kept - 1] : 0, kept ? s_latencies [kept - 1] : 0, hung);
    free (s_latencies);
    zsock_destroy (&push);
    zsock_destroy (&sub);
    return 0;
}
