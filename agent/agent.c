/*  agent.c — the agent's loop. See agent.h and architecture §5.

    Sending: acknowledged submits (architecture §10) through the typed control
    client (ctl.h) to the broker's control endpoint, one DEALER that queues
    only on a completed connection (ZMQ_IMMEDIATE), so while the broker is
    away a send fails at once and the entries stay dirty; the loop retries
    every AGENT_RETRY_MS. At most AGENT_WINDOW batches are in flight, each
    with its own tx; an entry is clean (dirty = 0 on disk) only when the
    answer to its batch says so and it was not put again since (latest
    table). A batch refused whole (degraded: "retry after") makes its
    entries sendable again after that wait; a batch unanswered for
    AGENT_SUBMIT_TIMEOUT_MS is forgotten, with every other in flight, and
    sent again. A restart of the broker, however short, shows in hugz as a
    new `boot` or `epoch`: everything in flight is forgotten and a full
    resync follows, since a restart may have lost the unanswered tail (and,
    with durability = normal, a committed one). A full resync also runs
    when hugz come back after a silence of AGENT_HUGZ_SILENCE_MS, and every
    `resync`; it is not held to the window.

    Local senders: `listen` (PULL) takes fire-and-forget frames, as before;
    the submit endpoint (ROUTER, agent_submit_endpoint) takes submits and
    answers each once its events are on disk — after the turn's sync — with
    the broker's reply format (accepted, refused with reasons), or ok:
    false when the state file cannot be written.

    A resync sends every held alert. It uses replace=true — "the broker's
    alerts for this source are exactly these" — only once the agent has run
    for a whole resync period, so that an agent just restarted (and holding
    only its heartbeat and checks) does not clear what local scripts sent
    through it before.

    Durability: the latest table is kept in state_dir (latest_store.h).
    Every turn ends with latest_table_sync, so whatever the turn read — a
    local sender's frames, a check's result, the heartbeat — is on disk
    before the loop waits again, and a kill -9 at any moment loses at most
    what libzmq had queued but the agent had not yet read. At start the
    table is loaded; held entries are resent at once (dirty ones) and all of
    them at the first hugz, as after any outage. A sync that fails (disk
    full) is logged and retried next turn: memory keeps everything.

    Checks: each has a next start time; a check still running at its turn is
    not started twice (check_runner refuses) and waits for its next turn.
*/
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "agent.h"
#include "bus.h"
#include "check_runner.h"
#include "config.h"
#include "ctl.h"
#include "epoch.h"
#include "submit.h"
#include "latest_table.h"
#include "log.h"
#include "mem.h"
#include "signals.h"
#include "timespec.h"

#define AGENT_RETRY_MS          1000    //  retry sending held alerts after
#define AGENT_HUGZ_SILENCE_MS   3000    //  no hugz this long: the broker is away
#define AGENT_BUSY_RETRY_MS     200     //  a check refused for max_running retries after
#define AGENT_MAX_POLL_MS       1000    //  the loop wakes at least this often
#define AGENT_POLL_ITEMS        1024    //  sockets + signalfd + check pipes
#define AGENT_LOCAL_BATCH       1000    //  local frames read per turn
#define AGENT_SYNC_RETRY_MS     1000    //  retry a failed state write after
#define AGENT_WINDOW            4       //  submits in flight at most (a resync excepted)
#define AGENT_SUBMIT_TIMEOUT_MS 5000    //  no answer this long: send again
#define AGENT_CALL_TIMEOUT_MS   5000    //  the control client's own bound (unused by the loop)
#define AGENT_STOP_WAIT_MS      1000    //  at stop, wait this long for answers

struct _agent_t {
    agent_config_t config;         //  current settings
    latest_table_t *latest;        //  newest state per alert
    check_runner_t *runner;        //  running checks
    ctl_t *ctl;                    //  submits to the broker's control endpoint
    zsock_t *submit;               //  ROUTER for local submits, or NULL
    char *submit_endpoint;         //  where it is bound, or NULL
    zlist_t *local_replies;        //  zmsg_t answers to local submits, sent after the sync
    wire_writer_t request;         //  a submit request, reused
    bool window_full;              //  the last flush stopped at AGENT_WINDOW
    bool resyncing;                //  the flush running is a full resync
    bool identity_known;           //  epoch and boot below are the broker's
    epoch_t epoch;                 //  the broker's epoch, from hugz
    char boot [EPOCH_DB_SIZE];     //  its process's boot id, from hugz
    zsock_t *hugz;                 //  SUB to the broker's hugz
    zsock_t *local;                //  PULL for local senders
    int signal_fd;                 //  INT TERM HUP CHLD
    bool stopping;                 //  INT or TERM arrived
    char host [256];               //  our host name: local senders may claim it
    int64_t *check_due;            //  monotonic ms of each check's next start
    int64_t started_at;            //  monotonic ms
    int64_t next_heartbeat;        //  monotonic ms
    int64_t next_resync;           //  monotonic ms
    int64_t next_retry;            //  monotonic ms; 0 when the last send worked
    int64_t last_hugz;             //  monotonic ms of the last hugz, 0 never
    bool broker_up;                //  hugz seen within the silence window
    int64_t failing_since;         //  monotonic ms of the first failed send, 0 if none
    bool holding;                  //  sends kept failing; we said so in the log
    log_limit_t input_log;         //  rate limit for bad local input
    log_limit_t state_log;         //  rate limit for failed state writes
    log_limit_t answer_log;        //  rate limit for refusals from the broker
    int64_t next_sync;             //  monotonic ms before which a failed sync is not retried
    bool sync_failing;             //  the last sync failed; we said so
};

