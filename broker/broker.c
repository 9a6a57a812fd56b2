/*  broker.c — the broker's loop: the sockets, the signals, the poll.

    It owns what the core (core.h) must not: the PULL, PUB and ROUTER
    sockets, the signalfd, the CURVE authenticator and its monitors, the
    control replies that wait for a commit or for the store's answer to a
    read (core_take_reply), and the loop's own timers (hugz,
    giving memory back). Each turn it reads ingest frames into a group and
    hands them to the core, answers control requests through the core,
    reads signals and handshake failures, and lets the core fire, commit
    and publish (core_work). The core publishes through s_publish, the only
    place a change meets the PUB socket.

    Ingest is read in groups: up to BROKER_GROUP_FRAMES frames, or until
    the group holds BROKER_GROUP_EVENTS events, are accepted (decoded,
    authorized: the sender's identity rides on each zmq message) and then
    applied together, so the core can prefetch their lookups (ingest.c).
*/
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "broker.h"
#include "bus.h"
#include "core.h"
#include "log.h"
#include "mem.h"
#include "security.h"
#include "signals.h"
#include "timespec.h"

#define BROKER_HUGZ_MS          1000               //  hugz period
#define BROKER_MAX_SLEEP_MS     1000               //  the loop wakes at least this often
#define BROKER_EVENTS_PER_TURN  20000              //  ingested events applied per turn, about
#define BROKER_CONTROL_PER_TURN 100                //  control requests answered per turn, at most
#define BROKER_TRIM_MS          5000               //  freed memory goes back to the system this often
#define BROKER_TRIM_THRESHOLD   (4 * 1024 * 1024)  //  bytes free atop the heap kept until then

struct _broker_t {
    broker_config_t config;        //  our own copy (endpoints, batch)
    core_t *core;                  //  everything but the sockets
    zsock_t *ingest;               //  PULL
    zsock_t *publisher;            //  PUB
    zsock_t *control;              //  ROUTER
    int signal_fd;                 //  SIGINT/SIGTERM/SIGHUP, or -1
    security_t *security;          //  CURVE and the client table, or NULL (plain)
    zlist_t *replies;              //  zmsg_t control replies waiting for the commit
    zlist_t *later;                //  zmsg_t envelopes of requests whose replies come
                                   //  with the store's answer (core_take_reply), in order
    bool stopping;                 //  a signal arrived, or the database is gone
    bool fatal;                    //  stopping without writing: the file is gone
    int64_t tick;                  //  monotonic ms at the start of this turn
    int64_t next_hugz;             //  tick
    int64_t next_trim;             //  tick: malloc_trim then
    ingest_frame_t group [BROKER_GROUP_FRAMES];    //  frames read, their events not applied yet
    log_limit_t reply_log;         //  rate limit for failed sends
};

//  --- publishing and replies -----------------------------------------------------

//  Sends [topic, body] on the PUB socket (core_publish_fn). PUB never
//  blocks: past its high-water mark libzmq drops, and subscribers catch up
//  with `since`.
static int
s_publish (void *arg, const char *topic, const void *body, size_t size)
{
    broker_t *self = arg;
    void *socket = zsock_resolve (self->publisher);
    if (zmq_send (socket, topic, strlen (topic), ZMQ_SNDMORE) < 0
    ||  zmq_send (socket, body, size, 0) < 0) {
        log_limited (&self->reply_log, "publish %s failed: %s", topic, zmq_strerror (errno));
        return -1;
    }
    return 0;
}

static void
s_send_reply (broker_t *self, zmsg_t **reply_p)
{
    if (zmsg_send (reply_p, self->control)) {
        log_limited (&self->reply_log, "control reply failed: %s", zmq_strerror (errno));
        zmsg_destroy (reply_p);
    }
}

//  With everything committed and published, the replies that waited go.
static void
s_send_replies (broker_t *self)
{
    if (core_unpublished (self->core))
        return;
    zmsg_t *reply;
    while ((reply = zlist_pop (self->replies)))
        s_send_reply (self, &reply);
}

//  The replies that came with the store's answers, each to the envelope
//  of its request: both come in request order.
static void
s_send_later (broker_t *self)
{
    wire_writer_t reply;
    wire_writer_init (&reply);
    while (zlist_size (self->later) && core_take_reply (self->core, &reply)) {
        zmsg_t *request = zlist_pop (self->later);
        if (zmsg_addmem (request, reply.buffer.data, reply.buffer.size) == 0)
            s_send_reply (self, &request);
        zmsg_destroy (&request);
    }
    wire_writer_free (&reply);
}

