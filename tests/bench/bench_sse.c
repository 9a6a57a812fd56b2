/*  bench_sse.c — the SSE fan-out figure: CLIENTS streams open on
    lilac-web's GET /api/stream, CHANGES changes made at the broker, and
    how fast every client had every one of them.

    bench_sse WEB INGEST CLIENTS CHANGES [RATE]
      WEB      lilac-web's ADDR:PORT (plain HTTP, numeric IPv4)
      INGEST   the broker's ingest endpoint
      RATE     changes per second the loader sends; 0 or absent: as fast
               as one PUSH takes them
    The clients are plain non-blocking TCP sockets in one epoll, here, not
    curl processes (a thousand of those would measure curl). Each sends
    `GET /api/stream HTTP/1.1` and must get 200 with text/event-stream.
    The body is chunked (HTTP/1.1, unknown length): each client undoes the
    chunking and splits the SSE lines, counting `id: N:SEQ` lines and
    reading the change's `at` (the broker's wall clock, ms) from the `data:`
    line after it.

    Then one warm-up change (an alert "sse-warm-TAG", TAG bench_run_tag),
    until every client has seen it: its SEQ says where ours begin, and the
    PUSH is connected before the clock starts. Then CHANGES content changes
    through a PUSH, one event a frame, ids "sse-N" over BENCH_IDS alerts of
    source "sse", raise "+1h" (no timer fires during a run), each with a
    subject of its own ("TAG-K"), so each is a change (the first of an id
    creates it: `pending`, the rest `updated`).
    The changes of this run are seqs SEQ+1 .. SEQ+CHANGES: the broker must
    change nothing else meanwhile (the driver gives it to this figure
    alone). Each client keeps a flag per change: a change seen twice is a
    duplicate, one never seen by the end is missed, a seq outside the range
    is counted as other.

    Output, one line of key=value pairs:
      clients=N changes=K expected=N*K delivered=D missed=M duplicates=X
      resets=R others=O failed=F open_s=S send_s=S last_s=S rate=D/last_s
      per_client_rate=K/last_s p50_ms p99_ms max_ms
    open_s: from the first connect until every client had its headers;
    send_s: the first send to the last; last_s: the first send until the
    last client had the last change (the deadline when one never did);
    p50/p99/max: `at` to the arrival at a client, over every delivery,
    resolution 1 ms. failed: clients refused, closed or never answered
    (the first reason on stderr). Exit 0 when every client had every
    change exactly once, 1 otherwise (the line is printed whenever the load
    ran), 2 for bad arguments.

    Bounded: every phase has a deadline (BENCH_OPEN_MS, BENCH_WARM_MS,
    BENCH_LOAD_MS) and every loop a count; alarm (BENCH_DEADLINE_S) ends a
    stuck run. RLIMIT_NOFILE is raised to what CLIENTS needs (up to the
    hard limit).
*/
#include <arpa/inet.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include "bench_sub.h"

#define BENCH_SOURCE        "sse"       //  the changes' source
#define BENCH_IDS           100         //  alerts the changes go round
#define BENCH_CLIENTS_MAX   10000       //  clients one run may open
#define BENCH_CHANGES_MAX   100000      //  changes one run may make
#define BENCH_HEAD_MAX      4096        //  bytes of response headers kept
#define BENCH_LINE_MAX      8192        //  bytes of an SSE line kept (the rest is skipped)
#define BENCH_READ_SIZE     65536       //  one read
#define BENCH_EVENTS        512         //  epoll events a wait returns
#define BENCH_OPEN_MS       30000       //  every client has its headers within this
#define BENCH_WARM_MS       10000       //  every client has the warm-up change within this
#define BENCH_LOAD_MS       120000      //  every client has every change within this
#define BENCH_DEADLINE_S    300         //  the whole run, then SIGALRM ends it
#define BENCH_FD_MARGIN     64          //  descriptors beyond one a client

