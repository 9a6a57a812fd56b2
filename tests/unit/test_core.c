/*  test_core.c — the broker's core (core.h) driven without a socket: a
    store in a temp dir, control requests as msgpack bytes, ingest frames
    handed in as the loop would, and a publish function that records what
    went out. It checks what the loop relies on: nothing is published
    before core_work commits it, a reply that waits says so, the caller's
    certificate (not the request) decides roles and `by`, a refused frame
    changes nothing, a clean stop lets the next core go on in the same
    epoch and seq, and changes committed but not yet in their rows (a
    crash before the checkpoint) come back from history.
*/
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../check.h"
#include "../lib/pg_start.h"
#include "../../broker/core.h"
#include "alert.h"
#include "log.h"
#include "mem.h"
#include "timespec.h"

#define SENT_MAX 16

//  What the core published: topics and bodies, in order.
typedef struct {
    char topic [SENT_MAX][256];
    void *body [SENT_MAX];
    size_t size [SENT_MAX];
    size_t count;
    size_t hugz;
} sent_t;

static int
s_record (void *arg, const char *topic, const void *body, size_t size)
{
    sent_t *sent = arg;
    if (strcmp (topic, "hugz") == 0) {
        sent->hugz++;
        return 0;
    }
    if (sent->count == SENT_MAX)
        return -1;
    snprintf (sent->topic [sent->count], sizeof sent->topic [0], "%s", topic);
    sent->body [sent->count] = mem_alloc (size);
    memcpy (sent->body [sent->count], body, size);
    sent->size [sent->count++] = size;
    return 0;
}

static void
s_sent_free (sent_t *sent)
{
    for (size_t index = 0; index < sent->count; index++)
        mem_free (sent->body [index]);
    memset (sent, 0, sizeof *sent);
}

static char s_dir [] = "/tmp/lilac-test-core.XXXXXX";
static char s_database [600];

static int64_t s_checkpoint_ms = 1000;      //  the config's checkpoint for the next core
static int64_t s_retention_ms;              //  ... and its retention (0: the default)

static core_t *
s_core (bool secured, sent_t *sent)
{
    broker_config_t config;
    config_report_t *report = config_report_new ();
    int rc = broker_config_load (&config, NULL, report);
    config_report_destroy (&report);
    if (rc)
        return NULL;
    mem_free (config.database);
    config.database = mem_strdup (s_database);
    config.checkpoint = s_checkpoint_ms;
    if (s_retention_ms)
        config.retention = s_retention_ms;
    char error [512] = "";
    core_t *core = core_new (&config, secured, s_record, sent, error, sizeof error);
    CHECK (core, "core_new: %s", error);
    broker_config_free (&config);
    return core;
}

//  Begins a case: the next core's checkpoint and retention (0: the
//  default) set, what it publishes and a writer made ready, and the core
//  (NULL, said, when it cannot start). s_case_end ends it.
static core_t *
s_case_begin (sent_t *sent, wire_writer_t *writer, int64_t checkpoint_ms, int64_t retention_ms)
{
    s_checkpoint_ms = checkpoint_ms;
    s_retention_ms = retention_ms;
    memset (sent, 0, sizeof *sent);
    wire_writer_init (writer);
    return s_core (false, sent);
}

//  Ends a case: the core finished (checked) and destroyed, what was sent
//  and the writer freed, the next core's config back to its defaults.
static void
s_case_end (core_t **core, sent_t *sent, wire_writer_t *writer)
{
    if (*core) {
        CHECK (core_finish (*core) == 0, "finish");
        core_destroy (core);
    }
    s_sent_free (sent);
    wire_writer_free (writer);
    s_checkpoint_ms = 1000;
    s_retention_ms = 0;
}

//  Packs {v, op, ...} with string pairs (key, value, ..., NULL) into writer.
static void
s_request (wire_writer_t *writer, const char *op, ...)
{
    const char *pairs [16];
    size_t count = 0;
    va_list args;
    va_start (args, op);
    const char *key;
    while (count < 16 && (key = va_arg (args, const char *))) {
        pairs [count++] = key;
        pairs [count++] = va_arg (args, const char *);
    }
    va_end (args);
    wire_writer_reset (writer);
    msgpack_pack_map (&writer->packer, 2 + count / 2);
    wire_pack_key_int (&writer->packer, "v", WIRE_VERSION);
    wire_pack_key_string (&writer->packer, "op", op);
    for (size_t index = 0; index < count; index += 2)
        wire_pack_key_string (&writer->packer, pairs [index], pairs [index + 1]);
}

//  A reply that comes later: turns (the store's reads socket polled, as
//  the loop polls it) until the core gives it, 5 s at most. true if it came.
static bool
s_take_later (core_t *core, wire_writer_t *reply)
{
    int64_t deadline = zclock_mono () + 5000;
    while (!core_take_reply (core, reply)) {
        if (zclock_mono () >= deadline)
            return false;
        short events = 0;
        int fd = core_read_fd (core, &events);
        struct pollfd item = { fd, events, 0 };
        if (fd < 0 || poll (&item, 1, 10) < 0)
            zclock_sleep (5);
        core_begin_turn (core, zclock_mono ());
        core_work (core, clock_now_ms ());
    }
    return true;
}

//  Answers the request in writer as from caller; the reply's ok, its error
//  (when not ok) into error, and whether it waits (for the commit, or for
//  the store's answer to its read) into *waits. A reply that comes later
//  is waited for.
static bool
s_answer (core_t *core, const core_caller_t *caller, wire_writer_t *writer, bool *waits,
          char *error, size_t error_size)
{
    wire_writer_t reply;
    wire_writer_init (&reply);
    core_reply_t when = core_answer (core, caller, writer->buffer.data, writer->buffer.size,
                                     &reply, clock_now_ms ());
    *waits = when != CORE_REPLY_NOW;
    if (when == CORE_REPLY_LATER && !s_take_later (core, &reply))
        snprintf (error, error_size, "no reply within 5 s");
    char why [WIRE_ERROR_SIZE];
    wire_doc_t *doc = wire_doc_new (reply.buffer.data, reply.buffer.size, why, sizeof why);
    bool ok = false, present = false;
    char *text = NULL;
    if (doc) {
        wire_get_bool (wire_doc_root (doc), "ok", &present, &ok, why, sizeof why);
        wire_get_string (wire_doc_root (doc), "error", 1000, &text, why, sizeof why);
    }
    snprintf (error, error_size, "%s", text ? text : "");
    mem_free (text);
    wire_doc_destroy (&doc);
    wire_writer_free (&reply);
    return ok;
}

//  An ingest frame {v, source, alerts: [{id, when: time, summary}]}, when
//  "raise" or "clear".
static void
s_frame_at (wire_writer_t *writer, const char *source, const char *id, const char *when,
            const char *time)
{
    wire_writer_reset (writer);
    msgpack_pack_map (&writer->packer, 3);
    wire_pack_key_int (&writer->packer, "v", WIRE_VERSION);
    wire_pack_key_string (&writer->packer, "source", source);
    wire_pack_key (&writer->packer, "alerts");
    msgpack_pack_array (&writer->packer, 1);
    msgpack_pack_map (&writer->packer, 3);
    wire_pack_key_string (&writer->packer, "id", id);
    wire_pack_key_string (&writer->packer, when, time);
    wire_pack_key_string (&writer->packer, "summary", "it broke");
}