//  --- what goes into the table -------------------------------------------------

static void
s_hold (agent_t *self, const char *source, const wire_event_t *event)
{
    latest_table_put (self->latest, source, event, clock_now_ms (), zclock_mono ());
}

static void
s_heartbeat (agent_t *self, int64_t mono_now)
{
    wire_event_t event = {
        .id = "heartbeat", .has_raise = true,
        .raise_at = clock_now_ms () + self->config.heartbeat_raise,
        .summary = self->config.heartbeat_summary, .detail = self->config.heartbeat_detail,
        .level = (int) self->config.heartbeat_level,
    };
    s_hold (self, self->config.source, &event);
    self->next_heartbeat = mono_now + self->config.heartbeat_interval;
}

//  Copies text into out (size bytes), replacing bytes that are not UTF-8
//  or are control characters (but newline and tab when keep_lines) with
//  '?', and cutting at a character boundary.
static void
s_clean_text (char *out, size_t size, const char *text, size_t length, bool keep_lines)
{
    size_t used = 0;
    for (size_t at = 0; at < length; ) {
        unsigned char lead = (unsigned char) text [at];
        size_t bytes = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
        bool valid = at + bytes <= length && wire_utf8_valid (text + at, bytes)
                  && (lead >= 0x20 || (keep_lines && (lead == '\n' || lead == '\t')))
                  && lead != 0x7f;
        if (!valid)
            bytes = 1;
        size_t need = valid ? bytes : 1;
        if (used + need + 1 > size)
            break;
        if (valid)
            memcpy (out + used, text + at, bytes);
        else
            out [used] = '?';
        used += need;
        at += bytes;
    }
    out [used] = 0;
}

//  Splits a check's output into summary (first line) and detail (the rest).
static void
s_split_output (const check_result_t *result, char *summary, size_t summary_size,
                char **detail)
{
    const char *output = result->output ? result->output : "";
    const char *newline = memchr (output, '\n', result->output_size);
    size_t first = newline ? (size_t) (newline - output) : result->output_size;
    s_clean_text (summary, summary_size, output, first, false);
    *detail = NULL;
    if (newline && (size_t) (newline - output) + 1 < result->output_size) {
        *detail = mem_alloc (WIRE_MAX_DETAIL + 1);
        s_clean_text (*detail, WIRE_MAX_DETAIL + 1, newline + 1,
                      result->output_size - first - 1, true);
    }
}

//  The summary a result gets when the check itself could not say.
static void
s_failure_summary (const check_result_t *result, const char *said, char *summary, size_t size)
{
    char reason [128];
    if (result->outcome == CHECK_TIMED_OUT)
        snprintf (reason, sizeof reason, "check timed out after %.1f s",
                  (double) result->duration_ms / 1000);
    else
    if (result->outcome == CHECK_SIGNALLED)
        snprintf (reason, sizeof reason, "check killed by signal %d", result->signal);
    else
    if (result->outcome == CHECK_NOT_RUN)
        snprintf (reason, sizeof reason, "check could not run");
    else
    if (result->exit_code == 3)
        snprintf (reason, sizeof reason, "UNKNOWN");
    else
        snprintf (reason, sizeof reason, "check failed with exit code %d", result->exit_code);
    snprintf (summary, size, "%s%s%.*s", reason, *said ? ": " : "", (int) (size / 2), said);
}

//  A check whose output differs from its last run only after the first
//  line (a timestamp, a list in another order), with the same state, level
//  and summary, keeps the detail it had: otherwise every run would be an
//  `updated` change at the broker, for nothing a person needs to see.
static void
s_keep_quiet_detail (agent_t *self, wire_event_t *event, char **detail)
{
    const wire_event_t *held = latest_table_get (self->latest, self->config.source, event->id);
    if (held && held->raise_clear == event->raise_clear && held->level == event->level
    &&  held->summary && event->summary && strcmp (held->summary, event->summary) == 0) {
        mem_free (*detail);         //  a copy: the put replaces what is held
        *detail = held->detail ? mem_strdup (held->detail) : NULL;
        event->detail = *detail;
    }
}

static void
s_check_done (const check_result_t *result, void *arg)
{
    agent_t *self = arg;
    const check_config_t *check = agent_config_check (&self->config, result->name);
    if (!check)
        return;                     //  removed by a reload while it ran
    char said [WIRE_MAX_SUMMARY + 1], summary [WIRE_MAX_SUMMARY + 1];
    char id [WIRE_MAX_NAME + 1], *detail;
    snprintf (id, sizeof id, "%s", check->name);
    s_split_output (result, said, sizeof said, &detail);
    wire_event_t event = { .id = id, .has_raise = true,
                           .raise_at = clock_now_ms (), .summary = summary,
                           .detail = detail, .level = (int) check->critical_level };
    int code = result->outcome == CHECK_EXITED ? result->exit_code : -1;
    if (code == 0 || code == 1 || code == 2)
        snprintf (summary, sizeof summary, "%s", said);
    else
        s_failure_summary (result, said, summary, sizeof summary);
    if (code == 0) {
        event.raise_clear = true;
        event.level = -1;           //  all is well: keep the level it had
    }
    if (code == 1)
        event.level = (int) check->warning_level;
    log_debug ("check %s: exit %d outcome %d in %" PRId64 " ms: %s", result->name,
               result->exit_code, (int) result->outcome, result->duration_ms, summary);
    s_keep_quiet_detail (self, &event, &detail);
    s_hold (self, self->config.source, &event);
    mem_free (detail);
}