//  --- ingest ----------------------------------------------------------------------

//  Reads one message without blocking. 1: an accepted frame, now in frame;
//  0: a refused one; -1: nothing to read. Multi-part messages are refused
//  whole.
static int
s_read_frame (broker_t *self, ingest_frame_t *frame, int64_t now)
{
    void *socket = zsock_resolve (self->ingest);
    zmq_msg_t message;
    zmq_msg_init (&message);
    if (zmq_msg_recv (&message, socket, ZMQ_DONTWAIT) < 0) {
        if (errno != EAGAIN && errno != EINTR)
            log_limited (&self->reply_log, "ingest receive: %s", zmq_strerror (errno));
        zmq_msg_close (&message);
        return -1;
    }
    //  The sender's identity rides on every frame; read it now, before the
    //  message is closed
    core_caller_t sender = { NULL, NULL, NULL };
    if (self->security) {
        sender.user_id = zmq_msg_gets (&message, "User-Id");
        sender.address = zmq_msg_gets (&message, "Peer-Address");
        sender.client = security_client (self->security, sender.user_id);
    }
    bool accepted = false;
    if (zmq_msg_more (&message)) {
        while (zmq_msg_more (&message) && zmq_msg_recv (&message, socket, 0) >= 0)
            ;   //  discard the rest of the message
        core_reject (self->core, "ingest message", "ingest takes one frame per message");
    }
    else
        accepted = core_accept_frame (self->core, frame, zmq_msg_data (&message),
                                      zmq_msg_size (&message), &sender, now);
    zmq_msg_close (&message);
    return accepted ? 1 : 0;
}

//  Reads up to `batch` frames, or about BROKER_EVENTS_PER_TURN events (a
//  frame may hold 10,000), without blocking, so one turn stays short and
//  hugz, control and timers keep their pace under load.
static void
s_drain_ingest (broker_t *self, int64_t now)
{
    int64_t read = 0;                  //  messages read this turn
    size_t events = 0;                 //  events in the frames accepted
    bool empty = false;
    while (!empty && read < self->config.batch && events < BROKER_EVENTS_PER_TURN) {
        size_t frames = 0;
        size_t group_events = 0;
        while (frames < BROKER_GROUP_FRAMES && group_events < BROKER_GROUP_EVENTS
               && read < self->config.batch) {
            int rc = s_read_frame (self, &self->group [frames], now);
            if (rc < 0) {
                empty = true;
                break;
            }
            read++;
            if (rc == 1)
                group_events += self->group [frames++].batch.event_count;
        }
        core_apply_frames (self->core, self->group, frames, now);
        events += group_events;
    }
}

//  --- control ---------------------------------------------------------------------

static void
s_handle_control (broker_t *self, int64_t now)
{
    zmsg_t *request = zmsg_recv (self->control);
    if (!request)
        return;
    zframe_t *body = zmsg_last (request);      //  a ROUTER adds the sender's id first
    core_caller_t caller = { NULL, NULL, NULL };
    if (self->security) {
        caller.user_id = zframe_meta (body, "User-Id");
        caller.client = security_client (self->security, caller.user_id);
        caller.address = zframe_meta (body, "Peer-Address");
    }
    wire_writer_t reply;
    wire_writer_init (&reply);
    core_reply_t when = core_answer (self->core, &caller, zframe_data (body),
                                     zframe_size (body), &reply, now);
    zmsg_remove (request, body);
    zframe_destroy (&body);
    if (when == CORE_REPLY_LATER) {
        //  Envelopes and replies pair up in order: one lost would send
        //  every later reply to the wrong client
        if (zlist_append (self->later, request))
            log_fatal ("out of memory");
        request = NULL;                 //  answered when the store has answered
    }
    else
    if (zmsg_addmem (request, reply.buffer.data, reply.buffer.size) == 0) {
        if (when == CORE_REPLY_NOW)
            s_send_reply (self, &request);
        else
        if (zlist_append (self->replies, request) == 0)
            request = NULL;             //  answered once the change is committed
    }
    zmsg_destroy (&request);
    wire_writer_free (&reply);
}

