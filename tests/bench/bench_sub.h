/*  bench_sub.h — what the programs of tests/bench share: a SUB on the
    broker's `raised` changes, ingest frames of raise events and of the
    loader's heartbeats, clocks, percentiles.

    The probes (bench_latency, bench_timers, bench_notify) each measure a
    path that ends in a `raised` change on the broker's PUB socket, so they
    subscribe to the topic prefix "raised." (topics are
    EVENT.LEVEL.SOURCE.ID, proto/alert.c alert_topic) and read each change
    body ({v, seq, at, event, alert}, alert_change_pack) with the checked
    decoder of proto/wire.c: only seq, at, and the alert's source, id and
    raise_at are kept, in a fixed-size record, so reading costs no
    allocation of ours. The arrival time is taken as soon as the body frame
    is received, before decoding.

    bench_sub_sync makes the subscription real before a probe starts: a SUB
    that has just connected misses what is published until its subscription
    reaches the PUB ("slow joiner"), so it sends raise-now events for fresh
    ids "warm-TAG-N" of a source of the caller's own until one comes back,
    within a deadline. Those alerts stay raised in the bench's database.
    TAG (bench_run_tag) is the epoch ms of its first use and the pid: ids
    are new on every run, even against a database a run used before: an
    alert that is already raised is not raised again.

    bench_row packs the alert row the SQLite and PostgreSQL baselines write
    (the same rows into the same schema): row number `row` of id `id`,
    pending, a new subject each time, as {v, alert} with alert_pack.

    bench_secure makes a program's sockets CURVE for the figures that run
    with security on, from the environment (below), so that the same
    loader, raw receiver and control clients serve both: bus_open then
    applies the keys, as it does in lilac's own programs.

    Each program of tests/bench is built alone (Makefile: one .c, liblilac),
    so these helpers are static inline here rather than a module of their
    own. Every loop here is bounded by a deadline and a count.
*/
#ifndef LILAC_BENCH_SUB_H
#define LILAC_BENCH_SUB_H

#include <czmq.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "alert.h"
#include "bus.h"
#include "wire.h"

#define BENCH_NAME_MAX     64       //  bytes of a source or id we keep (with NUL)
#define BENCH_SYNC_STEP_MS 100      //  a warm-up probe waits this long for its change
#define BENCH_SYNC_MS      10000    //  give up syncing the SUB after this long

//  One `raised` change, as a probe needs it.
typedef struct {
    char source [BENCH_NAME_MAX];  //  the alert's source
    char id [BENCH_NAME_MAX];      //  the alert's id
    uint64_t seq;                  //  the change's seq
    int64_t at;                    //  broker time of the change, ms since the epoch
    int64_t raise_at;              //  the alert's raise time, ms since the epoch
    double arrived_wall_ms;        //  CLOCK_REALTIME when the body arrived, ms
    double arrived_mono_s;         //  CLOCK_MONOTONIC when the body arrived, s
} bench_raised_t;

//  "MS-PID": the epoch ms of the first call, and the pid; the same string
//  for the rest of the process.
static inline const char *
bench_run_tag (void)
{
    static char tag [48];
    if (!*tag) {
        struct timespec now;
        clock_gettime (CLOCK_REALTIME, &now);
        snprintf (tag, sizeof tag, "%lld-%d",
                  (long long) now.tv_sec * 1000 + now.tv_nsec / 1000000, (int) getpid ());
    }
    return tag;
}

static inline double
bench_mono_s (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (double) now.tv_sec + (double) now.tv_nsec / 1e9;
}

static inline double
bench_wall_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (double) now.tv_sec * 1e3 + (double) now.tv_nsec / 1e6;
}

//  CURVE for this process's sockets, from the environment; plain when the
//  variable of its end is unset or empty. A server (bench_raw_pull, which
//  stands where the broker does) takes BENCH_CURVE_SERVER_CERT, a secret
//  certificate; a client (the loader, the control clients) takes
//  BENCH_CURVE_CLIENT_CERT, its secret certificate, with
//  BENCH_CURVE_SERVER_KEY, the server's public certificate or key. The
//  driver exports all three for the CURVE figures. Call it before any
//  bus_open. 0, or -1 with the reason on stderr.
static inline int
bench_secure (const char *program, bool server)
{
    const char *cert = getenv (server ? "BENCH_CURVE_SERVER_CERT" : "BENCH_CURVE_CLIENT_CERT");
    if (!cert || !*cert)
        return 0;
    const char *server_key = getenv ("BENCH_CURVE_SERVER_KEY");
    if (!server && (!server_key || !*server_key)) {
        fprintf (stderr, "%s: BENCH_CURVE_CLIENT_CERT needs BENCH_CURVE_SERVER_KEY\n", program);
        return -1;
    }
    char error [256];
    int rc = server ? bus_secure_server (cert, error, sizeof error)
                    : bus_secure_client (cert, server_key, error, sizeof error);
    if (rc)
        fprintf (stderr, "%s: %s\n", program, error);
    return rc;
}