//  --- local senders ---------------------------------------------------------------

//  The source a local batch is held under, or NULL when it may not claim it.
static const char *
s_local_source (agent_t *self, const char *claimed)
{
    if (!claimed || strcmp (claimed, self->config.source) == 0
    ||  strcmp (claimed, self->host) == 0)
        return self->config.source;
    if (self->config.allow_other_sources)
        return claimed;
    log_limited (&self->input_log, "refused a local batch claiming source '%s': this agent"
                 " speaks for '%s' (set allow_other_sources = yes to relay)",
                 claimed, self->config.source);
    return NULL;
}

static void
s_local_frame (agent_t *self, const void *data, size_t size)
{
    wire_batch_t batch = WIRE_BATCH_EMPTY;
    char error [WIRE_ERROR_SIZE];
    if (wire_batch_decode (data, size, clock_now_ms (), &batch, error, sizeof error)) {
        log_limited (&self->input_log, "rejected a local frame: %s", error);
        wire_batch_free (&batch);
        return;
    }
    const char *source = s_local_source (self, batch.source);
    for (size_t index = 0; source && index < batch.event_count; index++)
        s_hold (self, source, &batch.events [index]);
    if (source && batch.replace)
        log_debug ("local batch asked for replace: the agent's own resync does that");
    wire_batch_free (&batch);
}

static void
s_drain_local (agent_t *self)
{
    void *socket = zsock_resolve (self->local);
    for (int count = 0; count < AGENT_LOCAL_BATCH; count++) {
        zmq_msg_t message;
        zmq_msg_init (&message);
        if (zmq_msg_recv (&message, socket, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&message);
            return;
        }
        if (zmq_msg_more (&message)) {
            while (zmq_msg_more (&message) && zmq_msg_recv (&message, socket, 0) >= 0)
                ;   //  discard the rest
            log_limited (&self->input_log, "rejected a local message: one frame per batch");
        }
        else
            s_local_frame (self, zmq_msg_data (&message), zmq_msg_size (&message));
        zmq_msg_close (&message);
    }
}

//  The tx of a request that could not be decoded, if it has a readable one.
static char *
s_request_tx (const void *data, size_t size)
{
    char error [WIRE_ERROR_SIZE], *tx = NULL;
    wire_doc_t *doc = wire_doc_new (data, size, error, sizeof error);
    if (!doc || wire_get_name (wire_doc_root (doc), "tx", &tx, error, sizeof error))
        tx = NULL;
    wire_doc_destroy (&doc);
    return tx;
}

static void
s_pack_refusal (wire_writer_t *reply, const char *error, const char *tx)
{
    msgpack_pack_map (&reply->packer, 3 + (tx != NULL));
    wire_pack_key_int (&reply->packer, "v", WIRE_VERSION);
    wire_pack_key_bool (&reply->packer, "ok", false);
    wire_pack_key_string (&reply->packer, "error", error);
    if (tx)
        wire_pack_key_string (&reply->packer, "tx", tx);
}

//  Holds a decoded local submit's events; table-full ones are refused.
static void
s_hold_submitted (agent_t *self, const char *source, const wire_batch_t *batch,
                  submit_refusals_t *refused, wire_writer_t *reply)
{
    size_t accepted = 0, next_refused = 0, original = 0;
    for (size_t index = 0; index < batch->event_count; index++, original++) {
        while (next_refused < refused->count && refused->items [next_refused].index == original) {
            next_refused++;
            original++;
        }
        if (latest_table_put (self->latest, source, &batch->events [index], clock_now_ms (),
                              zclock_mono ()) == 0)
            accepted++;
        else {
            submit_refuse (refused, original, batch->events [index].id,
                           "the agent holds max_alerts alerts already");
            next_refused++;
        }
    }
    msgpack_pack_map (&reply->packer, 4 + (batch->tx != NULL));
    wire_pack_key_int (&reply->packer, "v", WIRE_VERSION);
    wire_pack_key_bool (&reply->packer, "ok", true);
    if (batch->tx)
        wire_pack_key_string (&reply->packer, "tx", batch->tx);
    wire_pack_key_int (&reply->packer, "accepted", (int64_t) accepted);
    submit_refusals_pack (&reply->packer, refused);
}

//  One local submit: held now, answered after the turn's sync.
static void
s_local_submit (agent_t *self, zmsg_t *message)
{
    zframe_t *body = zmsg_last (message);
    wire_writer_t reply;
    wire_writer_init (&reply);
    wire_batch_t batch = WIRE_BATCH_EMPTY;
    submit_refusals_t refused;
    char error [WIRE_ERROR_SIZE + 128];
    if (submit_decode (zframe_data (body), zframe_size (body), clock_now_ms (), &batch, &refused,
                       error, sizeof error)) {
        log_limited (&self->input_log, "refused a local submit: %s", error);
        char *tx = s_request_tx (zframe_data (body), zframe_size (body));
        s_pack_refusal (&reply, error, tx);
        mem_free (tx);
    }
    else {
        const char *source = s_local_source (self, batch.source);
        if (source)
            s_hold_submitted (self, source, &batch, &refused, &reply);
        else {
            snprintf (error, sizeof error, "this agent speaks for '%s', not '%s' (set "
                      "allow_other_sources = yes to relay)", self->config.source, batch.source);
            s_pack_refusal (&reply, error, batch.tx);
        }
        submit_refusals_free (&refused);
    }
    wire_batch_free (&batch);
    zmsg_remove (message, body);
    zframe_destroy (&body);
    if (zmsg_addmem (message, reply.buffer.data, reply.buffer.size) == 0
    &&  zlist_append (self->local_replies, message) == 0)
        message = NULL;
    zmsg_destroy (&message);
    wire_writer_free (&reply);
}