//  An ingest frame that raises (source, id) at raise.
static void
s_frame (wire_writer_t *writer, const char *source, const char *id, const char *raise)
{
    s_frame_at (writer, source, id, "raise", raise);
}

//  Hands the frame in writer to the core as the loop does; true if accepted.
static bool
s_ingest (core_t *core, const core_caller_t *sender, wire_writer_t *writer)
{
    ingest_frame_t frame = { WIRE_BATCH_EMPTY, NULL };
    int64_t now = clock_now_ms ();
    bool accepted = core_accept_frame (core, &frame, writer->buffer.data, writer->buffer.size,
                                       sender, now);
    if (accepted)
        core_apply_frames (core, &frame, 1, now);
    wire_batch_free (&frame.batch);
    return accepted;
}

//  The alert in the body of change index of sent.
static bool
s_sent_alert (sent_t *sent, size_t index, alert_change_t *change)
{
    char error [WIRE_ERROR_SIZE];
    wire_doc_t *doc = wire_doc_new (sent->body [index], sent->size [index], error, sizeof error);
    bool ok = doc && alert_change_decode (wire_doc_root (doc), change, error, sizeof error) == 0;
    wire_doc_destroy (&doc);
    return ok;
}

static void
test_plain (void)
{
    sent_t sent = { 0 };
    core_t *core = s_core (false, &sent);
    if (!core)
        return;
    wire_writer_t writer;
    wire_writer_init (&writer);
    char error [WIRE_ERROR_SIZE];
    bool waits = true;

    TEST ("core: ping is answered with no socket bound, at once");
    core_begin_turn (core, zclock_mono ());
    s_request (&writer, "ping", NULL);
    CHECK (s_answer (core, NULL, &writer, &waits, error, sizeof error), "ping: %s", error);
    CHECK (!waits, "a ping does not wait for a commit");

    TEST ("core: an event applied is published only once core_work committed it");
    s_frame (&writer, "web1", "disk", "now");
    CHECK (s_ingest (core, NULL, &writer), "frame accepted");
    CHECK (sent.count == 0, "nothing published before the commit (%zu)", sent.count);
    CHECK (core_unpublished (core) > 0, "the change waits");
    core_work (core, clock_now_ms ());
    CHECK (core_unpublished (core) == 0, "written");
    CHECK (sent.count == 1 && strcmp (sent.topic [0], "raised.normal.web1.disk") == 0,
           "one raised change (%zu: %s)", sent.count, sent.topic [0]);

    TEST ("core: an ack waits for the commit and carries the request's by");
    s_request (&writer, "ack", "source", "web1", "id", "disk", "by", "alice", NULL);
    CHECK (s_answer (core, NULL, &writer, &waits, error, sizeof error), "ack: %s", error);
    CHECK (waits, "the reply waits for the commit");
    CHECK (sent.count == 1, "not published before the commit");
    core_work (core, clock_now_ms ());
    alert_change_t change = { 0 };
    if (CHECK (sent.count == 2 && s_sent_alert (&sent, 1, &change), "the acked change")) {
        CHECK (strcmp (change.event, "acked") == 0, "event %s", change.event);
        CHECK (change.alert.acked_by && strcmp (change.alert.acked_by, "alice") == 0, "by");
        alert_change_free (&change);
    }

    TEST ("core: a bad request is refused with a reason, and nothing changes");
    s_request (&writer, "ack", "source", "web1", "id", "nothing-here", "by", "alice", NULL);
    CHECK (!s_answer (core, NULL, &writer, &waits, error, sizeof error), "refused");
    CHECK (strstr (error, "no alert web1/nothing-here"), "why: %s", error);
    CHECK (!waits && core_unpublished (core) == 0, "nothing to commit");

    TEST ("core: hugz go through the publish function");
    CHECK (core_hugz (core, clock_now_ms ()) && sent.hugz == 1, "hugz published, file intact");

    TEST ("core: a clean stop, and the next core goes on in the same epoch and seq");
    CHECK (core_finish (core) == 0, "finish");
    core_destroy (&core);
    s_sent_free (&sent);
    core = s_core (false, &sent);
    if (core) {
        s_request (&writer, "unack", "source", "web1", "id", "disk", "by", "bob", NULL);
        CHECK (s_answer (core, NULL, &writer, &waits, error, sizeof error), "unack: %s", error);
        core_work (core, clock_now_ms ());
        if (CHECK (sent.count == 1 && s_sent_alert (&sent, 0, &change), "unacked change")) {
            CHECK (strcmp (change.event, "unacked") == 0, "the acked alert was loaded: %s",
                   change.event);
            CHECK (change.seq == 3, "seq goes on: %" PRIu64, change.seq);
            CHECK (change.epoch.n == 1, "the same epoch after a clean stop: %" PRIu64,
                   change.epoch.n);
            alert_change_free (&change);
        }
    }
    s_case_end (&core, &sent, &writer);
}

static void
test_secured (void)
{
    sent_t sent = { 0 };
    core_t *core = s_core (true, &sent);
    if (!core)
        return;
    wire_writer_t writer;
    wire_writer_init (&writer);
    char error [WIRE_ERROR_SIZE];
    bool waits = true;
    security_client_t reader = { .role = ROLE_READER, .name = "rita", .file = "rita.key" };
    security_client_t admin = { .role = ROLE_ADMIN, .name = "alice", .file = "alice.key" };
    security_client_t agent = { .role = ROLE_AGENT, .source = "web2", .name = "web2",
                                .file = "web2.key" };
    core_caller_t as_reader = { &reader, "KEYR", "127.0.0.1" };
    core_caller_t as_admin = { &admin, "KEYA", "127.0.0.1" };
    core_caller_t as_agent = { &agent, "KEYW", "127.0.0.1" };
    core_caller_t as_stranger = { NULL, "KEYX", "127.0.0.1" };
    core_begin_turn (core, zclock_mono ());

    TEST ("core, secured: a frame claiming another certificate's source is refused");
    s_frame (&writer, "web1", "disk", "now");
    CHECK (!s_ingest (core, &as_agent, &writer), "spoofed frame refused");
    CHECK (!s_ingest (core, &as_stranger, &writer), "unknown key refused");
    core_work (core, clock_now_ms ());
    CHECK (sent.count == 0, "nothing applied");
    s_frame (&writer, "web2", "disk", "now");
    CHECK (s_ingest (core, &as_agent, &writer), "its own source accepted");
    core_work (core, clock_now_ms ());
    CHECK (sent.count == 1, "one change");

    TEST ("core, secured: a reader may not ack; an admin acks as its certificate's name");
    s_request (&writer, "ack", "source", "web2", "id", "disk", "by", "mallory", NULL);
    CHECK (!s_answer (core, &as_reader, &writer, &waits, error, sizeof error), "refused");
    CHECK (strstr (error, "permission denied"), "why: %s", error);
    CHECK (s_answer (core, &as_admin, &writer, &waits, error, sizeof error), "ack: %s", error);
    core_work (core, clock_now_ms ());
    alert_change_t change = { 0 };
    if (CHECK (sent.count == 2 && s_sent_alert (&sent, 1, &change), "acked change")) {
        CHECK (change.alert.acked_by && strcmp (change.alert.acked_by, "alice") == 0,
               "by is the certificate's name, not the request's: %s", change.alert.acked_by);
        alert_change_free (&change);
    }
    CHECK (core_finish (core) == 0, "finish");
    core_destroy (&core);
    s_sent_free (&sent);
    wire_writer_free (&writer);
}