//  Milliseconds from now until the monotonic time until_s, rounded up, at
//  least 0 and at most cap_ms: a poll timeout that never wakes early.
static inline int
bench_timeout_ms (double until_s, int cap_ms)
{
    double left = (until_s - bench_mono_s ()) * 1e3;
    if (left <= 0)
        return 0;
    return left >= cap_ms ? cap_ms : (int) ceil (left);
}

//  A SUB connected to the publish endpoint and subscribed to "raised.".
//  unbounded_hwm: receive high-water mark 0 (no limit), so the SUB itself
//  never drops; otherwise bus_open's BUS_RECEIVE_HWM. Options are set before
//  the connect (libzmq applies them to later connections only). NULL with a
//  reason on stderr.
static inline zsock_t *
bench_sub_open (const char *publish, bool unbounded_hwm)
{
    char error [256];
    zsock_t *sub = NULL;
    if (!unbounded_hwm)
        sub = bus_open (ZMQ_SUB, publish, BUS_CONNECT, error, sizeof error);
    else {
        sub = zsock_new (ZMQ_SUB);
        int hwm = 0, linger = 0;
        int64_t max_size = BUS_MAX_MESSAGE;
        void *handle = sub ? zsock_resolve (sub) : NULL;
        if (!handle
        ||  zmq_setsockopt (handle, ZMQ_RCVHWM, &hwm, sizeof hwm)
        ||  zmq_setsockopt (handle, ZMQ_LINGER, &linger, sizeof linger)
        ||  zmq_setsockopt (handle, ZMQ_MAXMSGSIZE, &max_size, sizeof max_size)
        ||  zmq_connect (handle, publish)) {
            snprintf (error, sizeof error, "cannot open a SUB on %s: %s", publish,
                      zmq_strerror (zmq_errno ()));
            zsock_destroy (&sub);
        }
    }
    if (sub && zmq_setsockopt (zsock_resolve (sub), ZMQ_SUBSCRIBE, "raised.", 7)) {
        snprintf (error, sizeof error, "cannot subscribe: %s", zmq_strerror (zmq_errno ()));
        zsock_destroy (&sub);
    }
    if (!sub)
        fprintf (stderr, "bench: %s\n", error);
    return sub;
}

//  Copies a string object into buffer; false if it is not a string or too long.
static inline bool
bench_copy_name (const msgpack_object *object, char *buffer, size_t size)
{
    if (!object || object->type != MSGPACK_OBJECT_STR || object->via.str.size >= size)
        return false;
    memcpy (buffer, object->via.str.ptr, object->via.str.size);
    buffer [object->via.str.size] = '\0';
    return true;
}

static inline bool
bench_get_int (const msgpack_object *map, const char *key, int64_t *value)
{
    const msgpack_object *object = wire_get (map, key);
    if (!object || object->type != MSGPACK_OBJECT_POSITIVE_INTEGER
    ||  object->via.u64 > INT64_MAX)
        return false;
    *value = (int64_t) object->via.u64;
    return true;
}