static void
s_drain_submit (agent_t *self)
{
    for (int count = 0; self->submit && count < AGENT_LOCAL_BATCH
         && (zsock_events (self->submit) & ZMQ_POLLIN); count++) {
        zmsg_t *message = zmsg_recv (self->submit);
        if (!message)
            return;
        if (zmsg_size (message) < 2) {
            log_limited (&self->input_log, "rejected a local submit without an envelope");
            zmsg_destroy (&message);
        }
        else
            s_local_submit (self, message);
    }
}

//  After the sync: answers local submits (their events are on disk), or
//  says the disk refused them.
static void
s_answer_local (agent_t *self)
{
    if (!zlist_size (self->local_replies)
    ||  (latest_table_unsaved (self->latest) && !self->sync_failing))
        return;
    bool saved = latest_table_unsaved (self->latest) == 0;
    zmsg_t *message;
    while ((message = zlist_pop (self->local_replies))) {
        if (!saved) {
            char error [600];
            snprintf (error, sizeof error, "held in memory only: cannot write %s (see the "
                      "agent's log)", latest_table_path (self->latest));
            wire_writer_t reply;
            wire_writer_init (&reply);
            s_pack_refusal (&reply, error, NULL);
            zframe_t *body = zmsg_last (message);
            zmsg_remove (message, body);
            zframe_destroy (&body);
            if (zmsg_addmem (message, reply.buffer.data, reply.buffer.size))
                log_error ("out of memory answering a local submit");
            wire_writer_free (&reply);
        }
        if (zmsg_send (&message, self->submit)) {
            log_limited (&self->input_log, "answer to a local submit failed: %s",
                         zmq_strerror (errno));
            zmsg_destroy (&message);
        }
    }
}

//  --- the broker ------------------------------------------------------------------

static int
s_send_frame (const void *frame, size_t size, void *arg)
{
    agent_t *self = arg;
    if (!self->resyncing && latest_table_in_flight (self->latest) >= AGENT_WINDOW) {
        self->window_full = true;
        return -1;
    }
    if (ctl_submit_request (&self->request, frame, size))
        log_fatal ("bug: the latest table packed a frame that is not a map");
    char error [512];
    if (ctl_send (self->ctl, self->request.buffer.data, self->request.buffer.size,
                  error, sizeof error))
        return 0;
    log_debug ("%s", error);
    return -1;
}

//  Submits unsent entries (or everything) to the broker.
static void
s_flush (agent_t *self, bool everything, int64_t mono_now)
{
    bool replace = everything && mono_now - self->started_at >= self->config.resync;
    size_t unsent = latest_table_unsent (self->latest);
    self->window_full = false;
    self->resyncing = everything;
    int frames = latest_table_flush (self->latest, everything, replace, mono_now,
                                     s_send_frame, self);
    self->resyncing = false;
    if (frames < 0 && self->window_full)
        return;                     //  the rest goes as answers come back
    if (frames < 0) {
        self->next_retry = mono_now + AGENT_RETRY_MS;
        if (!self->failing_since)
            self->failing_since = mono_now;     //  at start, the connection is not up yet
        if (!self->holding && mono_now - self->failing_since >= AGENT_HUGZ_SILENCE_MS) {
            log_warn ("cannot submit alerts to the broker at %s: holding the latest state"
                      " of %zu alerts until it is back", self->config.control,
                      latest_table_size (self->latest));
            self->holding = true;
        }
        return;
    }
    self->failing_since = 0;
    if (self->holding)
        log_info ("broker at %s takes alerts again: submitted %zu held changes",
                  self->config.control, unsent);
    self->holding = false;
    self->next_retry = 0;
    if (everything) {
        self->next_resync = mono_now + self->config.resync;
        log_debug ("resync: %zu alerts in %d frames%s", latest_table_size (self->latest),
                   frames, replace ? " (replace)" : "");
    }
}

//  One answer to a submit.
static void
s_answered (agent_t *self, const ctl_submit_reply_t *answer, int64_t mono_now)
{
    if (answer->ok) {
        int cleaned = latest_table_acked (self->latest, answer->tx);
        for (size_t index = 0; index < answer->refused_count && index < CTL_MAX_REFUSED; index++)
            log_limited (&self->answer_log, "the broker refused alert %s: %s (not sent again)",
                         answer->refused [index].id, answer->refused [index].reason);
        log_debug ("batch %s acknowledged: %d alerts clean", answer->tx, cleaned);
        return;
    }
    if (!*answer->tx || !latest_table_refused (self->latest, answer->tx))
        return;                     //  an answer to a batch forgotten since
    log_limited (&self->answer_log, "the broker at %s refused a batch: %s", self->config.control,
                 answer->error);
    int64_t wait = answer->retry_after > AGENT_RETRY_MS ? answer->retry_after : AGENT_RETRY_MS;
    self->next_retry = mono_now + wait;
}