//  A core that dies (destroyed without core_finish: kill -9) after its
//  changes were committed and published but before the checkpoint wrote
//  their rows: the next core lays the history over the rows.
static void
test_replay (void)
{
    s_checkpoint_ms = 3600 * 1000;
    sent_t sent = { 0 };
    core_t *core = s_core (false, &sent);
    if (!core)
        return;
    wire_writer_t writer;
    wire_writer_init (&writer);
    char error [WIRE_ERROR_SIZE];
    bool waits;
    TEST ("core: changes committed before a crash, their rows not written, come back from history");
    core_begin_turn (core, zclock_mono ());
    s_frame (&writer, "web3", "disk", "now");
    CHECK (s_ingest (core, NULL, &writer), "frame");
    s_frame (&writer, "web3", "load", "now");
    CHECK (s_ingest (core, NULL, &writer), "frame");
    core_work (core, clock_now_ms ());
    s_request (&writer, "ack", "source", "web3", "id", "disk", "by", "carol", NULL);
    CHECK (s_answer (core, NULL, &writer, &waits, error, sizeof error), "ack: %s", error);
    core_work (core, clock_now_ms ());
    CHECK (sent.count == 3, "three changes published: %zu", sent.count);
    core_destroy (&core);               //  no finish: the rows were never written
    s_sent_free (&sent);
    core = s_core (false, &sent);
    if (core) {
        s_request (&writer, "unack", "source", "web3", "id", "disk", "by", "carol", NULL);
        CHECK (s_answer (core, NULL, &writer, &waits, error, sizeof error),
               "the ack came back from history, so unack works: %s", error);
        s_request (&writer, "clear", "source", "web3", "id", "load", "by", "carol", NULL);
        CHECK (s_answer (core, NULL, &writer, &waits, error, sizeof error),
               "the raised load came back: %s", error);
        core_work (core, clock_now_ms ());
        alert_change_t change = { 0 };
        if (CHECK (sent.count == 2 && s_sent_alert (&sent, 1, &change), "two changes")) {
            CHECK (change.seq == 5 && change.epoch.n == 2,
                   "seq goes on (%" PRIu64 "), in a new epoch (%" PRIu64 "): the stop was "
                   "not clean", change.seq, change.epoch.n);
            alert_change_free (&change);
        }
        CHECK (core_finish (core) == 0, "finish");
        core_destroy (&core);
    }
    s_sent_free (&sent);
    wire_writer_free (&writer);
    s_checkpoint_ms = 1000;
}

//  The alert (source, id) as `get` answers, into alert. true if found.
static bool
s_get (core_t *core, const char *source, const char *id, alert_t *alert)
{
    wire_writer_t request, reply;
    wire_writer_init (&request);
    wire_writer_init (&reply);
    s_request (&request, "get", "source", source, "id", id, NULL);
    core_answer (core, NULL, request.buffer.data, request.buffer.size, &reply, clock_now_ms ());
    char error [WIRE_ERROR_SIZE];
    wire_doc_t *doc = wire_doc_new (reply.buffer.data, reply.buffer.size, error, sizeof error);
    const msgpack_object *map = doc ? wire_get (wire_doc_root (doc), "alert") : NULL;
    bool found = map && alert_decode (map, alert, error, sizeof error) == 0;
    wire_doc_destroy (&doc);
    wire_writer_free (&request);
    wire_writer_free (&reply);
    return found;
}

//  Turns until cond holds (a deadline of 5 s), the store's socket polled
//  between them as the loop polls it.
#define S_TURN_UNTIL(core, cond) do {                                           \
        int64_t deadline_ = zclock_mono () + 5000;                            \
        while (!(cond) && zclock_mono () < deadline_) {                       \
            short events_ = 0;                                                 \
            int fd_ = core_poll_fd (core, &events_);                           \
            if (fd_ >= 0) {                                                    \
                struct pollfd item_ = { fd_, events_, 0 };                     \
                poll (&item_, 1, 10);                                          \
            }                                                                  \
            else                                                               \
                zclock_sleep (5);                                              \
            core_begin_turn (core, zclock_mono ());                            \
            core_work (core, clock_now_ms ());                                 \
        }                                                                      \
    } while (0)

//  Hands the core one event (when "raise" or "clear" at time) in a turn of
//  its own and turns until it is committed and published; true if so.
static bool
s_committed (core_t *core, wire_writer_t *writer, const char *source, const char *id,
             const char *when, const char *time)
{
    core_begin_turn (core, zclock_mono ());
    s_frame_at (writer, source, id, when, time);
    if (!s_ingest (core, NULL, writer))
        return false;
    core_work (core, clock_now_ms ());
    S_TURN_UNTIL (core, core_unpublished (core) == 0);
    return core_unpublished (core) == 0;
}

static bool
s_in_flight (core_t *core)
{
    short events;
    return core_poll_fd (core, &events) >= 0;
}

//  Packs a `since` request from seq into writer.
static void
s_pack_since (wire_writer_t *writer, int64_t seq)
{
    wire_writer_reset (writer);
    msgpack_pack_map (&writer->packer, 3);
    wire_pack_key_int (&writer->packer, "v", WIRE_VERSION);
    wire_pack_key_string (&writer->packer, "op", "since");
    wire_pack_key_int (&writer->packer, "seq", seq);
}

//  A since request from seq, its reply taken (later, on PostgreSQL), its
//  ok and error.
static bool
s_since (core_t *core, int64_t seq, char *error, size_t error_size)
{
    wire_writer_t request;
    wire_writer_init (&request);
    s_pack_since (&request, seq);
    bool waits;
    bool ok = s_answer (core, NULL, &request, &waits, error, error_size);
    wire_writer_free (&request);
    return ok;
}

//  Does `since` from seq 0 say that history was pruned?
static bool
s_history_pruned (core_t *core)
{
    char error [WIRE_ERROR_SIZE] = "";
    return !s_since (core, 0, error, sizeof error)
        && strstr (error, "older than the history kept");
}

//  Was a change with this topic prefix published?
static bool
s_sent_topic (const sent_t *sent, const char *prefix)
{
    for (size_t index = 0; index < sent->count; index++)
        if (strncmp (sent->topic [index], prefix, strlen (prefix)) == 0)
            return true;
    return false;
}

