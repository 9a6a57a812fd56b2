/*  reads.c — the control ops that read history from the store: `since`
    (a subscriber catching up after a gap, a restart or a takeover) and
    `history` (one alert's changes, newest first).

    On PostgreSQL a read is a round trip, and the loop must not wait for
    it: the read is queued, goes out in the turn's core_work on the store's
    reads session (store_read_send), and the op returns CORE_READ_LATER, so core_answer says the reply
    comes later (CORE_REPLY_LATER) and the loop keeps the request's
    envelope. core_reads_work, each turn, reads the answer when the
    store's socket has it (store_read_fd, which the loop polls) and makes
    the reply, which the loop takes with core_take_reply — in the order the
    requests came, because reads queue and only the first is out. SQLite
    answers a read at once (store_reads_later is false), and the reply is
    made at once.

    A since is cut at what was published when it was asked (upto): the
    reads session sees every committed change, and a change committed but
    not yet published must not reach a subscriber before the bus has it.

    The count of the standbys (core_count_standbys, every couple of
    seconds on PostgreSQL) rides in the same queue, marked internal: its
    answer is the core's own, not a reply, so the loop's envelopes still
    pair with the replies in order. With fewer standbys waiting than
    broker/standbys asks, the broker says degraded (hugz, ping, stats), so
    a high availability that quietly went away (a standby stopped, or one
    that cannot log in) is heard of before the takeover that needs it.
*/
#include <assert.h>
#include <string.h>
#include "core_internal.h"
#include "mem.h"
#include "timespec.h"

//  A read that could not be sent, or that a server (PostgreSQL) did not
//  answer (STORE_READ_AGAIN): nothing is known to be wrong with history,
//  and asking again may work. History that cannot be read (a damaged
//  file, a statement the server refuses) is another matter: take a
//  snapshot (s_since_fields).
#define S_CANNOT_READ "cannot read history now (%s): ask again"
//  ... and one asked of a broker that stops.
#define S_STOPPING "the broker is stopping: ask again (another broker may answer)"

//  A read a server did not answer (its session lost, or past the
//  deadline): said, logged (rate-limited), and asking again may work. -1.
static int
s_cannot_read (core_t *self, char *error, size_t error_size)
{
    snprintf (error, error_size, S_CANNOT_READ, store_read_error (self->store));
    log_limited (&self->store_log, "%s", error);
    if (!self->reads_failing_since) {
        //  Subscribers that cannot catch up must not lag in silence: hugz,
        //  ping and stats say degraded until a read works, and the
        //  notifiers' broker watch tells a human
        self->reads_failing_since = clock_now_ms ();
        snprintf (self->reads_failing_reason, sizeof self->reads_failing_reason,
                  "reads of history failing: %.200s", store_read_error (self->store));
        log_error ("%s (subscribers catching up are told to ask again)",
                   self->reads_failing_reason);
    }
    return -1;
}

//  A read was answered: reads work (again).
static void
s_can_read (core_t *self)
{
    if (!self->reads_failing_since)
        return;
    log_info ("reads of history work again");
    self->reads_failing_since = 0;
    self->reads_failing_reason [0] = 0;
}

//  The bodies of a reply, collected as the store gives them.
typedef struct {
    msgpack_sbuffer bodies;        //  the bodies, back to back
    size_t count;                  //  bodies in it
    size_t limit;                  //  most bodies wanted
    bool more;                     //  some were left out
    uint64_t last;                 //  the seq of the last body in it
} collected_t;

static void
s_collect_body (uint64_t seq, const void *body, size_t size, void *arg)
{
    collected_t *collected = arg;
    if (collected->more || collected->count == collected->limit
    ||  collected->bodies.size + size > CONTROL_REPLY_BUDGET) {
        collected->more = true;
        return;
    }
    msgpack_sbuffer_write (&collected->bodies, body, size);
    collected->count++;
    collected->last = seq;
}

//  Packs changes and more. 2.
static int
s_pack_changes (msgpack_packer *out, const collected_t *collected)
{
    wire_pack_key (out, "changes");
    msgpack_pack_array (out, collected->count);
    msgpack_sbuffer_write (out->data, collected->bodies.data, collected->bodies.size);
    wire_pack_key_bool (out, "more", collected->more);
    return 2;
}