static void
s_read_answers (agent_t *self, int64_t mono_now)
{
    for (int count = 0; count < AGENT_LOCAL_BATCH; count++) {
        uint64_t ticket;
        wire_doc_t *reply = NULL;
        char error [512];
        int rc = ctl_receive (self->ctl, &ticket, &reply, error, sizeof error);
        if (rc == 0)
            return;
        ctl_submit_reply_t answer;
        if (rc == 1 && ctl_submit_decode (reply, &answer, error, sizeof error) == 0)
            s_answered (self, &answer, mono_now);
        else
            log_limited (&self->answer_log, "a bad answer from %s: %s", self->config.control,
                         error);
        wire_doc_destroy (&reply);
    }
}

//  hugz carry the broker's epoch and boot id: any change means it
//  restarted (or its database changed), however short the gap, and what
//  was in flight may be lost.
static void
s_broker_identity (agent_t *self, const void *body, size_t size, int64_t mono_now)
{
    char error [WIRE_ERROR_SIZE];
    wire_doc_t *doc = wire_doc_new (body, size, error, sizeof error);
    epoch_t epoch;
    bool present = false;
    char *boot = NULL;
    if (!doc || epoch_decode (wire_doc_root (doc), &epoch, &present, error, sizeof error)
    ||  wire_get_name (wire_doc_root (doc), "boot", &boot, error, sizeof error)
    ||  !present || !boot || strlen (boot) >= sizeof self->boot
    ||  (self->identity_known && epoch_is_stale (&self->epoch, &epoch))) {
        wire_doc_destroy (&doc);
        mem_free (boot);
        return;                     //  an older broker, or a stale one: nothing to go by
    }
    if (self->identity_known
    &&  (!epoch_equal (&epoch, &self->epoch) || strcmp (boot, self->boot) != 0)) {
        char before [64], after [64];
        epoch_format (&self->epoch, before, sizeof before);
        epoch_format (&epoch, after, sizeof after);
        log_info ("broker at %s restarted (boot %s → %s, epoch %s → %s): resending every"
                  " alert", self->config.events, self->boot, boot, before, after);
        latest_table_forget (self->latest);
        self->next_resync = mono_now;
        self->next_retry = 0;
    }
    self->epoch = epoch;
    snprintf (self->boot, sizeof self->boot, "%s", boot);
    self->identity_known = true;
    mem_free (boot);
    wire_doc_destroy (&doc);
}

//  No answer for too long: whatever is in flight is sent again.
static void
s_watch_answers (agent_t *self, int64_t mono_now)
{
    int64_t oldest = latest_table_oldest_sent (self->latest);
    if (!oldest || mono_now - oldest <= AGENT_SUBMIT_TIMEOUT_MS)
        return;
    log_warn ("no answer from %s to %zu batches in %d s: sending them again",
              self->config.control, latest_table_in_flight (self->latest),
              AGENT_SUBMIT_TIMEOUT_MS / 1000);
    latest_table_forget (self->latest);
    self->next_retry = 0;
}

static void
s_read_hugz (agent_t *self, int64_t mono_now)
{
    zmsg_t *message;
    for (int count = 0; count < AGENT_LOCAL_BATCH
         && (zsock_events (self->hugz) & ZMQ_POLLIN) && (message = zmsg_recv (self->hugz));
         count++) {
        zframe_t *body = zmsg_size (message) == 2 ? zmsg_last (message) : NULL;
        if (body)
            s_broker_identity (self, zframe_data (body), zframe_size (body), mono_now);
        zmsg_destroy (&message);
        if (!self->broker_up) {
            log_info ("broker at %s is there (hugz): resending every alert",
                      self->config.events);
            self->next_resync = mono_now;     //  heal whatever it missed
        }
        self->broker_up = true;
        self->last_hugz = mono_now;
    }
}

static void
s_watch_broker (agent_t *self, int64_t mono_now)
{
    if (self->broker_up && mono_now - self->last_hugz > AGENT_HUGZ_SILENCE_MS) {
        self->broker_up = false;
        log_warn ("no hugz from %s for %d s: the broker is away; holding alerts",
                  self->config.events, AGENT_HUGZ_SILENCE_MS / 1000);
    }
}

//  --- checks --------------------------------------------------------------------------

static void
s_run_due_checks (agent_t *self, int64_t mono_now)
{
    for (size_t index = 0; index < self->config.check_count; index++) {
        const check_config_t *check = &self->config.checks [index];
        if (mono_now < self->check_due [index])
            continue;
        int rc = check_runner_start (self->runner, check->name, check->command, check->timeout);
        if (rc == 1 && !check_runner_is_running (self->runner, check->name)) {
            self->check_due [index] = mono_now + AGENT_BUSY_RETRY_MS;   //  max_running
            continue;
        }
        if (rc == 1)
            log_debug ("check %s is still running at its next turn: not started twice",
                       check->name);
        self->check_due [index] = mono_now + check->interval;
    }
}

//  Due times for new's checks: kept for unchanged ones, now for the rest.
static int64_t *
s_check_schedule (const agent_config_t *old, const int64_t *old_due,
                  const agent_config_t *new, int64_t mono_now)
{
    int64_t *due = mem_alloc ((new->check_count + 1) * sizeof (int64_t));
    for (size_t index = 0; index < new->check_count; index++) {
        due [index] = mono_now;
        const check_config_t *check = &new->checks [index];
        for (size_t before = 0; old && before < old->check_count; before++)
            if (strcmp (old->checks [before].name, check->name) == 0
            &&  strcmp (old->checks [before].command, check->command) == 0
            &&  old->checks [before].interval == check->interval)
                due [index] = old_due [before];
    }
    return due;
}