typedef enum {
    CLIENT_CONNECTING,             //  connect() in progress
    CLIENT_HEADERS,                //  request sent, reading the headers
    CLIENT_CHUNK_SIZE,             //  reading a chunk's size line
    CLIENT_CHUNK_DATA,             //  inside a chunk
    CLIENT_CHUNK_END,              //  the CRLF after a chunk
    CLIENT_FAILED                  //  closed, refused, or not a stream
} client_phase_t;

//  One stream client.
typedef struct {
    int fd;                        //  its socket, -1 once closed
    client_phase_t phase;
    char head [BENCH_HEAD_MAX];    //  response headers so far
    size_t head_size;
    char size_line [32];           //  a chunk size line so far
    size_t size_line_length;
    size_t chunk_left;             //  bytes left in the current chunk
    char line [BENCH_LINE_MAX];    //  the SSE line so far
    size_t line_length;
    uint64_t event_seq;            //  SEQ of the last id: line, 0 none
    bool event_counts;             //  ... and it is a first delivery of ours
    uint64_t warm_seq;             //  SEQ of the warm-up change, 0 until seen
    uint8_t *seen;                 //  one flag per change of the run
    long distinct;                 //  changes of the run seen
    long duplicates;               //  ... seen again
    long others;                   //  other changes
    long resets;                   //  `event: reset`
    double done_at;                //  mono s when distinct reached the count, 0 before
} client_t;

//  The run.
typedef struct {
    struct sockaddr_in web;        //  lilac-web
    char host [64];                //  its ADDR:PORT, for the Host header
    long client_count;
    long change_count;
    long rate;                     //  changes/s, 0 unpaced
    client_t *clients;
    int epoll_fd;
    long ready;                    //  clients streaming
    long failed;                   //  clients failed
    char failure [256];            //  the first failure
    zsock_t *push;                 //  to the broker's ingest
    wire_writer_t writer;
    char warm_id [BENCH_NAME_MAX]; //  the warm-up alert
    uint64_t first_seq;            //  the run's first change, 0 until the warm-up is in
    long sent;                     //  changes sent
    double send_started;           //  mono s of the first send, 0 before
    double send_ended;             //  mono s of the last send
    double *latency_ms;            //  `at` to arrival, one per delivery
    size_t latency_count;
    size_t latency_capacity;
    long done;                     //  clients that had every change
} run_t;

//  --- setting up ----------------------------------------------------------------------

static int
s_parse_address (run_t *run, const char *text)
{
    const char *colon = strrchr (text, ':');
    char address [64];
    if (!colon || (size_t) (colon - text) >= sizeof address)
        return -1;
    memcpy (address, text, (size_t) (colon - text));
    address [colon - text] = 0;
    long port = atol (colon + 1);
    run->web.sin_family = AF_INET;
    run->web.sin_port = htons ((uint16_t) port);
    snprintf (run->host, sizeof run->host, "%s", text);
    return port > 0 && port < 65536 && inet_pton (AF_INET, address, &run->web.sin_addr) == 1
           ? 0 : -1;
}

//  Soft RLIMIT_NOFILE up to what the clients need, within the hard limit.
static int
s_raise_file_limit (long clients)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit)) {
        fprintf (stderr, "bench_sse: getrlimit: %s\n", strerror (errno));
        return -1;
    }
    rlim_t needed = (rlim_t) clients + BENCH_FD_MARGIN;
    if (limit.rlim_cur >= needed)
        return 0;
    if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed) {
        fprintf (stderr, "bench_sse: %ld clients need %lu descriptors; the hard limit is %lu\n",
                 clients, (unsigned long) needed, (unsigned long) limit.rlim_max);
        return -1;
    }
    limit.rlim_cur = needed;
    if (setrlimit (RLIMIT_NOFILE, &limit)) {
        fprintf (stderr, "bench_sse: setrlimit: %s\n", strerror (errno));
        return -1;
    }
    return 0;
}