//  The reply's fields for a since the store answered (rc 0) or not (-1).
static int
s_since_fields (core_t *self, const store_read_t *read, int rc, const collected_t *collected,
                uint64_t oldest, msgpack_packer *out, char *error, size_t error_size)
{
    if (rc == STORE_READ_AGAIN)
        return s_cannot_read (self, error, error_size);
    if (rc) {
        //  Damage in history cannot be healed by asking again: the caller
        //  must start over from a snapshot, and a human must hear of it.
        snprintf (error, error_size, "history after seq %" PRIu64 " is unreadable (%s):"
                  " take a snapshot", read->seq, store_read_error (self->store));
        log_limited (&self->store_log, "since %" PRIu64 ": %s", read->seq, error);
        return -1;
    }
    bool pruned = oldest ? read->seq + 1 < oldest : read->seq < read->upto;
    if (pruned) {
        snprintf (error, error_size,
                  "seq %" PRIu64 " is older than the history kept (oldest is %" PRIu64 "):"
                  " take a snapshot", read->seq, oldest);
        return -1;
    }
    s_pack_changes (out, collected);
    wire_pack_key_int (out, "seq", (int64_t) read->upto);
    epoch_pack (out, &self->epoch);
    return 4;
}

//  The reply's fields for a history page.
static int
s_history_fields (core_t *self, const store_read_t *read, int rc, const collected_t *collected,
                  msgpack_packer *out, char *error, size_t error_size)
{
    if (rc == STORE_READ_AGAIN)
        return s_cannot_read (self, error, error_size);
    if (rc) {
        snprintf (error, error_size, "history of %s/%s is unreadable: %s", read->source,
                  read->id, store_read_error (self->store));
        log_limited (&self->store_log, "%s", error);
        return -1;
    }
    s_pack_changes (out, collected);
    if (!collected->more)
        return 2;
    wire_pack_key_int (out, "before", (int64_t) collected->last);
    return 3;
}

//  The reply's fields for read, answered (rc) with collected.
static int
s_fields (core_t *self, const store_read_t *read, int rc, const collected_t *collected,
          uint64_t oldest, msgpack_packer *out, char *error, size_t error_size)
{
    if (rc == 0)
        s_can_read (self);
    return read->kind == STORE_READ_SINCE
         ? s_since_fields (self, read, rc, collected, oldest, out, error, error_size)
         : s_history_fields (self, read, rc, collected, out, error, error_size);
}

//  Sends the read and reads its answer, which a store that answers reads
//  at once has: the reply's fields into out (pairs, or -1 with error), as
//  s_since_fields and s_history_fields make them.
static int
s_read_now (core_t *self, const store_read_t *read, msgpack_packer *out, char *error,
            size_t error_size)
{
    collected_t collected = { .limit = read->limit - 1 };  //  one more: are there more?
    msgpack_sbuffer_init (&collected.bodies);
    uint64_t oldest = 0;
    if (store_read_send (self->store, read)) {
        msgpack_sbuffer_destroy (&collected.bodies);
        return s_cannot_read (self, error, error_size);
    }
    int rc = store_read_poll (self->store, s_collect_body, &collected, &oldest);
    assert (rc != 1);
    int pairs = s_fields (self, read, rc, &collected, oldest, out, error, error_size);
    msgpack_sbuffer_destroy (&collected.bodies);
    return pairs;
}

//  Queues read, copying its strings.
static void
s_queue (core_t *self, const store_read_t *read)
{
    if (self->read_count == self->read_capacity) {
        self->read_capacity = self->read_capacity ? self->read_capacity * 2 : 8;
        self->reads = mem_realloc (self->reads, self->read_capacity * sizeof (read_request_t));
    }
    read_request_t *request = &self->reads [self->read_count++];
    *request = (read_request_t) { .read = *read };
    request->source = read->source ? mem_strdup (read->source) : NULL;
    request->id = read->id ? mem_strdup (read->id) : NULL;
    request->read.source = request->source;
    request->read.id = request->id;
}