//  --- reload -----------------------------------------------------------------------------

//  A key given by option or environment, not in the file, is kept
//  silently; one the file changes takes effect after a restart.
static void
s_keep_key (char **fresh, char *const *running)
{
    if (*fresh && *running && strcmp (*fresh, *running) != 0)
        log_warn ("reload: a new CURVE key or certificate takes effect after a restart");
    mem_free (*fresh);
    *fresh = mem_strdup (*running);
}

//  Endpoints, keys, the source and the state directory are bound to open
//  sockets and held alerts: a reload keeps the running ones and says so.
//  The source follows the certificate rule first, so that a source taken
//  from the certificate is not reported as a change.
static int
s_keep_bound_settings (agent_t *self, agent_config_t *fresh)
{
    s_keep_key (&fresh->cert, &self->config.cert);
    s_keep_key (&fresh->server_key, &self->config.server_key);
    if (!fresh->source_at && self->config.source_at
    &&  streq (self->config.source_at, "--source")) {
        mem_free (fresh->source);           //  options outlive a reload
        fresh->source = mem_strdup (self->config.source);
        fresh->source_at = mem_strdup (self->config.source_at);
    }
    char error [CONFIG_ERROR_SIZE];
    if (agent_config_certificate_source (fresh, error, sizeof error)) {
        log_error ("SIGHUP: %s — keeping the running configuration", error);
        return -1;
    }
    char **pairs [][2] = {
        { &fresh->broker, &self->config.broker }, { &fresh->events, &self->config.events },
        { &fresh->listen, &self->config.listen }, { &fresh->source, &self->config.source },
        { &fresh->control, &self->config.control }, { &fresh->submit, &self->config.submit },
        { &fresh->state_dir, &self->config.state_dir },
    };
    for (size_t index = 0; index < sizeof pairs / sizeof pairs [0]; index++)
        if (strcmp (*pairs [index][0], *pairs [index][1]) != 0) {
            log_warn ("reload: '%s' → '%s' takes effect after a restart",
                      *pairs [index][1], *pairs [index][0]);
            mem_free (*pairs [index][0]);
            *pairs [index][0] = mem_strdup (*pairs [index][1]);
        }
    return 0;
}

//  A check that is gone clears its alert, rather than leave it as it was.
static void
s_clear_removed_checks (agent_t *self, const agent_config_t *fresh)
{
    for (size_t index = 0; index < self->config.check_count; index++) {
        char *name = self->config.checks [index].name;
        if (agent_config_check (fresh, name))
            continue;
        char summary [] = "check removed from the configuration";
        wire_event_t event = { .id = name, .has_raise = true, .raise_clear = true,
                               .level = -1, .summary = summary };
        s_hold (self, self->config.source, &event);
    }
}

static void
s_reload (agent_t *self, int64_t mono_now)
{
    agent_config_t fresh;
    config_report_t report = { 0 };
    if (!self->config.config_file) {
        log_info ("SIGHUP: no config file to reload");
        return;
    }
    int rc = agent_config_load (&fresh, self->config.config_file, &report);
    if (rc == 0)
        agent_config_verify_checks (&fresh, &report);
    config_report_log (&report, "SIGHUP: ");
    if (rc) {
        log_error ("SIGHUP: %zu errors in %s — keeping the running configuration",
                   report.errors, self->config.config_file);
        agent_config_free (&fresh);
        return;
    }
    if (s_keep_bound_settings (self, &fresh)) {
        agent_config_free (&fresh);
        return;
    }
    s_clear_removed_checks (self, &fresh);
    int64_t *due = s_check_schedule (&self->config, self->check_due, &fresh, mono_now);
    mem_free (self->check_due);
    self->check_due = due;
    agent_config_free (&self->config);
    self->config = fresh;
    latest_table_set_max (self->latest, (size_t) self->config.max_alerts);
    if (self->next_heartbeat > mono_now + self->config.heartbeat_interval)
        self->next_heartbeat = mono_now;
    log_info ("SIGHUP: reloaded %s: %zu checks", self->config.config_file,
              self->config.check_count);
}

//  --- start and stop ---------------------------------------------------------------------

//  ipc:// endpoints need their directory; make it if missing.
static int
s_prepare_ipc (const char *endpoint, char *error, size_t error_size)
{
    if (strncmp (endpoint, "ipc://", 6) != 0)
        return 0;
    char directory [512];
    snprintf (directory, sizeof directory, "%s", endpoint + 6);
    char *slash = strrchr (directory, '/');
    if (!slash || slash == directory)
        return 0;
    *slash = 0;
    return paths_make_dirs (directory, error, error_size);
}

//  A local socket file is its owner's and group's (0660): on a packaged
//  server, the scripts of group lilac may send, nobody else.
static int
s_share_ipc (const char *endpoint, char *error, size_t error_size)
{
    if (strncmp (endpoint, "ipc://", 6) == 0 && chmod (endpoint + 6, 0660) != 0) {
        snprintf (error, error_size, "cannot make %s group-writable: %s", endpoint + 6,
                  strerror (errno));
        return -1;
    }
    return 0;
}