static bool s_ping_degraded (core_t *core, char *why, size_t why_size);

//  Is (source, id) in the core (`get` finds it)?
static bool
s_found (core_t *core, const char *source, const char *id)
{
    alert_t alert = { 0 };
    bool found = s_get (core, source, id, &alert);
    alert_clear_fields (&alert);
    return found;
}

//  How many changes with this topic were published, and the index of the
//  last one (-1 for none).
static int
s_sent_where (const sent_t *sent, const char *topic, int *last)
{
    int count = 0;
    *last = -1;
    for (size_t index = 0; index < sent->count; index++)
        if (strcmp (sent->topic [index], topic) == 0) {
            *last = (int) index;
            count++;
        }
    return count;
}

//  `delete` is a change like any other, written in the turn's chunk: an
//  alert cleared and deleted in one turn, its row still queued from its
//  raise, leaves at once, and no checkpoint after its deletion writes that
//  row back; an event for a deleted key in the same turn makes a new
//  alert, published after the deletion. After a crash the deleted alert
//  stays gone and the new one is there.
static void
s_check_delete (const char *store_name)
{
    sent_t sent;
    wire_writer_t writer;
    core_t *core = s_case_begin (&sent, &writer, 300, 0);
    char error [WIRE_ERROR_SIZE], name [160];
    bool waits = false;
    snprintf (name, sizeof name, "core on %s: a delete is written with the turn's changes, and "
              "an event after it makes a new alert", store_name);
    TEST (name);
    if (core) {
        core_begin_turn (core, zclock_mono ());
        const char *ids [] = { "gone", "again" };
        for (int index = 0; index < 2; index++) {
            s_frame (&writer, "web12", ids [index], "now");
            CHECK (s_ingest (core, NULL, &writer), "raise %s", ids [index]);
        }
        core_work (core, clock_now_ms ());                  //  raised: their rows queued
        for (int index = 0; index < 2; index++) {
            s_frame_at (&writer, "web12", ids [index], "clear", "now");
            CHECK (s_ingest (core, NULL, &writer), "clear %s", ids [index]);
            s_request (&writer, "delete", "source", "web12", "id", ids [index], "by", "dave",
                       NULL);
            CHECK (s_answer (core, NULL, &writer, &waits, error, sizeof error) && waits,
                   "delete of %s, cleared this turn, waits for its commit (%d): %s",
                   ids [index], waits, error);
        }
        CHECK (!s_found (core, "web12", "gone"), "a deleted alert is gone at once");
        s_frame (&writer, "web12", "again", "+1h");
        CHECK (s_ingest (core, NULL, &writer), "an event for a deleted key, the same turn");
        core_work (core, clock_now_ms ());
        S_TURN_UNTIL (core, core_unpublished (core) == 0);
        int deleted_at, pending_at, gone_at;
        int deleted = s_sent_where (&sent, "deleted.normal.web12.again", &deleted_at);
        int pending = s_sent_where (&sent, "pending.normal.web12.again", &pending_at);
        CHECK (s_sent_where (&sent, "deleted.normal.web12.gone", &gone_at) == 1,
               "the deletion was published");
        CHECK (deleted == 1 && pending == 1 && pending_at > deleted_at,
               "the new alert is announced after the deletion (deleted %d at %d, pending %d "
               "at %d)", deleted, deleted_at, pending, pending_at);
        int64_t until = zclock_mono () + 1000;              //  checkpoints go by
        S_TURN_UNTIL (core, zclock_mono () >= until);
        char why [WIRE_ERROR_SIZE] = "";
        CHECK (!s_ping_degraded (core, why, sizeof why), "the checkpoints were written: %s",
               why);
        core_destroy (&core);                               //  a crash: no finish
        s_sent_free (&sent);
        core = s_core (false, &sent);
        alert_t alert = { 0 };
        CHECK (core && !s_found (core, "web12", "gone"),
               "after a crash the deleted alert is still gone (no checkpoint wrote its row back)");
        CHECK (core && s_get (core, "web12", "again", &alert) && alert.state == ALERT_PENDING,
               "after a crash the alert made after the deletion is there, pending");
        alert_clear_fields (&alert);
    }
    s_case_end (&core, &sent, &writer);
}

//  Retention on the store at s_database: history older than it is pruned
//  (a transaction in flight like a checkpoint) and a cleared alert nobody
//  touched for as long is deleted, its `deleted` change published.
static void
s_check_retention (const char *store_name)
{
    sent_t sent;
    wire_writer_t writer;
    core_t *core = s_case_begin (&sent, &writer, 100, 1000);
    char name [120];
    snprintf (name, sizeof name, "core on %s: retention prunes history and deletes an old "
              "cleared alert", store_name);
    TEST (name);
    if (core) {
        core_begin_turn (core, zclock_mono ());
        s_frame (&writer, "web6", "disk", "now");
        CHECK (s_ingest (core, NULL, &writer), "frame");
        s_frame_at (&writer, "web6", "gone", "clear", "now");
        CHECK (s_ingest (core, NULL, &writer), "frame");
        core_work (core, clock_now_ms ());
        S_TURN_UNTIL (core, s_sent_topic (&sent, "deleted.") && s_history_pruned (core));
        CHECK (s_sent_topic (&sent, "deleted.normal.web6.gone"), "the cleared alert was deleted");
        CHECK (s_history_pruned (core), "history older than the retention is pruned");
        alert_t alert = { 0 };
        CHECK (s_get (core, "web6", "disk", &alert), "the raised alert stays");
        alert_clear_fields (&alert);
    }
    s_case_end (&core, &sent, &writer);
}

//  A reply's ok, its changes' count and the seq of the first, and its seq.
static bool
s_reply_changes (const wire_writer_t *reply, size_t *count, uint64_t *first, int64_t *seq)
{
    char error [WIRE_ERROR_SIZE];
    wire_doc_t *doc = wire_doc_new (reply->buffer.data, reply->buffer.size, error, sizeof error);
    const msgpack_object *root = doc ? wire_doc_root (doc) : NULL;
    const msgpack_object *changes = root ? wire_get (root, "changes") : NULL;
    bool ok = false, present = false;
    if (root)
        wire_get_bool (root, "ok", &present, &ok, error, sizeof error);
    *count = changes && changes->type == MSGPACK_OBJECT_ARRAY ? changes->via.array.size : 0;
    *first = 0;
    if (*count) {
        const msgpack_object *change = &changes->via.array.ptr [0];
        int64_t value = 0;
        wire_get_int (change, "seq", &present, &value, error, sizeof error);
        *first = (uint64_t) value;
    }
    *seq = -1;
    if (root)
        wire_get_int (root, "seq", &present, seq, error, sizeof error);
    wire_doc_destroy (&doc);
    return ok;
}