//  A store that answers reads at once (SQLite) answers this one now; on
//  one that answers later the read waits its turn, and goes out in this
//  turn's core_work when nothing is ahead of it.
static int
s_read (core_t *self, const store_read_t *read, msgpack_packer *out, char *error,
        size_t error_size)
{
    if (self->lost || self->finishing) {
        snprintf (error, error_size, S_STOPPING);
        return -1;
    }
    if (!store_reads_later (self->store))
        return s_read_now (self, read, out, error, error_size);
    s_queue (self, read);
    return CORE_READ_LATER;
}

int
core_read_since (core_t *self, uint64_t after, size_t limit, msgpack_packer *out,
                 char *error, size_t error_size)
{
    store_read_t read = { .kind = STORE_READ_SINCE, .seq = after, .upto = self->published_seq,
                          .limit = limit + 1, .budget = CONTROL_REPLY_BUDGET };
    return s_read (self, &read, out, error, error_size);
}

int
core_read_history (core_t *self, const alert_t *alert, uint64_t newest, uint64_t before,
                   size_t limit, msgpack_packer *out, char *error, size_t error_size)
{
    store_read_t read = { .kind = STORE_READ_CHAIN, .seq = newest, .upto = before,
                          .source = alert->source, .id = alert->id, .limit = limit + 1,
                          .budget = CONTROL_REPLY_BUDGET };
    return s_read (self, &read, out, error, error_size);
}

void
core_count_standbys (core_t *self)
{
    if (!store_reads_later (self->store) || self->standby_count_queued || self->lost
    ||  self->finishing)
        return;
    store_read_t read = { .kind = STORE_READ_STANDBYS, .limit = 2 };
    s_queue (self, &read);
    self->reads [self->read_count - 1].internal = true;
    self->standby_count_queued = true;
}

//  The standbys were counted (rc 0: count), or could not be (why): the
//  count kept for `stats`, and with fewer than broker/standbys the broker
//  degraded, said once (the reason follows each count) until enough wait.
static void
s_standbys_counted (core_t *self, int rc, int64_t count, const char *why)
{
    self->standbys = rc == 0 ? count : -1;
    if (rc)                                 //  (a host name's lookup waits: not every 2 s)
        self->next_standby_count = self->tick + BROKER_STANDBYS_RETRY_MS;
    int64_t wanted = self->config.standbys;
    bool enough = wanted == 0 || (rc == 0 && count >= wanted);
    if (enough && self->standbys_short_since) {
        log_info ("standbys: %" PRId64 " brokers wait to take over again (%" PRId64
                  " expected)", count, wanted);
        self->standbys_short_since = 0;
        self->standbys_short_reason [0] = 0;
    }
    if (enough)
        return;
    if (rc)
        snprintf (self->standbys_short_reason, sizeof self->standbys_short_reason,
                  "cannot count the standby brokers (%" PRId64 " expected): %.180s",
                  wanted, why);
    else
        snprintf (self->standbys_short_reason, sizeof self->standbys_short_reason,
                  "%" PRId64 " of %" PRId64 " standby brokers wait to take over: if this "
                  "broker fails, %s", count, wanted, count ? "fewer will" : "nobody will");
    if (!self->standbys_short_since) {
        self->standbys_short_since = clock_now_ms ();
        log_error ("%s (start them, or lower broker/standbys)", self->standbys_short_reason);
    }
}

void
core_read_answers_tx (core_t *self, char *tx)
{
    if (self->read_count && !self->reads [self->read_count - 1].tx
    &&  !self->reads [self->read_count - 1].internal)
        self->reads [self->read_count - 1].tx = tx;
    else
        mem_free (tx);
}

//  Drops the first read.
static void
s_drop_first (core_t *self)
{
    read_request_t *request = &self->reads [0];
    mem_free (request->source);
    mem_free (request->id);
    mem_free (request->tx);
    memmove (self->reads, self->reads + 1, --self->read_count * sizeof (read_request_t));
}