static int
s_open_sockets (agent_t *self, char *error, size_t error_size)
{
    self->ctl = ctl_new (self->config.control, AGENT_CALL_TIMEOUT_MS, true, error, error_size);
    if (!self->ctl)
        return -1;
    self->hugz = bus_open (ZMQ_SUB, self->config.events, BUS_CONNECT, error, error_size);
    if (!self->hugz)
        return -1;
    zsock_set_subscribe (self->hugz, "hugz");
    if (s_prepare_ipc (self->config.listen, error, error_size))
        return -1;
    self->local = bus_open (ZMQ_PULL, self->config.listen, BUS_BIND, error, error_size);
    if (!self->local || s_share_ipc (self->config.listen, error, error_size))
        return -1;
    self->submit_endpoint = agent_submit_endpoint (&self->config);
    if (!self->submit_endpoint)
        return 0;
    if (s_prepare_ipc (self->submit_endpoint, error, error_size))
        return -1;
    self->submit = bus_open (ZMQ_ROUTER, self->submit_endpoint, BUS_BIND, error, error_size);
    return self->submit && s_share_ipc (self->submit_endpoint, error, error_size) == 0 ? 0 : -1;
}

//  Loads what the last run held and keeps the table in state_dir.
static int
s_open_state (agent_t *self, char *error, size_t error_size)
{
    char note [1024];
    if (latest_table_open_disk (self->latest, self->config.state_dir, clock_now_ms (),
                                zclock_mono (), note, sizeof note, error, error_size))
        return -1;
    if (*note)
        log_error ("state: %s", note);
    size_t held = latest_table_size (self->latest);
    if (held)
        log_info ("state: %zu alerts held from the last run (%zu not yet handed to the broker)"
                  " in %s: resending them", held, latest_table_dirty (self->latest),
                  latest_table_path (self->latest));
    return 0;
}

agent_t *
agent_new (agent_config_t *config, char *error, size_t error_size)
{
    agent_t *self = mem_alloc (sizeof (agent_t));
    self->config = *config;
    *config = (agent_config_t) { 0 };
    self->signal_fd = -1;
    if (gethostname (self->host, sizeof self->host) != 0)
        self->host [0] = 0;
    self->host [sizeof self->host - 1] = 0;
    self->latest = latest_table_new ((size_t) self->config.max_alerts);
    self->runner = check_runner_new ((int) self->config.max_running, s_check_done, self);
    self->local_replies = zlist_new ();
    wire_writer_init (&self->request);
    if (!self->latest || !self->runner || !self->local_replies) {
        snprintf (error, error_size, "out of memory");
        agent_destroy (&self);
        return NULL;
    }
    if (s_open_state (self, error, error_size) || s_open_sockets (self, error, error_size)) {
        agent_destroy (&self);
        return NULL;
    }
    return self;
}

void
agent_destroy (agent_t **self_p)
{
    if (!*self_p)
        return;
    agent_t *self = *self_p;
    check_runner_destroy (&self->runner);
    latest_table_destroy (&self->latest);
    ctl_destroy (&self->ctl);
    zsock_destroy (&self->hugz);
    zsock_destroy (&self->local);
    zsock_destroy (&self->submit);
    mem_free (self->submit_endpoint);
    zmsg_t *message;
    while (self->local_replies && (message = zlist_pop (self->local_replies)))
        zmsg_destroy (&message);
    zlist_destroy (&self->local_replies);
    wire_writer_free (&self->request);
    if (self->signal_fd >= 0)
        close (self->signal_fd);
    mem_free (self->check_due);
    agent_config_free (&self->config);
    mem_free (self);
    *self_p = NULL;
}

//  --- the loop ---------------------------------------------------------------------------

static void
s_read_signals (agent_t *self, int64_t mono_now)
{
    struct signalfd_siginfo info;
    while (read (self->signal_fd, &info, sizeof info) == sizeof info) {
        if (info.ssi_signo == SIGHUP)
            s_reload (self, mono_now);
        else
        if (info.ssi_signo == SIGINT || info.ssi_signo == SIGTERM) {
            log_info ("%s: stopping checks, handing over what we hold, exiting",
                      strsignal ((int) info.ssi_signo));
            self->stopping = true;
        }
        //  SIGCHLD needs nothing here: check_runner_work reaps every turn
    }
}

static void
s_earliest (int64_t *earliest, int64_t candidate)
{
    if (candidate > 0 && candidate < *earliest)
        *earliest = candidate;
}

static long
s_poll_timeout (agent_t *self, int64_t mono_now)
{
    int64_t wake = mono_now + AGENT_MAX_POLL_MS;
    if (self->config.heartbeat)
        s_earliest (&wake, self->next_heartbeat);
    s_earliest (&wake, self->next_resync > self->next_retry ? self->next_resync : self->next_retry);
    if (latest_table_unsent (self->latest) && latest_table_in_flight (self->latest) < AGENT_WINDOW)
        s_earliest (&wake, self->next_retry ? self->next_retry : mono_now);
    int64_t oldest = latest_table_oldest_sent (self->latest);
    if (oldest)
        s_earliest (&wake, oldest + AGENT_SUBMIT_TIMEOUT_MS + 1);
    if (self->broker_up)
        s_earliest (&wake, self->last_hugz + AGENT_HUGZ_SILENCE_MS + 1);
    if (latest_table_unsaved (self->latest))
        s_earliest (&wake, self->next_sync ? self->next_sync : mono_now);
    for (size_t index = 0; index < self->config.check_count; index++)
        s_earliest (&wake, self->check_due [index]);
    int64_t timeout = check_runner_next_timeout (self->runner, mono_now);
    if (timeout >= 0)
        s_earliest (&wake, mono_now + timeout);
    return wake <= mono_now ? 0 : (long) (wake - mono_now);
}