//  --- start and the loop -----------------------------------------------------------

//  With security, zauth starts (and bus_open turns CURVE on) before the
//  first bind; monitors count refused handshakes on each socket.
static int
s_open_sockets (broker_t *self, char *error, size_t error_size)
{
    self->ingest = bus_open (ZMQ_PULL, self->config.ingest, BUS_BIND, error, error_size);
    if (!self->ingest)
        return -1;
    self->publisher = bus_open (ZMQ_PUB, self->config.publish, BUS_BIND, error, error_size);
    if (!self->publisher)
        return -1;
    self->control = bus_open (ZMQ_ROUTER, self->config.control, BUS_BIND, error, error_size);
    if (!self->control)
        return -1;
    if (self->security
    &&  (security_monitor (self->security, self->ingest, "ingest", error, error_size)
    ||   security_monitor (self->security, self->publisher, "publish", error, error_size)
    ||   security_monitor (self->security, self->control, "control", error, error_size)))
        return -1;
    return 0;
}

broker_t *
broker_new (const broker_config_t *config, char *error, size_t error_size)
{
    broker_t *self = mem_alloc (sizeof (broker_t));
    broker_config_copy (&self->config, config);
    self->signal_fd = -1;
    self->replies = zlist_new ();
    self->later = zlist_new ();
    if (!self->replies || !self->later) {
        snprintf (error, error_size, "out of memory");
        broker_destroy (&self);
        return NULL;
    }
    if (config->security_cert) {
        self->security = security_new (config->security_cert, config->security_clients,
                                       log_verbose (), error, error_size);
        if (!self->security) {
            broker_destroy (&self);
            return NULL;
        }
    }
    self->core = core_new (config, self->security != NULL, s_publish, self, error, error_size);
    if (!self->core || s_open_sockets (self, error, error_size)) {
        broker_destroy (&self);
        return NULL;
    }
    return self;
}

void
broker_destroy (broker_t **self_p)
{
    if (!*self_p)
        return;
    broker_t *self = *self_p;
    core_destroy (&self->core);
    zmsg_t *reply;
    while (self->replies && (reply = zlist_pop (self->replies)))
        zmsg_destroy (&reply);
    zlist_destroy (&self->replies);
    while (self->later && (reply = zlist_pop (self->later)))
        zmsg_destroy (&reply);
    zlist_destroy (&self->later);
    zsock_destroy (&self->ingest);
    zsock_destroy (&self->publisher);
    zsock_destroy (&self->control);
    security_destroy (&self->security);
    if (self->signal_fd >= 0)
        close (self->signal_fd);
    for (size_t index = 0; index < BROKER_GROUP_FRAMES; index++)
        wire_batch_free (&self->group [index].batch);
    broker_config_free (&self->config);
    mem_free (self);
    *self_p = NULL;
}

static void
s_read_signal (broker_t *self)
{
    struct signalfd_siginfo info;
    while (read (self->signal_fd, &info, sizeof info) == sizeof info) {
        if (info.ssi_signo == SIGHUP) {
            if (self->security)
                security_reload (self->security);
            else
                log_info ("SIGHUP: nothing to reload (no security section)");
            continue;
        }
        log_info ("%s: finishing the turn, committing, exiting", strsignal ((int) info.ssi_signo));
        self->stopping = true;
    }
}

static void
s_read_monitors (broker_t *self, zmq_pollitem_t *items)
{
    for (int index = 0; index < security_monitor_count (self->security); index++)
        if (items [index].revents & ZMQ_POLLIN) {
            char what [300] = "";
            int failures = security_read_monitor (self->security, index, what, sizeof what);
            core_count_handshake_failures (self->core, failures);
            if (failures)
                log_limited (&self->reply_log, "refused %d handshake%s on %s", failures,
                             failures == 1 ? "" : "s", what);
        }
}

//  How long the loop may sleep: until the first thing it or the core must
//  do, and never more than BROKER_MAX_SLEEP_MS.
static long
s_poll_timeout (broker_t *self)
{
    int64_t tick = zclock_mono ();
    long wait = core_poll_timeout (self->core, clock_now_ms (), tick, BROKER_MAX_SLEEP_MS);
    if (self->next_hugz - tick < wait)
        wait = self->next_hugz - tick < 0 ? 0 : (long) (self->next_hugz - tick);
    return wait;
}