//  Reads one change from the SUB, waiting at most timeout_ms for it. Returns
//  1 with *raised filled, 0 when nothing came in time, -2 for a message that
//  is not a well-formed raised change (read and dropped), -1 when receiving
//  failed.
static inline int
bench_raised_read (zsock_t *sub, int timeout_ms, bench_raised_t *raised)
{
    void *handle = zsock_resolve (sub);
    zmq_msg_t topic, body;
    zmq_msg_init (&topic);
    int size = zmq_msg_recv (&topic, handle, ZMQ_DONTWAIT);
    if (size < 0 && errno == EAGAIN && timeout_ms > 0) {
        zmq_pollitem_t item = { handle, 0, ZMQ_POLLIN, 0 };
        int ready = zmq_poll (&item, 1, timeout_ms);
        if (ready < 0 && errno != EINTR) {
            zmq_msg_close (&topic);
            return -1;
        }
        size = ready > 0 ? zmq_msg_recv (&topic, handle, ZMQ_DONTWAIT) : -1;
        if (ready <= 0)
            errno = EAGAIN;
    }
    if (size < 0) {
        zmq_msg_close (&topic);
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    }
    bool more = zmq_msg_more (&topic);
    zmq_msg_close (&topic);
    if (!more)
        return -2;
    zmq_msg_init (&body);
    if (zmq_msg_recv (&body, handle, 0) < 0) {
        zmq_msg_close (&body);
        return -1;
    }
    raised->arrived_mono_s = bench_mono_s ();
    raised->arrived_wall_ms = bench_wall_ms ();
    int rc = -2;
    if (zmq_msg_more (&body)) {
        //  not a change: drop the rest of the message (bounded by libzmq's
        //  message size limit; a frame is read per pass)
        for (int part = 0; part < 64 && zmq_msg_more (&body); part++)
            if (zmq_msg_recv (&body, handle, 0) < 0)
                break;
    }
    else {
        char error [128];
        wire_doc_t *doc = wire_doc_new (zmq_msg_data (&body), zmq_msg_size (&body),
                                        error, sizeof error);
        const msgpack_object *root = doc ? wire_doc_root (doc) : NULL;
        const msgpack_object *alert = root ? wire_get (root, "alert") : NULL;
        const msgpack_object *event = root ? wire_get (root, "event") : NULL;
        int64_t seq = 0;
        raised->raise_at = 0;
        if (alert && event && event->type == MSGPACK_OBJECT_STR
        &&  event->via.str.size == 6 && memcmp (event->via.str.ptr, "raised", 6) == 0
        &&  bench_get_int (root, "seq", &seq) && bench_get_int (root, "at", &raised->at)
        &&  bench_copy_name (wire_get (alert, "source"), raised->source, BENCH_NAME_MAX)
        &&  bench_copy_name (wire_get (alert, "id"), raised->id, BENCH_NAME_MAX)) {
            raised->seq = (uint64_t) seq;
            //  raise_at is left out of the body when unset
            if (!bench_get_int (alert, "raise_at", &raised->raise_at))
                raised->raise_at = 0;
            rc = 1;
        }
        wire_doc_destroy (&doc);
    }
    zmq_msg_close (&body);
    return rc;
}

//  Starts an ingest frame in writer: {v, source, alerts: [ and the
//  array's header for count events, which the caller packs next.
static inline msgpack_packer *
bench_pack_head (wire_writer_t *writer, const char *source, long count)
{
    wire_writer_reset (writer);
    msgpack_packer *packer = &writer->packer;
    msgpack_pack_map (packer, 3);
    wire_pack_key_int (packer, "v", WIRE_VERSION);
    wire_pack_key_string (packer, "source", source);
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, (size_t) count);
    return packer;
}

//  Packs the loader's heartbeat frame into writer: {v, source "bench",
//  alerts: [count events]}, ids "bench-%07ld" from id_base + first on,
//  round-robin over ids, each {id, raise "+5m"} and, given a subject, that
//  subject too (bench_loader's frames, and bench_apply's the same).
static inline void
bench_pack_heartbeats (wire_writer_t *writer, long first, long count, long ids, long id_base,
                       const char *subject)
{
    msgpack_packer *packer = bench_pack_head (writer, "bench", count);
    for (long index = 0; index < count; index++) {
        char id [32];
        snprintf (id, sizeof id, "bench-%07ld", id_base + (first + index) % ids);
        msgpack_pack_map (packer, subject ? 3 : 2);
        wire_pack_key_string (packer, "id", id);
        wire_pack_key_string (packer, "raise", "+5m");
        if (subject)
            wire_pack_key_string (packer, "subject", subject);
    }
}

//  Sends one ingest frame {v, source, alerts: [count events]} with ids
//  "PREFIX%06ld" from first on, each with the given raise spec. 0 or -1
//  (reason on stderr). The PUSH blocks while its high-water mark is reached.
static inline int
bench_send_raises (zsock_t *push, wire_writer_t *writer, const char *source,
                   const char *prefix, long first, long count, const char *raise)
{
    msgpack_packer *packer = bench_pack_head (writer, source, count);
    for (long index = 0; index < count; index++) {
        char id [BENCH_NAME_MAX + 32];
        if (snprintf (id, sizeof id, "%s%06ld", prefix, first + index) >= BENCH_NAME_MAX) {
            fprintf (stderr, "bench: id %s... is too long to be read back\n", prefix);
            return -1;
        }
        msgpack_pack_map (packer, 2);
        wire_pack_key_string (packer, "id", id);
        wire_pack_key_string (packer, "raise", raise);
    }
    void *handle = zsock_resolve (push);
    for (int attempt = 0; attempt < 1000; attempt++) {
        if (zmq_send (handle, writer->buffer.data, writer->buffer.size, 0) >= 0)
            return 0;
        if (errno != EINTR)
            break;
    }
    fprintf (stderr, "bench: send to the broker failed: %s\n", zmq_strerror (errno));
    return -1;
}