//  On PostgreSQL `since` and `history` are a round trip: the reply comes
//  later, in request order, while the core goes on; a since is cut at
//  what was published when it was asked.
static void
s_check_reads_later (void)
{
    s_checkpoint_ms = 100;
    sent_t sent = { 0 };
    core_t *core = s_core (false, &sent);
    wire_writer_t writer, since, history, reply;
    wire_writer_init (&writer);
    wire_writer_init (&since);
    wire_writer_init (&history);
    wire_writer_init (&reply);
    TEST ("core on PostgreSQL: since and history are answered later, in order, the core "
          "going on meanwhile; since gives only what was published when asked");
    if (core) {
        core_begin_turn (core, zclock_mono ());
        s_frame (&writer, "web7", "a", "now");
        CHECK (s_ingest (core, NULL, &writer), "frame");
        s_frame (&writer, "web7", "a", "+1h");
        CHECK (s_ingest (core, NULL, &writer), "frame");
        core_work (core, clock_now_ms ());
        S_TURN_UNTIL (core, core_unpublished (core) == 0);
        uint64_t published = 0;
        alert_t alert = { 0 };
        if (s_get (core, "web7", "a", &alert))
            published = alert.seq;
        alert_clear_fields (&alert);
        s_pack_since (&since, (int64_t) published - 2);
        s_request (&history, "history", "source", "web7", "id", "a", NULL);
        core_reply_t first = core_answer (core, NULL, since.buffer.data, since.buffer.size,
                                          &reply, clock_now_ms ());
        core_reply_t second = core_answer (core, NULL, history.buffer.data,
                                           history.buffer.size, &reply, clock_now_ms ());
        CHECK (first == CORE_REPLY_LATER && second == CORE_REPLY_LATER,
               "both answered later: %d %d", first, second);
        //  meanwhile: ingest is applied and committed, ping answered at once
        s_frame (&writer, "web7", "b", "now");
        CHECK (s_ingest (core, NULL, &writer), "a frame while the reads are out");
        core_work (core, clock_now_ms ());
        s_request (&writer, "ping", NULL);
        CHECK (core_answer (core, NULL, writer.buffer.data, writer.buffer.size, &reply,
                            clock_now_ms ()) == CORE_REPLY_NOW, "ping answered at once");
        S_TURN_UNTIL (core, core_unpublished (core) == 0);
        size_t count = 0;
        uint64_t first_seq = 0;
        int64_t seq = 0;
        if (CHECK (s_take_later (core, &reply), "the since reply came")) {
            bool ok = s_reply_changes (&reply, &count, &first_seq, &seq);
            CHECK (ok && count == 2 && first_seq == published - 1 && seq == (int64_t) published,
                   "since: %zu changes from %" PRIu64 ", seq %" PRId64 " (published %" PRIu64
                   " when asked)", count, first_seq, seq, published);
        }
        if (CHECK (s_take_later (core, &reply), "the history reply came")) {
            bool ok = s_reply_changes (&reply, &count, &first_seq, &seq);
            CHECK (ok && count == 2 && first_seq == published,
                   "history: %zu changes, the newest %" PRIu64, count, first_seq);
        }
        CHECK (!core_take_reply (core, &reply), "no third reply");
        CHECK (core_finish (core) == 0, "finish");
        core_destroy (&core);
    }
    s_sent_free (&sent);
    wire_writer_free (&writer);
    wire_writer_free (&since);
    wire_writer_free (&history);
    wire_writer_free (&reply);
    s_checkpoint_ms = 1000;
}

//  The one integer sql answers, on a session of the test's own to the
//  PostgreSQL at s_database, or -1.
static int64_t
s_stored_integer (const char *sql)
{
    PGconn *conn = PQconnectdb (s_database);
    PGresult *result = PQexec (conn, sql);
    int64_t value = PQresultStatus (result) == PGRES_TUPLES_OK && PQntuples (result) == 1
                  ? atoll (PQgetvalue (result, 0, 0)) : -1;
    PQclear (result);
    PQfinish (conn);
    return value;
}

//  Does `ping` say the broker is degraded? Why into why.
static bool
s_ping_degraded (core_t *core, char *why, size_t why_size)
{
    wire_writer_t request, reply;
    wire_writer_init (&request);
    wire_writer_init (&reply);
    s_request (&request, "ping", NULL);
    core_answer (core, NULL, request.buffer.data, request.buffer.size, &reply, clock_now_ms ());
    char error [WIRE_ERROR_SIZE];
    wire_doc_t *doc = wire_doc_new (reply.buffer.data, reply.buffer.size, error, sizeof error);
    char *text = NULL;
    if (doc)
        wire_get_string (wire_doc_root (doc), "degraded", 1000, &text, error, sizeof error);
    snprintf (why, why_size, "%s", text ? text : "");
    bool degraded = text != NULL;
    mem_free (text);
    wire_doc_destroy (&doc);
    wire_writer_free (&request);
    wire_writer_free (&reply);
    return degraded;
}

//  Runs one command on conn, a session of the test's own. 0 / -1.
static int
s_command (PGconn *conn, const char *sql)
{
    PGresult *result = PQexec (conn, sql);
    int rc = PQresultStatus (result) == PGRES_COMMAND_OK ? 0 : -1;
    PQclear (result);
    return rc;
}

//  A session of the test's own (not the core's), or NULL (said).
static PGconn *
s_own_session (void)
{
    PGconn *conn = PQconnectdb (s_database);
    if (CHECK (conn && PQstatus (conn) == CONNECTION_OK, "a session of the test's own: %s",
               conn ? PQerrorMessage (conn) : "out of memory"))
        return conn;
    PQfinish (conn);
    return NULL;
}

//  conn's session locks table in a transaction it leaves open, so that the
//  core's writes to it wait in flight until "ROLLBACK". true if it holds
//  the lock (said otherwise).
static bool
s_lock_table (PGconn *conn, const char *table)
{
    char sql [128];
    snprintf (sql, sizeof sql, "LOCK TABLE %s IN ACCESS EXCLUSIVE MODE", table);
    return CHECK (s_command (conn, "BEGIN") == 0 && s_command (conn, sql) == 0, "lock %s: %s",
                  table, PQerrorMessage (conn));
}

//  Ends every session of the database but the lock holder's (the core's
//  reads session), as pg_terminate_backend does to a lost connection.
//  How many were ended, or -1.
static int
s_terminate_reads_sessions (void)
{
    return (int) s_stored_integer ("SELECT count (pg_terminate_backend (pid))"
        " FROM pg_stat_activity WHERE datname = current_database ()"
        " AND pid <> pg_backend_pid () AND pid NOT IN"
        " (SELECT pid FROM pg_locks WHERE locktype = 'advisory')");
}