static void
s_fail (run_t *run, client_t *client, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
static void
s_fail (run_t *run, client_t *client, const char *format, ...)
{
    if (client->phase == CLIENT_FAILED)
        return;
    if (client->phase >= CLIENT_CHUNK_SIZE)
        run->ready--;
    client->phase = CLIENT_FAILED;
    run->failed++;
    if (client->fd >= 0 && close (client->fd))
        fprintf (stderr, "bench_sse: close: %s\n", strerror (errno));
    client->fd = -1;
    if (*run->failure)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (run->failure, sizeof run->failure, format, args);
    va_end (args);
}

//  A non-blocking connect to lilac-web, in the epoll for its completion.
static int
s_connect (run_t *run, client_t *client, long index)
{
    client->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (client->fd < 0) {
        fprintf (stderr, "bench_sse: socket: %s\n", strerror (errno));
        return -1;
    }
    int one = 1;
    if (setsockopt (client->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one))
        fprintf (stderr, "bench_sse: TCP_NODELAY: %s\n", strerror (errno));
    if (connect (client->fd, (struct sockaddr *) &run->web, sizeof run->web)
    &&  errno != EINPROGRESS) {
        s_fail (run, client, "connect: %s", strerror (errno));
        return 0;
    }
    struct epoll_event event = { .events = EPOLLOUT, .data.u64 = (uint64_t) index };
    if (epoll_ctl (run->epoll_fd, EPOLL_CTL_ADD, client->fd, &event)) {
        fprintf (stderr, "bench_sse: epoll_ctl: %s\n", strerror (errno));
        return -1;
    }
    return 0;
}

//  --- one client's bytes ---------------------------------------------------------------

//  The connect is done: send the request, then wait for input.
static void
s_send_request (run_t *run, client_t *client, long index)
{
    int error = 0;
    socklen_t size = sizeof error;
    if (getsockopt (client->fd, SOL_SOCKET, SO_ERROR, &error, &size) || error) {
        s_fail (run, client, "connect: %s", strerror (error ? error : errno));
        return;
    }
    char request [256];
    int length = snprintf (request, sizeof request, "GET /api/stream HTTP/1.1\r\nHost: %s\r\n"
                           "Accept: text/event-stream\r\n\r\n", run->host);
    //  A fresh socket's send buffer takes a request this small whole.
    if (send (client->fd, request, (size_t) length, MSG_NOSIGNAL) != length) {
        s_fail (run, client, "send: %s", strerror (errno));
        return;
    }
    struct epoll_event event = { .events = EPOLLIN, .data.u64 = (uint64_t) index };
    if (epoll_ctl (run->epoll_fd, EPOLL_CTL_MOD, client->fd, &event))
        s_fail (run, client, "epoll_ctl: %s", strerror (errno));
    else
        client->phase = CLIENT_HEADERS;
}

static void
s_keep_latency (run_t *run, double latency_ms)
{
    if (run->latency_count == run->latency_capacity)
        return;                     //  sized for every delivery: only others overflow
    run->latency_ms [run->latency_count++] = latency_ms;
}

//  An `id: N:SEQ` line: counts the change.
static void
s_on_id (run_t *run, client_t *client, const char *value)
{
    unsigned long long epoch_n, seq;
    client->event_counts = false;
    client->event_seq = sscanf (value, "%llu:%llu", &epoch_n, &seq) == 2 ? seq : 0;
    if (!run->first_seq)
        return;                     //  before the run: only the warm-up matters
    if (client->event_seq < run->first_seq
    ||  client->event_seq >= run->first_seq + (uint64_t) run->change_count) {
        client->others++;
        return;
    }
    uint8_t *flag = &client->seen [client->event_seq - run->first_seq];
    if (*flag) {
        client->duplicates++;
        return;
    }
    *flag = 1;
    client->event_counts = true;
    if (++client->distinct == run->change_count) {
        client->done_at = bench_mono_s ();
        run->done++;
    }
}

//  A `data: {...}` line: the warm-up's seq, or the delivery's latency.
static void
s_on_data (run_t *run, client_t *client, const char *value)
{
    if (!client->warm_seq && client->event_seq && strstr (value, run->warm_id))
        client->warm_seq = client->event_seq;
    if (!client->event_counts)
        return;
    client->event_counts = false;
    const char *at = strstr (value, "\"at\":");
    if (at)
        s_keep_latency (run, bench_wall_ms () - (double) strtoll (at + 5, NULL, 10));
}

static void
s_on_line (run_t *run, client_t *client)
{
    client->line [client->line_length] = 0;
    if (strncmp (client->line, "id: ", 4) == 0)
        s_on_id (run, client, client->line + 4);
    else
    if (strncmp (client->line, "data: ", 6) == 0)
        s_on_data (run, client, client->line + 6);
    else
    if (strcmp (client->line, "event: reset") == 0)
        client->resets++;
    client->line_length = 0;
}

//  Stream bytes (inside chunks) into SSE lines.
static void
s_take_body (run_t *run, client_t *client, const char *data, size_t size)
{
    while (size) {
        const char *end = memchr (data, '\n', size);
        size_t length = end ? (size_t) (end - data) : size;
        size_t room = BENCH_LINE_MAX - 1 - client->line_length;
        size_t kept = length < room ? length : room;
        memcpy (client->line + client->line_length, data, kept);
        client->line_length += kept;
        if (end)
            s_on_line (run, client);
        data += end ? length + 1 : length;
        size -= end ? length + 1 : length;
    }
}

//  Headers complete in client->head: a 200 event stream, chunked.
static void
s_check_headers (run_t *run, client_t *client)
{
    client->head [client->head_size] = 0;
    if (strncmp (client->head, "HTTP/1.1 200 ", 13) != 0)
        s_fail (run, client, "answered: %.*s", (int) strcspn (client->head, "\r\n"),
                client->head);
    else
    if (!strcasestr (client->head, "\r\nContent-Type: text/event-stream"))
        s_fail (run, client, "not text/event-stream: %s", client->head);
    else
    if (!strcasestr (client->head, "\r\nTransfer-Encoding: chunked"))
        s_fail (run, client, "not chunked: %s", client->head);
    else {
        client->phase = CLIENT_CHUNK_SIZE;
        run->ready++;
    }
}

//  Header bytes; returns how many of size it took.
static size_t
s_take_head (run_t *run, client_t *client, const char *data, size_t size)
{
    size_t taken = 0;
    while (taken < size && client->phase == CLIENT_HEADERS) {
        if (client->head_size == BENCH_HEAD_MAX - 1) {
            s_fail (run, client, "headers beyond %d bytes", BENCH_HEAD_MAX);
            break;
        }
        client->head [client->head_size++] = data [taken++];
        if (client->head_size >= 4
        &&  memcmp (client->head + client->head_size - 4, "\r\n\r\n", 4) == 0)
            s_check_headers (run, client);
    }
    return taken;
}

//  A chunk size line's byte; returns 1.
static size_t
s_take_size_byte (run_t *run, client_t *client, char byte)
{
    if (byte != '\n') {
        if (client->size_line_length < sizeof client->size_line - 1)
            client->size_line [client->size_line_length++] = byte;
        return 1;
    }
    client->size_line [client->size_line_length] = 0;
    client->size_line_length = 0;
    char *end = NULL;
    client->chunk_left = strtoul (client->size_line, &end, 16);
    if (end == client->size_line)
        s_fail (run, client, "a chunk size that is not hex: %s", client->size_line);
    else
    if (client->chunk_left == 0)
        s_fail (run, client, "the stream ended (last chunk)");
    else
        client->phase = CLIENT_CHUNK_DATA;
    return 1;
}

//  Body bytes, chunked; returns how many of size it took.
static size_t
s_take_chunked (run_t *run, client_t *client, const char *data, size_t size)
{
    if (client->phase == CLIENT_CHUNK_SIZE)
        return s_take_size_byte (run, client, *data);
    if (client->phase == CLIENT_CHUNK_END) {
        if (*data == '\n')
            client->phase = CLIENT_CHUNK_SIZE;
        return 1;                   //  the CR before it, or the LF
    }
    size_t count = size < client->chunk_left ? size : client->chunk_left;
    s_take_body (run, client, data, count);
    client->chunk_left -= count;
    if (client->chunk_left == 0)
        client->phase = CLIENT_CHUNK_END;
    return count;
}

static void
s_take (run_t *run, client_t *client, const char *data, size_t size)
{
    for (size_t step = 0; size && step < BENCH_READ_SIZE + 1; step++) {
        size_t taken = client->phase == CLIENT_HEADERS ? s_take_head (run, client, data, size)
                     : client->phase == CLIENT_FAILED ? size
                     : s_take_chunked (run, client, data, size);
        data += taken;
        size -= taken;
    }
}

//  Reads what the socket has (up to a few reads, then the next turn).
static void
s_read (run_t *run, client_t *client)
{
    static char buffer [BENCH_READ_SIZE];
    for (int pass = 0; pass < 4 && client->phase != CLIENT_FAILED; pass++) {
        ssize_t size = recv (client->fd, buffer, sizeof buffer, 0);
        if (size < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (size <= 0) {
            s_fail (run, client, "%s", size ? strerror (errno) : "lilac-web closed the stream");
            return;
        }
        s_take (run, client, buffer, (size_t) size);
        if ((size_t) size < sizeof buffer)
            return;
    }
}

//  --- the loop -------------------------------------------------------------------------------

//  One ingest frame: {v, source, alerts: [{id, raise: "+1h", subject}]}.
static int
s_send_change (run_t *run, const char *id, const char *subject)
{
    msgpack_packer *packer = bench_pack_head (&run->writer, BENCH_SOURCE, 1);
    msgpack_pack_map (packer, 3);
    wire_pack_key_string (packer, "id", id);
    wire_pack_key_string (packer, "raise", "+1h");
    wire_pack_key_string (packer, "subject", subject);
    if (zmq_send (zsock_resolve (run->push), run->writer.buffer.data, run->writer.buffer.size,
                  ZMQ_DONTWAIT) >= 0)
        return 0;
    if (errno != EAGAIN && errno != EINTR)
        fprintf (stderr, "bench_sse: send to the broker: %s\n", zmq_strerror (errno));
    return -1;
}

//  Sends the changes that are due (all, unpaced) until the PUSH would block.
static void
s_send_due (run_t *run)
{
    if (!run->first_seq || run->sent == run->change_count)
        return;
    double now = bench_mono_s ();
    if (!run->send_started)
        run->send_started = now;
    long due = run->rate ? (long) ((now - run->send_started) * (double) run->rate) + 1
                         : run->change_count;
    if (due > run->change_count)
        due = run->change_count;
    for (; run->sent < due; run->sent++) {
        char id [32], subject [BENCH_NAME_MAX + 24];
        snprintf (id, sizeof id, "sse-%03ld", run->sent % BENCH_IDS);
        snprintf (subject, sizeof subject, "%s-%ld", bench_run_tag (), run->sent);
        if (s_send_change (run, id, subject))
            return;
        run->send_ended = bench_mono_s ();
    }
}

//  ms to wait in epoll: short while changes wait to be sent.
static int
s_wait_ms (run_t *run, double deadline)
{
    int wait = bench_timeout_ms (deadline, 100);
    if (run->first_seq && run->sent < run->change_count)
        wait = wait > 1 ? 1 : wait;
    return wait;
}

static void
s_on_event (run_t *run, const struct epoll_event *event)
{
    long index = (long) event->data.u64;
    client_t *client = &run->clients [index];
    if (client->phase == CLIENT_FAILED)
        return;
    if (client->phase == CLIENT_CONNECTING)
        s_send_request (run, client, index);
    else
        s_read (run, client);
}

typedef bool (s_done_fn) (run_t *run);

//  Runs the loop until done (true) or the deadline (false).
static bool
s_loop (run_t *run, s_done_fn *done, int timeout_ms)
{
    double deadline = bench_mono_s () + timeout_ms / 1e3;
    struct epoll_event events [BENCH_EVENTS];
    for (long turn = 0; turn < 100000000L && !done (run); turn++) {
        if (bench_mono_s () >= deadline)
            return false;
        s_send_due (run);
        int count = epoll_wait (run->epoll_fd, events, BENCH_EVENTS, s_wait_ms (run, deadline));
        if (count < 0 && errno != EINTR) {
            fprintf (stderr, "bench_sse: epoll_wait: %s\n", strerror (errno));
            return false;
        }
        for (int index = 0; index < count; index++)
            s_on_event (run, &events [index]);
    }
    return done (run);
}

static bool
s_all_open (run_t *run)
{
    return run->ready + run->failed == run->client_count;
}

//  Every streaming client has the warm-up, on the same seq: ours follow it.
static bool
s_all_warm (run_t *run)
{
    uint64_t seq = 0;
    for (long index = 0; index < run->client_count; index++) {
        client_t *client = &run->clients [index];
        if (client->phase == CLIENT_FAILED)
            continue;
        if (!client->warm_seq || (seq && client->warm_seq != seq))
            return false;
        seq = client->warm_seq;
    }
    return seq != 0;
}

static bool
s_all_done (run_t *run)
{
    return run->done + run->failed >= run->client_count;
}

//  --- the figure ---------------------------------------------------------------------------

static void
s_report (run_t *run, double open_s, double load_ended)
{
    long delivered = 0, duplicates = 0, others = 0, resets = 0;
    double last = 0;
    for (long index = 0; index < run->client_count; index++) {
        client_t *client = &run->clients [index];
        delivered += client->distinct;
        duplicates += client->duplicates;
        others += client->others;
        resets += client->resets;
        if (client->done_at > last)
            last = client->done_at;
    }
    long expected = run->client_count * run->change_count;
    double last_s = (run->done == run->client_count ? last : load_ended) - run->send_started;
    if (last_s <= 0)
        last_s = 1e-6;              //  a clock step; the rates are then meaningless, not NaN
    printf ("clients=%ld changes=%ld expected=%ld delivered=%ld missed=%ld duplicates=%ld "
            "resets=%ld others=%ld failed=%ld open_s=%.3f send_s=%.3f last_s=%.3f rate=%.0f "
            "per_client_rate=%.0f", run->client_count, run->change_count, expected, delivered,
            expected - delivered, duplicates, resets, others, run->failed, open_s,
            run->send_ended - run->send_started, last_s, (double) delivered / last_s,
            (double) run->change_count / last_s);
    qsort (run->latency_ms, run->latency_count, sizeof (double), bench_compare_double);
    printf (" p50_ms=%.1f p99_ms=%.1f max_ms=%.1f\n",
            bench_percentile (run->latency_ms, run->latency_count, 0.50),
            bench_percentile (run->latency_ms, run->latency_count, 0.99),
            run->latency_count ? run->latency_ms [run->latency_count - 1] : 0.0);
}

static int
s_open_clients (run_t *run)
{
    run->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
    if (run->epoll_fd < 0) {
        fprintf (stderr, "bench_sse: epoll_create1: %s\n", strerror (errno));
        return -1;
    }
    for (long index = 0; index < run->client_count; index++) {
        client_t *client = &run->clients [index];
        client->seen = calloc ((size_t) run->change_count, 1);
        if (!client->seen || s_connect (run, client, index))
            return -1;
    }
    if (!s_loop (run, s_all_open, BENCH_OPEN_MS) || run->failed) {
        fprintf (stderr, "bench_sse: %ld of %ld streams open, %ld failed (%s)\n", run->ready,
                 run->client_count, run->failed, *run->failure ? run->failure : "deadline");
        return -1;
    }
    return 0;
}

//  The warm-up change, until every client has it; sets first_seq.
static int
s_warm_up (run_t *run, const char *ingest)
{
    char error [256];
    run->push = bus_open (ZMQ_PUSH, ingest, BUS_CONNECT, error, sizeof error);
    if (!run->push) {
        fprintf (stderr, "bench_sse: %s\n", error);
        return -1;
    }
    snprintf (run->warm_id, sizeof run->warm_id, "\"id\":\"sse-warm-%s\"", bench_run_tag ());
    char id [BENCH_NAME_MAX];
    snprintf (id, sizeof id, "sse-warm-%s", bench_run_tag ());
    bool sent = false;
    for (int attempt = 0; attempt < 1000 && !sent; attempt++) {
        sent = s_send_change (run, id, "warm-up") == 0;
        if (!sent)
            zclock_sleep (10);
    }
    if (!sent || !s_loop (run, s_all_warm, BENCH_WARM_MS) || run->failed) {
        fprintf (stderr, "bench_sse: the warm-up change did not reach every client (%s)\n",
                 *run->failure ? run->failure : "deadline");
        return -1;
    }
    run->first_seq = run->clients [0].warm_seq + 1;
    return 0;
}

static int
s_run (run_t *run, const char *ingest)
{
    double opened = bench_mono_s ();
    if (s_open_clients (run))
        return -1;
    double open_s = bench_mono_s () - opened;
    if (s_warm_up (run, ingest))
        return -1;
    bool complete = s_loop (run, s_all_done, BENCH_LOAD_MS);
    s_report (run, open_s, bench_mono_s ());
    if (*run->failure)
        fprintf (stderr, "bench_sse: a client failed: %s\n", run->failure);
    return complete && run->done == run->client_count && run->failed == 0 ? 0 : 1;
}

static void
s_free (run_t *run)
{
    for (long index = 0; run->clients && index < run->client_count; index++) {
        if (run->clients [index].fd >= 0)
            close (run->clients [index].fd);
        free (run->clients [index].seen);
    }
    free (run->clients);
    free (run->latency_ms);
    if (run->epoll_fd >= 0)
        close (run->epoll_fd);
    zsock_destroy (&run->push);
    wire_writer_free (&run->writer);
}

int
main (int argc, char *argv [])
{
    static run_t run = { .epoll_fd = -1 };
    if (argc < 5 || argc > 6 || s_parse_address (&run, argv [1])) {
        fprintf (stderr, "usage: bench_sse ADDR:PORT INGEST CLIENTS CHANGES [RATE]\n");
        return 2;
    }
    run.client_count = atol (argv [3]);
    run.change_count = atol (argv [4]);
    run.rate = argc == 6 ? atol (argv [5]) : 0;
    if (run.client_count < 1 || run.client_count > BENCH_CLIENTS_MAX || run.change_count < 1
    ||  run.change_count > BENCH_CHANGES_MAX || run.rate < 0) {
        fprintf (stderr, "bench_sse: bad arguments\n");
        return 2;
    }
    alarm (BENCH_DEADLINE_S);
    if (s_raise_file_limit (run.client_count))
        return 1;
    wire_writer_init (&run.writer);
    run.clients = calloc ((size_t) run.client_count, sizeof (client_t));
    run.latency_capacity = (size_t) (run.client_count * run.change_count);
    run.latency_ms = calloc (run.latency_capacity, sizeof (double));
    for (long index = 0; run.clients && index < run.client_count; index++)
        run.clients [index].fd = -1;
    int rc = run.clients && run.latency_ms ? s_run (&run, argv [2]) : -1;
    s_free (&run);
    return rc < 0 ? 1 : rc;
}