//  Gives memory the process freed back to the system: glibc keeps freed
//  chunks in its arenas (libzmq's I/O thread has its own), so the queue of
//  a subscriber that went away, or a refused many-frame message, would
//  otherwise stay resident for good. malloc_trim walks every arena.
static void
s_trim (broker_t *self)
{
    malloc_trim (0);
    self->next_trim = self->tick + BROKER_TRIM_MS;
}

static void
s_turn (broker_t *self, zmq_pollitem_t *items, int64_t now)
{
    self->tick = zclock_mono ();
    core_begin_turn (self->core, self->tick);
    if (items [0].revents & ZMQ_POLLIN)
        s_drain_ingest (self, now);
    for (int count = 0; count < BROKER_CONTROL_PER_TURN
         && (zsock_events (self->control) & ZMQ_POLLIN); count++)
        s_handle_control (self, now);
    if (items [2].revents & ZMQ_POLLIN)
        s_read_signal (self);
    s_read_monitors (self, items + 3);
    core_work (self->core, now);
    if (core_lost (self->core)) {
        self->fatal = self->stopping = true;
        return;
    }
    s_send_replies (self);
    s_send_later (self);
    if (self->tick >= self->next_hugz) {
        if (!core_hugz (self->core, now))
            self->fatal = self->stopping = true;
        self->next_hugz = self->tick + BROKER_HUGZ_MS;
    }
    if (self->tick >= self->next_trim)
        s_trim (self);
}

int
broker_run (broker_t *self)
{
    //  SIGINT and SIGTERM arrive on a signalfd the loop polls: the loop
    //  finishes its turn and commits
    self->signal_fd = signals_open_fd ((const int []) { SIGINT, SIGTERM, SIGHUP }, 3);
    if (self->signal_fd < 0) {
        log_error ("cannot set up signal handling: %s", strerror (errno));
        return -1;
    }
    //  SQLite frees memory at the top of the heap after each statement and
    //  takes it again at the next: at glibc's default threshold every such
    //  free went back to the system (brk, then page faults on the way up
    //  again), a tenth of the broker's time under small commits. s_trim
    //  gives freed memory back every BROKER_TRIM_MS instead.
    if (mallopt (M_TRIM_THRESHOLD, BROKER_TRIM_THRESHOLD) != 1)
        log_warn ("cannot raise malloc's trim threshold: freed memory goes back at once");
    self->tick = zclock_mono ();
    self->next_hugz = self->tick;
    log_info ("ready: %zu alerts, seq %" PRIu64 ", ingest %s, publish %s, control %s, database %s",
              core_alert_count (self->core), core_published_seq (self->core), self->config.ingest,
              self->config.publish, self->config.control, core_database (self->core));
    while (!self->stopping) {
        bool paused = core_backlog_full (self->core);
        zmq_pollitem_t items [3 + SECURITY_MONITORS_MAX + 2] = {
            { zsock_resolve (self->ingest), 0, paused ? 0 : ZMQ_POLLIN, 0 },
            { zsock_resolve (self->control), 0, ZMQ_POLLIN, 0 },
            { NULL, self->signal_fd, ZMQ_POLLIN, 0 },
        };
        int monitors = security_monitor_count (self->security);
        for (int index = 0; index < monitors; index++)
            items [3 + index] = (zmq_pollitem_t) {
                security_monitor_handle (self->security, index), 0, ZMQ_POLLIN, 0 };
        //  The store's answer in flight, if any (PostgreSQL), read by core_work,
        //  and the answer to a read out, on its own session
        short store_events = 0, read_events = 0;
        int store_fd = core_poll_fd (self->core, &store_events);
        int read_fd = core_read_fd (self->core, &read_events);
        int count = 3 + monitors;
        if (store_fd >= 0)
            items [count++] = bus_fd_item (store_fd, store_events);
        if (read_fd >= 0)
            items [count++] = bus_fd_item (read_fd, read_events);
        if (zmq_poll (items, count, s_poll_timeout (self)) < 0 && errno != EINTR) {
            log_error ("poll failed: %s", zmq_strerror (errno));
            continue;
        }
        s_turn (self, items, clock_now_ms ());
    }
    if (self->fatal) {
        core_refuse_reads (self->core);
        s_send_later (self);
        return -1;
    }
    int rc = core_finish (self->core);
    s_send_replies (self);
    s_send_later (self);
    return rc;
}