//  The first read is answered (rc, collected): its reply made and kept
//  for the loop (the standbys' count: kept by the core), the read dropped.
static void
s_answered (core_t *self, int rc, const collected_t *collected, uint64_t oldest,
            const char *refused)
{
    read_request_t *request = &self->reads [0];
    if (request->internal) {
        self->standby_count_queued = false;
        if (!refused && rc == 0)
            s_can_read (self);              //  the reads session works
        if (!self->lost && !self->finishing && !(refused && strcmp (refused, S_STOPPING) == 0))
            s_standbys_counted (self, refused ? -1 : rc,
                                collected->count ? (int64_t) collected->last : 0,
                                refused ? refused : store_read_error (self->store));
        s_drop_first (self);
        return;
    }
    const store_read_t *read = &request->read;
    wire_writer_t fields, reply;
    wire_writer_init (&fields);
    wire_writer_init (&reply);
    char error [WIRE_ERROR_SIZE];
    int pairs = -1;
    if (refused)
        snprintf (error, sizeof error, "%s", refused);
    else
        pairs = s_fields (self, read, rc, collected, oldest, &fields.packer, error,
                          sizeof error);
    if (pairs < 0) {
        self->stats.control_errors++;
        core_pack_error (&reply, error, request->tx, 0);
    }
    else
        core_pack_ok (&reply, pairs, &fields, request->tx);
    if (self->answer_count == self->answer_capacity) {
        self->answer_capacity = self->answer_capacity ? self->answer_capacity * 2 : 8;
        self->answers = mem_realloc (self->answers,
                                     self->answer_capacity * sizeof (read_answer_t));
    }
    self->answers [self->answer_count].data = mem_alloc (reply.buffer.size);
    memcpy (self->answers [self->answer_count].data, reply.buffer.data, reply.buffer.size);
    self->answers [self->answer_count++].size = reply.buffer.size;
    wire_writer_free (&fields);
    wire_writer_free (&reply);
    s_drop_first (self);
}

void
core_reads_work (core_t *self, bool stopping)
{
    while (self->read_count) {
        read_request_t *request = &self->reads [0];
        collected_t collected = { .limit = request->read.limit - 1 };
        msgpack_sbuffer_init (&collected.bodies);
        uint64_t oldest = 0;
        char refused [WIRE_ERROR_SIZE] = "";
        int rc = -1;
        if (stopping || self->lost)
            snprintf (refused, sizeof refused, S_STOPPING);
        else
        if (!request->sent && store_read_send (self->store, &request->read)) {
            if (request->internal)          //  (its failure is the count's, not the reads')
                snprintf (refused, sizeof refused, "%s", store_read_error (self->store));
            else
                s_cannot_read (self, refused, sizeof refused);
        }
        else {
            request->sent = true;
            rc = store_read_poll (self->store, s_collect_body, &collected, &oldest);
        }
        if (rc == 1) {
            msgpack_sbuffer_destroy (&collected.bodies);
            return;
        }
        s_answered (self, rc, &collected, oldest, *refused ? refused : NULL);
        msgpack_sbuffer_destroy (&collected.bodies);
    }
}

bool
core_take_reply (core_t *self, wire_writer_t *reply)
{
    if (!self->answer_count)
        return false;
    read_answer_t answer = self->answers [0];
    memmove (self->answers, self->answers + 1, --self->answer_count * sizeof (read_answer_t));
    wire_writer_reset (reply);
    msgpack_sbuffer_write (&reply->buffer, answer.data, answer.size);
    mem_free (answer.data);
    return true;
}

int
core_read_fd (core_t *self, short *events)
{
    return store_read_fd (self->store, events);
}

void
core_refuse_reads (core_t *self)
{
    core_reads_work (self, true);
}

void
core_reads_destroy (core_t *self)
{
    for (size_t index = 0; index < self->read_count; index++) {
        mem_free (self->reads [index].source);
        mem_free (self->reads [index].id);
        mem_free (self->reads [index].tx);
    }
    for (size_t index = 0; index < self->answer_count; index++)
        mem_free (self->answers [index].data);
    mem_free (self->reads);
    mem_free (self->answers);
}