//  The reads session lost (terminated): the since that finds it gone is
//  answered "ask again" (not "take a snapshot": nothing is wrong with
//  history), and the next one opens a new session.
static void
s_check_reads_session_lost (void)
{
    sent_t sent = { 0 };
    core_t *core = s_core (false, &sent);
    char error [WIRE_ERROR_SIZE] = "";
    TEST ("core on PostgreSQL: a since that finds its reads session gone goes out again on a "
          "new one; when no new one can be had it is answered \"ask again\" and the broker "
          "says degraded until the next one works");
    wire_writer_t writer;
    wire_writer_init (&writer);
    if (core) {
        //  a change to ask since from (older history may be pruned)
        CHECK (s_committed (core, &writer, "web8", "a", "raise", "now"), "a committed");
        alert_t alert = { 0 };
        int64_t from = s_get (core, "web8", "a", &alert) ? (int64_t) alert.seq - 1 : 0;
        alert_clear_fields (&alert);
        CHECK (s_since (core, from, error, sizeof error), "since: %s", error);
        int ended = s_terminate_reads_sessions ();
        CHECK (ended == 1, "one reads session ended: %d", ended);
        CHECK (s_since (core, from, error, sizeof error),
               "the since after, sent again on a new session: %s", error);
        //  ended again, and no new session allowed (the role may not log in)
        CHECK (s_terminate_reads_sessions () == 1, "the new reads session ended");
        PGconn *admin = PQconnectdb (s_database);          //  (it gives LOGIN back)
        CHECK (s_command (admin, "ALTER ROLE lilac NOLOGIN") == 0, "NOLOGIN");
        bool ok = s_since (core, from, error, sizeof error);
        CHECK (s_command (admin, "ALTER ROLE lilac LOGIN") == 0, "LOGIN again");
        PQfinish (admin);
        CHECK (!ok && strstr (error, "ask again") && !strstr (error, "snapshot"),
               "with no session to be had: ok %d, %s", ok, error);
        char why [300] = "";
        CHECK (s_ping_degraded (core, why, sizeof why) && strstr (why, "reads of history"),
               "ping says degraded while reads fail: '%s'", why);
        ok = s_since (core, from, error, sizeof error);
        CHECK (ok, "the next since: %s", error);
        CHECK (!s_ping_degraded (core, why, sizeof why), "not degraded once a read works: %s",
               why);
        CHECK (!core_lost (core), "the core goes on: its own session holds the lock");
    }
    s_case_end (&core, &sent, &writer);
}

//  The postmaster of the cluster in s_dir/pg, or -1.
static pid_t
s_postmaster (void)
{
    char path [200];
    snprintf (path, sizeof path, "%s/pg/data/postmaster.pid", s_dir);
    FILE *file = fopen (path, "r");
    long pid = -1;
    if (file && fscanf (file, "%ld", &pid) != 1)
        pid = -1;
    if (file)
        fclose (file);
    return (pid_t) pid;
}

//  While the reads session connects anew to a server that does not answer
//  yet (its postmaster stopped), the core does not wait for it: no turn
//  takes long, and the reads queued behind are answered once it is up.
static void
s_check_reads_connect_later (void)
{
    sent_t sent = { 0 };
    core_t *core = s_core (false, &sent);
    wire_writer_t writer, reply;
    wire_writer_init (&writer);
    wire_writer_init (&reply);
    TEST ("core on PostgreSQL: the reads session connects anew without stopping the core; "
          "the reads queued meanwhile are answered once it is up, or refused when it stops");
    pid_t postmaster = s_postmaster ();
    char error [WIRE_ERROR_SIZE] = "";
    if (core && CHECK (postmaster > 0, "no postmaster.pid")) {
        CHECK (s_committed (core, &writer, "web10", "a", "raise", "now"), "a committed");
        alert_t alert = { 0 };
        int64_t from = s_get (core, "web10", "a", &alert) ? (int64_t) alert.seq - 1 : 0;
        alert_clear_fields (&alert);
        CHECK (s_since (core, from, error, sizeof error), "since: %s", error);
        CHECK (s_terminate_reads_sessions () == 1, "the reads session ended");
        CHECK (kill (postmaster, SIGSTOP) == 0, "SIGSTOP the postmaster");
        s_pack_since (&writer, from);
        int later = 0;
        for (int request = 0; request < 3; request++)
            later += core_answer (core, NULL, writer.buffer.data, writer.buffer.size, &reply,
                                  clock_now_ms ()) == CORE_REPLY_LATER;
        int64_t longest = 0;
        for (int64_t until = zclock_mono () + 1000; zclock_mono () < until; ) {
            int64_t began = zclock_mono ();
            core_begin_turn (core, began);
            core_work (core, clock_now_ms ());
            if (zclock_mono () - began > longest)
                longest = zclock_mono () - began;
            zclock_sleep (10);
        }
        kill (postmaster, SIGCONT);
        CHECK (later == 3 && longest < 500, "%d answered later; the longest turn took %lld ms",
               later, (long long) longest);
        int answered = 0, ok = 0;
        for (int request = 0; request < 3 && s_take_later (core, &reply); request++) {
            answered++;
            size_t count;
            uint64_t first;
            int64_t seq;
            ok += s_reply_changes (&reply, &count, &first, &seq) && count == 1;
        }
        CHECK (answered == 3 && ok >= 2, "%d replies, %d with the change (the first may say "
               "ask again: it was sent on the ended session)", answered, ok);
        //  A broker that stops without core_finish (its store lost) still
        //  answers what waits
        CHECK (core_answer (core, NULL, writer.buffer.data, writer.buffer.size, &reply,
                            clock_now_ms ()) == CORE_REPLY_LATER, "one more since, later");
        core_refuse_reads (core);
        char *text = NULL;
        if (CHECK (core_take_reply (core, &reply), "refused reads are answered")) {
            wire_doc_t *doc = wire_doc_new (reply.buffer.data, reply.buffer.size, error,
                                            sizeof error);
            if (doc)
                wire_get_string (wire_doc_root (doc), "error", 1000, &text, error, sizeof error);
            wire_doc_destroy (&doc);
        }
        CHECK (text && strstr (text, "stopping: ask again"), "the refusal: %s", text ? text : "");
        mem_free (text);
        CHECK (core_finish (core) == 0, "finish");
        core_destroy (&core);
    }
    s_sent_free (&sent);
    wire_writer_free (&writer);
    wire_writer_free (&reply);
}

//  The oldest seq in the PostgreSQL history, read on a session of the
//  test's own (not through the core, whose turns it must not add), or -1.
static int64_t
s_oldest_stored (void)
{
    return s_stored_integer ("SELECT coalesce (min (seq), 0) FROM history");
}