//  Puts what this turn changed on disk.
static void
s_sync (agent_t *self, int64_t mono_now)
{
    if (!latest_table_unsaved (self->latest) || mono_now < self->next_sync)
        return;
    char error [512];
    int written = latest_table_sync (self->latest, clock_now_ms (), mono_now, error, sizeof error);
    if (written < 0) {
        log_limited (&self->state_log, "cannot keep held alerts on disk: %s — they are held in"
                     " memory only until a write works (retrying)", error);
        self->sync_failing = true;
        self->next_sync = mono_now + AGENT_SYNC_RETRY_MS;
        return;
    }
    if (self->sync_failing)
        log_info ("held alerts are on disk again (%s)", latest_table_path (self->latest));
    self->sync_failing = false;
    self->next_sync = 0;
    log_debug ("state: %d changes on disk, %zu alerts held", written,
               latest_table_size (self->latest));
}

static void
s_turn (agent_t *self, int64_t mono_now)
{
    s_read_hugz (self, mono_now);
    s_watch_broker (self, mono_now);
    s_read_answers (self, mono_now);
    s_watch_answers (self, mono_now);
    s_drain_local (self);
    s_drain_submit (self);
    check_runner_work (self->runner, mono_now);
    if (self->config.heartbeat && mono_now >= self->next_heartbeat)
        s_heartbeat (self, mono_now);
    s_run_due_checks (self, mono_now);
    if (mono_now >= self->next_resync && mono_now >= self->next_retry)
        s_flush (self, true, mono_now);
    else
    if (latest_table_unsent (self->latest) && mono_now >= self->next_retry
    &&  latest_table_in_flight (self->latest) < AGENT_WINDOW)
        s_flush (self, false, mono_now);
    s_sync (self, mono_now);
    s_answer_local (self);
}

//  At stop: submits what is unsent and waits a little for the answers;
//  what stays unanswered is on disk, dirty, for the next start.
static void
s_hand_over (agent_t *self)
{
    if (latest_table_unsent (self->latest))
        s_flush (self, false, zclock_mono ());
    int64_t until = zclock_mono () + AGENT_STOP_WAIT_MS;
    for (int count = 0; count < 100 && latest_table_in_flight (self->latest); count++) {
        int64_t left = until - zclock_mono ();
        if (left <= 0)
            break;
        zmq_pollitem_t item = { zsock_resolve (ctl_socket (self->ctl)), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, (long) left) > 0)
            s_read_answers (self, zclock_mono ());
    }
}

int
agent_run (agent_t *self)
{
    self->signal_fd = signals_open_fd ((const int []) { SIGINT, SIGTERM, SIGHUP, SIGCHLD }, 4);
    if (self->signal_fd < 0) {
        log_error ("cannot set up signal handling: %s", strerror (errno));
        return -1;
    }
    int64_t mono_now = zclock_mono ();
    self->started_at = mono_now;
    self->next_heartbeat = mono_now;
    self->next_resync = mono_now + self->config.resync;
    self->check_due = s_check_schedule (NULL, NULL, &self->config, mono_now);
    log_info ("ready: source %s, submitting to %s, hugz from %s, listening on %s (submit"
              " %s), %zu checks, state in %s", self->config.source, self->config.control,
              self->config.events, self->config.listen,
              self->submit_endpoint ? self->submit_endpoint : "off", self->config.check_count,
              self->config.state_dir);
    while (!self->stopping) {
        zmq_pollitem_t items [AGENT_POLL_ITEMS] = {
            { zsock_resolve (self->hugz), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (self->local), 0, ZMQ_POLLIN, 0 },
            { NULL, self->signal_fd, ZMQ_POLLIN, 0 },
            { zsock_resolve (ctl_socket (self->ctl)), 0, ZMQ_POLLIN, 0 },
        };
        size_t count = 4;
        if (self->submit)
            items [count++] = (zmq_pollitem_t) { zsock_resolve (self->submit), 0, ZMQ_POLLIN, 0 };
        count += check_runner_poll_items (self->runner, items + count, AGENT_POLL_ITEMS - count);
        if (zmq_poll (items, (int) count, s_poll_timeout (self, zclock_mono ())) < 0
        &&  errno != EINTR)
            log_error ("poll failed: %s", zmq_strerror (errno));
        mono_now = zclock_mono ();
        if (items [2].revents & ZMQ_POLLIN)
            s_read_signals (self, mono_now);
        s_turn (self, mono_now);
    }
    check_runner_destroy (&self->runner);
    s_hand_over (self);
    self->next_sync = 0;
    s_sync (self, zclock_mono ());
    s_answer_local (self);
    if (!latest_table_dirty (self->latest))
        log_info ("stopped");
    else
    if (!latest_table_unsaved (self->latest))
        log_info ("stopped: the broker was away; %zu held changes are kept in %s for the next"
                  " start", latest_table_dirty (self->latest), latest_table_path (self->latest));
    else
        log_error ("stopped: the broker was away and %s cannot be written: %zu held changes"
                   " are lost", latest_table_path (self->latest),
                   latest_table_unsaved (self->latest));
    return 0;
}