//  Makes sure the SUB receives: sends a raise-now event for "warm-TAG-N" of
//  source every BENCH_SYNC_STEP_MS until the raised change of one of them
//  arrives. Changes of other sources read meanwhile are dropped. 0, or -1
//  after BENCH_SYNC_MS (reason on stderr).
static inline int
bench_sub_sync (zsock_t *sub, zsock_t *push, const char *source)
{
    wire_writer_t writer;
    wire_writer_init (&writer);
    char prefix [BENCH_NAME_MAX];
    snprintf (prefix, sizeof prefix, "warm-%s-", bench_run_tag ());
    double deadline = bench_mono_s () + BENCH_SYNC_MS / 1e3;
    int rc = -1;
    for (long probe = 0; rc && probe < BENCH_SYNC_MS / BENCH_SYNC_STEP_MS
         && bench_mono_s () < deadline; probe++) {
        if (bench_send_raises (push, &writer, source, prefix, probe, 1, "now"))
            break;
        double step_end = bench_mono_s () + BENCH_SYNC_STEP_MS / 1e3;
        for (int read = 0; rc && read < 100000; read++) {
            bench_raised_t raised;
            int got = bench_raised_read (sub, bench_timeout_ms (step_end, BENCH_SYNC_STEP_MS),
                                         &raised);
            if (got == 0 || got == -1)
                break;
            if (got == 1 && strcmp (raised.source, source) == 0)
                rc = 0;
        }
    }
    wire_writer_free (&writer);
    if (rc)
        fprintf (stderr, "bench: no raised change on the SUB within %d ms\n", BENCH_SYNC_MS);
    return rc;
}

//  Opens a probe's sockets: a SUB on publish (see bench_sub_open) and a PUSH
//  to ingest, synced with raise-now events of source (bench_sub_sync). 0, or
//  -1 with a reason on stderr and both NULL.
static inline int
bench_probe_open (const char *ingest, const char *publish, bool unbounded_hwm,
                  const char *source, zsock_t **sub, zsock_t **push)
{
    char error [256];
    *sub = bench_sub_open (publish, unbounded_hwm);
    *push = bus_open (ZMQ_PUSH, ingest, BUS_CONNECT, error, sizeof error);
    if (!*push)
        fprintf (stderr, "bench: %s\n", error);
    if (!*sub || !*push || bench_sub_sync (*sub, *push, source)) {
        zsock_destroy (sub);
        zsock_destroy (push);
        return -1;
    }
    return 0;
}

//  The N of a raised change of source whose id is "PREFIX<N>" with
//  0 <= N < limit, the ids a probe sent; -1 for any other change.
static inline long
bench_raised_index (const bench_raised_t *raised, const char *source, const char *prefix,
                    long limit)
{
    size_t length = strlen (prefix);
    if (strcmp (raised->source, source) != 0 || strncmp (raised->id, prefix, length) != 0)
        return -1;
    char *end = NULL;
    long index = strtol (raised->id + length, &end, 10);
    return *end || index < 0 || index >= limit ? -1 : index;
}

static inline int
bench_compare_double (const void *left, const void *right)
{
    double a = *(const double *) left, b = *(const double *) right;
    return a < b ? -1 : a > b;
}

//  The nearest-rank percentile (fraction 0..1) of count sorted values; 0
//  when there are none.
static inline double
bench_percentile (const double *sorted, size_t count, double fraction)
{
    if (count == 0)
        return 0;
    size_t rank = (size_t) ceil (fraction * (double) count);
    return sorted [rank ? rank - 1 : 0];
}

//  Sorts values (count of them) and prints " NAMEp50_ms=N NAMEp99_ms=N".
static inline void
bench_print_percentiles (const char *name, double *values, size_t count)
{
    qsort (values, count, sizeof *values, bench_compare_double);
    printf (" %sp50_ms=%.1f %sp99_ms=%.1f", name, bench_percentile (values, count, 0.50),
            name, bench_percentile (values, count, 0.99));
}

//  Packs row number `row` of id `id` into writer as the broker stores an
//  alert ({v, alert}); the alert itself into *alert (strings: id, and
//  subject, which must outlive the use: subject_size bytes of the caller's).
static inline void
bench_row (wire_writer_t *writer, alert_t *alert, long row, char *id, char *subject,
           size_t subject_size, int64_t now)
{
    snprintf (subject, subject_size, "s%ld", row);
    *alert = (alert_t) {
        .source = "bench", .id = id, .subject = subject, .level = LEVEL_NORMAL,
        .state = ALERT_PENDING, .raise_at = now + 300000, .created_at = now,
        .updated_at = now, .changed_at = now, .seq = (uint64_t) row + 1
    };
    wire_writer_reset (writer);
    msgpack_pack_map (&writer->packer, 2);
    wire_pack_key_int (&writer->packer, "v", WIRE_VERSION);
    wire_pack_key (&writer->packer, "alert");
    alert_pack (&writer->packer, alert);
}

#endif