//  Retention falls due while a chunk is held in flight (its table locked
//  by another session): the core asks to be woken a moment later, not at
//  once every turn (a loop spinning for as long as the answer takes).
static void
s_check_retention_waits_quietly (void)
{
    sent_t sent;
    wire_writer_t writer;
    core_t *core = s_case_begin (&sent, &writer, 100, 1000);
    TEST ("core on PostgreSQL: retention due while a transaction is held in flight does not "
          "spin the loop");
    PGconn *locker = core ? s_own_session () : NULL;
    if (locker && s_lock_table (locker, "history")) {
        core_begin_turn (core, zclock_mono ());
        s_frame (&writer, "web11", "a", "now");
        CHECK (s_ingest (core, NULL, &writer), "frame");
        core_work (core, clock_now_ms ());
        CHECK (s_in_flight (core), "the chunk is in flight");
        int turns = 0, at_once = 0;                     //  turns asking no wait at all
        int64_t due_from = zclock_mono () + 1200;       //  retention (1 s) is due by then
        for (int64_t until = due_from + 300; zclock_mono () < until; ) {
            core_begin_turn (core, zclock_mono ());
            core_work (core, clock_now_ms ());
            long wait = core_poll_timeout (core, clock_now_ms (), zclock_mono (), 1000);
            if (zclock_mono () >= due_from) {
                turns++;
                at_once += wait == 0;
            }
            zclock_sleep (10);
        }
        CHECK (s_in_flight (core) && turns > 10 && at_once == 0, "in flight %d; %d of %d "
               "turns while retention was due asked to be woken at once", s_in_flight (core),
               at_once, turns);
        s_command (locker, "ROLLBACK");
        S_TURN_UNTIL (core, core_unpublished (core) == 0);
        CHECK (core_finish (core) == 0, "finish");
        core_destroy (&core);
    }
    PQfinish (locker);
    s_sent_free (&sent);
    wire_writer_free (&writer);
    s_checkpoint_ms = 1000;
    s_retention_ms = 0;
}

//  Retention under a steady load on PostgreSQL: a change every turn keeps
//  a chunk in flight at the end of nearly every turn, and retention still
//  runs (before the turn's chunk) and prunes.
static void
s_check_retention_under_load (void)
{
    sent_t sent;
    wire_writer_t writer;
    core_t *core = s_case_begin (&sent, &writer, 100, 1000);
    TEST ("core on PostgreSQL: retention runs under a steady load (a change every turn)");
    bool pruned = false;
    if (core) {
        int64_t first = s_oldest_stored ();
        int64_t deadline = zclock_mono () + 6000, next_check = zclock_mono () + 1500;
        for (int turn = 0; !pruned && zclock_mono () < deadline; turn++) {
            core_begin_turn (core, zclock_mono ());
            s_frame (&writer, "web9", "load", turn % 2 ? "now" : "+1h");
            s_ingest (core, NULL, &writer);
            core_work (core, clock_now_ms ());
            s_sent_free (&sent);            //  (only SENT_MAX are kept)
            short events = 0;
            int fd = core_poll_fd (core, &events);
            struct pollfd item = { fd, events, 0 };
            if (fd >= 0 && poll (&item, 1, 2) < 0)
                break;
            if (zclock_mono () >= next_check) {
                pruned = s_oldest_stored () > first;
                next_check = zclock_mono () + 200;
            }
        }
        CHECK (first >= 0 && pruned, "history older than the retention was never pruned under "
               "load (the oldest seq stayed %lld)", (long long) first);
    }
    s_case_end (&core, &sent, &writer);
}

//  A commit PostgreSQL refuses (a trigger of the test's own fails every
//  history insert) follows the degraded mode: nothing is published, the
//  broker says degraded and why, the loop goes on (every turn short, pings
//  answered at once, events applied), and once commits work again the
//  changes are written and published, in seq order, none lost or skipped.
static void
s_check_commits_refused (void)
{
    sent_t sent;
    wire_writer_t writer;
    core_t *core = s_case_begin (&sent, &writer, 1000, 0);
    char error [WIRE_ERROR_SIZE], why [WIRE_ERROR_SIZE] = "";
    bool waits = false;
    TEST ("core on PostgreSQL: commits refused make the broker degraded, lose nothing, and "
          "go out once the server takes them");
    PGconn *admin = core ? s_own_session () : NULL;
    if (admin) {
        CHECK (s_committed (core, &writer, "web14", "before", "raise", "now"),
               "before committed");
        alert_change_t change = { 0 };
        uint64_t first_seq = sent.count == 1 && s_sent_alert (&sent, 0, &change) ? change.seq : 0;
        alert_change_free (&change);
        CHECK (first_seq > 0, "the first change was published");
        CHECK (s_command (admin, "CREATE FUNCTION lilac_test_refuse () RETURNS trigger "
                          "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test';"
                          " END $$") == 0
            && s_command (admin, "CREATE TRIGGER lilac_test_refuse BEFORE INSERT ON history "
                          "FOR EACH STATEMENT EXECUTE FUNCTION lilac_test_refuse ()") == 0,
               "the trigger: %s", PQerrorMessage (admin));
        int64_t longest = 0, pings = 0, pings_at_once = 0;
        const char *ids [] = { "one", "two", "three" };
        for (int64_t until = zclock_mono () + 800; zclock_mono () < until; pings++) {
            int64_t began = zclock_mono ();
            core_begin_turn (core, zclock_mono ());
            if (pings < 3) {
                s_frame (&writer, "web14", ids [pings], "now");
                CHECK (s_ingest (core, NULL, &writer), "frame %s", ids [pings]);
            }
            s_request (&writer, "ping", NULL);
            pings_at_once += s_answer (core, NULL, &writer, &waits, error, sizeof error) && !waits;
            core_work (core, clock_now_ms ());
            short events = 0;
            int fd = core_poll_fd (core, &events);
            struct pollfd item = { fd, events, 0 };
            if (fd >= 0)
                poll (&item, 1, 10);
            else
                zclock_sleep (10);
            if (zclock_mono () - began > longest)
                longest = zclock_mono () - began;
        }
        CHECK (sent.count == 1, "nothing published while commits are refused (%zu)", sent.count);
        CHECK (s_ping_degraded (core, why, sizeof why) && strstr (why, "refused by the test"),
               "degraded, and why: '%s'", why);
        CHECK (longest < 500 && pings == pings_at_once && pings > 10,
               "the longest turn took %lld ms; %lld of %lld pings answered at once",
               (long long) longest, (long long) pings_at_once, (long long) pings);
        CHECK (s_found (core, "web14", "three"), "events are applied meanwhile");
        CHECK (s_command (admin, "DROP TRIGGER lilac_test_refuse ON history") == 0,
               "drop: %s", PQerrorMessage (admin));
        S_TURN_UNTIL (core, core_unpublished (core) == 0 && sent.count == 4);
        bool in_order = sent.count == 4;
        for (size_t index = 1; in_order && index < 4; index++) {
            in_order = s_sent_alert (&sent, index, &change)
                    && change.seq == first_seq + index
                    && strcmp (change.alert.id, ids [index - 1]) == 0;
            alert_change_free (&change);
        }
        CHECK (in_order, "the three changes published once commits work, in seq order after "
               "%" PRIu64 " (%zu published)", first_seq, sent.count);
        CHECK (!s_ping_degraded (core, why, sizeof why), "no longer degraded: %s", why);
        core_destroy (&core);                               //  a crash: no finish
        core = s_core (false, &sent);
        CHECK (core && s_found (core, "web14", "three"), "after a crash the changes are there");
    }
    if (admin)
        s_command (admin, "DROP FUNCTION IF EXISTS lilac_test_refuse () CASCADE");
    PQfinish (admin);
    s_case_end (&core, &sent, &writer);
}

//  On PostgreSQL a delete waits for its commit in flight, not inside the
//  loop: with the alerts table locked by another session (the DELETE
//  waits), the delete is answered after the commit, and meanwhile every
//  turn is short and a ping is answered at once.
static void
s_check_delete_in_flight (void)
{
    sent_t sent;
    wire_writer_t writer;
    core_t *core = s_case_begin (&sent, &writer, 60 * 1000, 0);
    char error [WIRE_ERROR_SIZE];
    bool waits = false;
    TEST ("core on PostgreSQL: a delete waits for its commit in flight, not in the loop");
    PGconn *locker = core ? s_own_session () : NULL;
    if (locker) {
        CHECK (s_committed (core, &writer, "web13", "old", "clear", "now"), "old committed");
        s_lock_table (locker, "alerts");
        int64_t longest = 0, began = zclock_mono ();
        core_begin_turn (core, zclock_mono ());
        s_request (&writer, "delete", "source", "web13", "id", "old", "by", "erin", NULL);
        CHECK (s_answer (core, NULL, &writer, &waits, error, sizeof error) && waits,
               "the delete waits for its commit (%d): %s", waits, error);
        core_work (core, clock_now_ms ());
        longest = zclock_mono () - began;
        int pings = 0, pings_at_once = 0;
        for (int64_t until = zclock_mono () + 1000; zclock_mono () < until; pings++) {
            began = zclock_mono ();
            core_begin_turn (core, zclock_mono ());
            s_frame (&writer, "web13", "busy", pings % 2 ? "now" : "+1h");
            s_ingest (core, NULL, &writer);
            s_request (&writer, "ping", NULL);
            pings_at_once += s_answer (core, NULL, &writer, &waits, error, sizeof error) && !waits;
            core_work (core, clock_now_ms ());
            if (zclock_mono () - began > longest)
                longest = zclock_mono () - began;
            zclock_sleep (10);
        }
        CHECK (longest < 500 && pings == pings_at_once && pings > 10,
               "the longest turn took %lld ms; %d of %d pings answered at once",
               (long long) longest, pings_at_once, pings);
        CHECK (s_in_flight (core) && !s_sent_topic (&sent, "deleted."),
               "the deletion is in flight, not published");
        s_command (locker, "ROLLBACK");
        S_TURN_UNTIL (core, core_unpublished (core) == 0);
        CHECK (s_sent_topic (&sent, "deleted.normal.web13.old") && !s_found (core, "web13", "old"),
               "deleted once the lock went");
    }
    PQfinish (locker);
    s_case_end (&core, &sent, &writer);
}

//  On PostgreSQL a commit's answer is read later, in a later turn: an alert
//  refreshed while the checkpoint that writes its row is in flight is still
//  behind when the answer comes (touched), and its refresh is written by a
//  later checkpoint, so a crash after that keeps it. The checkpoint is held
//  in flight by a lock on the alerts table, so the refresh surely comes
//  while it is out.
static void
test_postgresql (void)
{
    char pg_dir [100];
    snprintf (pg_dir, sizeof pg_dir, "%s/pg", s_dir);
    TEST ("core on PostgreSQL: a refresh while its alert's row is in flight is written after");
    if (!CHECK (pg_start (pg_dir, s_database, sizeof s_database) == 0, "PostgreSQL did not start"))
        return;
    sent_t sent;
    wire_writer_t writer;
    core_t *core = s_case_begin (&sent, &writer, 500, 0);
    //  The alerts table locked by a session of the test's own: the change's
    //  commit (history, meta) goes through, and the checkpoint that writes
    //  its row stays in flight until the lock goes, however slow the
    //  machine (no race with a checkpoint that lands within one turn)
    PGconn *locker = core ? s_own_session () : NULL;
    if (locker && s_lock_table (locker, "alerts")) {
        core_begin_turn (core, zclock_mono ());
        //  raise in an hour: pending, then refreshed to two hours
        s_frame (&writer, "web4", "hb", "+1h");
        CHECK (s_ingest (core, NULL, &writer), "frame");
        core_work (core, clock_now_ms ());
        S_TURN_UNTIL (core, sent.count == 1 && core_unpublished (core) == 0);
        CHECK (sent.count == 1, "the pending change was published");
        //  Nothing else waits: the next transaction in flight is the checkpoint
        S_TURN_UNTIL (core, s_in_flight (core));
        short events;
        if (CHECK (core_poll_fd (core, &events) >= 0, "no checkpoint went out")) {
            s_frame (&writer, "web4", "hb", "+2h");
            CHECK (s_ingest (core, NULL, &writer), "the refresh, while the row is in flight");
        }
        CHECK (s_command (locker, "ROLLBACK") == 0, "unlock: %s", PQerrorMessage (locker));
        alert_t alert = { 0 };
        int64_t refreshed = s_get (core, "web4", "hb", &alert) ? alert.raise_at : 0;
        alert_clear_fields (&alert);
        //  the checkpoint lands; the refresh is written by a later one
        int64_t until = zclock_mono () + 1500;
        S_TURN_UNTIL (core, zclock_mono () >= until);
        core_destroy (&core);               //  a crash: no finish
        s_sent_free (&sent);
        core = s_core (false, &sent);
        if (core && CHECK (s_get (core, "web4", "hb", &alert), "the alert after the crash")) {
            CHECK (alert.raise_at == refreshed && refreshed,
                   "raise_at %lld after the crash, the refresh said %lld", (long long) alert.raise_at,
                   (long long) refreshed);
            alert_clear_fields (&alert);
        }
        CHECK (core && core_finish (core) == 0, "finish");
        core_destroy (&core);
    }
    PQfinish (locker);
    core_destroy (&core);
    s_sent_free (&sent);
    wire_writer_free (&writer);
    s_checkpoint_ms = 1000;
    s_check_retention ("PostgreSQL");
    s_check_delete ("PostgreSQL");
    s_check_delete_in_flight ();
    s_check_commits_refused ();
    s_check_reads_later ();
    s_check_reads_session_lost ();
    s_check_reads_connect_later ();
    s_check_retention_under_load ();
    s_check_retention_waits_quietly ();
    pg_stop (pg_dir);
}

static void
s_remove_database (void)
{
    const char *suffixes [] = { "", "-wal", "-shm", ".lock" };
    for (size_t index = 0; index < 4; index++) {
        char path [700];
        snprintf (path, sizeof path, "%s%s", s_database, suffixes [index]);
        unlink (path);
    }
}

int
main (void)
{
    log_init ("test_core", false);
    if (!mkdtemp (s_dir)) {
        perror ("mkdtemp");
        return 1;
    }
    snprintf (s_database, sizeof s_database, "%s/lilac.db", s_dir);
    test_plain ();
    s_remove_database ();
    test_secured ();
    s_remove_database ();
    test_replay ();
    s_remove_database ();
    s_check_retention ("SQLite");
    s_remove_database ();
    s_check_delete ("SQLite");
    s_remove_database ();
    test_postgresql ();
    rmdir (s_dir);
    return check_done ();
}
