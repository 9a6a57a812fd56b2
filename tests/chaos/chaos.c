/*  chaos.c — `make chaos`: the real binaries under load while faults are
    injected, and figures of what was lost.

    One broker, one agent (source chaos-host) and one lilac-notify-exec,
    on loopback in a sandbox whose database sits on a tmpfs. A loader
    hands the agent batches of events at a steady pace, each setting an
    alert of CHAOS_IDS to raised or cleared with a summary naming its
    serial; it remembers the last state it sent for each id. Meanwhile:
    1. kills: at random moments (seeded, the seed printed) kill -9 of the
       broker (restarted at once, as Restart=always does), the agent, or
       the notifier (each restarted); then every id once more with the
       broker killed half way (nothing later supersedes what it lost);
    2. a full disk: the tmpfs filled to the last byte for a while, freed;
    3. the database replaced under the running broker (it must stop, and
       come back on the new file in a new epoch).
    After each phase the load stops and the run waits for the broker to
    hold, for every id, the last state sent. Then it prints:
      events sent, alerts lost (not in their last-sent state);
      changes published (raised and cleared of chaos-host, from `since`),
      delivered by the notifier, missing, duplicated;
      the broker's RSS peak.
    It exits 1 on any loss: an alert not in its last-sent state, or a
    published change the notifier never ran its command for. Runs in well
    under 10 minutes (CHAOS_SECONDS per kill phase, default 60).
*/
#include <signal.h>
#include <sys/stat.h>
#include "../check.h"
#include "../harness/agent_process.h"
#include "../harness/harness.h"
#include "../harness/notifier_process.h"
#include "bus.h"
#include "timespec.h"

#define CHAOS_IDS          300         //  alerts the loader keeps changing
#define CHAOS_BATCH        10          //  events per batch handed to the agent
#define CHAOS_PACE_MS      20          //  between batches: 500 events/s
#define CHAOS_SETTLE_MS    90000       //  for every id to reach its last state
#define CHAOS_DISK_FULL_MS 20000       //  how long the disk stays full
#define CHAOS_MAX_SEQS     2000000     //  changes tracked at most

typedef struct {
    sandbox_t *sandbox;
    broker_process_t *broker;
    agent_process_t *agent;
    notifier_process_t *notifier;
    char *disk;                    //  tmpfs mount point
    char *out;                     //  the notifier's command appends here
    zsock_t *push;                 //  to the agent's local endpoint
    int serial;                    //  last event serial handed out
    int last [CHAOS_IDS];          //  serial of the last event sent per id
    bool raised [CHAOS_IDS];       //  the state it set
    long sent;                     //  events the PUSH took
    long rss_peak_kb;              //  the broker's, sampled
    int kills [3];                 //  broker, agent, notifier
    unsigned seed;
} chaos_t;

static long
s_rss_kb (pid_t pid)
{
    return pid ? (long) process_status_kb (pid, "VmRSS") : -1;
}

static void
s_sample (chaos_t *self)
{
    pid_t pid = broker_process_pid (self->broker);
    long rss = pid ? s_rss_kb (pid) : -1;
    if (rss > self->rss_peak_kb)
        self->rss_peak_kb = rss;
}

//  One batch of CHAOS_BATCH random ids to the agent.
static void
s_send_batch (chaos_t *self)
{
    char ids [CHAOS_BATCH][16], summaries [CHAOS_BATCH][32];
    event_spec_t events [CHAOS_BATCH];
    int picked [CHAOS_BATCH];
    for (int index = 0; index < CHAOS_BATCH; index++) {
        int id = rand_r (&self->seed) % CHAOS_IDS;
        picked [index] = id;
        snprintf (ids [index], sizeof ids [index], "c%d", id);
        snprintf (summaries [index], sizeof summaries [index], "serial %d", ++self->serial);
        bool raise = rand_r (&self->seed) % 2;
        events [index] = (event_spec_t) { .id = ids [index], .summary = summaries [index],
                                          .raise = raise ? "now" : "clear" };
    }
    batch_spec_t batch = { .source = "chaos-host", .events = events, .event_count = CHAOS_BATCH };
    if (ingest_send (self->push, &batch))
        return;                    //  the agent is down: its socket refused; not sent
    for (int index = 0; index < CHAOS_BATCH; index++) {
        self->last [picked [index]] = self->serial - CHAOS_BATCH + 1 + index;
        self->raised [picked [index]] = strcmp (events [index].raise, "now") == 0;
    }
    self->sent += CHAOS_BATCH;
}

static void
s_restart_agent (chaos_t *self)
{
    if (agent_process_start (self->agent))
        harness_note ("the agent did not come back");
    zsock_destroy (&self->push);
    char error [256];
    self->push = bus_open (ZMQ_PUSH, agent_process_listen (self->agent), BUS_CONNECT,
                           error, sizeof error);
    if (self->push)
        zsock_set_sndtimeo (self->push, 100);
}

//  Kills one of the three at random and starts it again.
static void
s_kill_one (chaos_t *self)
{
    int victim = rand_r (&self->seed) % 100;
    victim = victim < 60 ? 0 : victim < 85 ? 1 : 2;
    self->kills [victim]++;
    if (victim == 0) {
        broker_process_kill (self->broker);
        if (broker_process_start (self->broker))
            harness_note ("the broker did not come back");
    }
    else
    if (victim == 1) {
        agent_process_kill (self->agent);
        s_restart_agent (self);
    }
    else {
        notifier_process_kill (self->notifier);
        if (notifier_process_start (self->notifier))
            harness_note ("the notifier did not come back");
    }
}

//  Sends for ms, running fault (if not NULL) at random moments.
static void
s_load (chaos_t *self, int64_t ms, void (*fault) (chaos_t *self))
{
    int64_t end = zclock_mono () + ms;
    int64_t next_fault = zclock_mono () + 1500 + rand_r (&self->seed) % 2500;
    for (long turn = 0; turn < 10000000 && zclock_mono () < end; turn++) {
        s_send_batch (self);
        if (turn % 5 == 0)
            s_sample (self);
        if (fault && zclock_mono () >= next_fault) {
            fault (self);
            next_fault = zclock_mono () + 1500 + rand_r (&self->seed) % 2500;
        }
        harness_pause_ms (CHAOS_PACE_MS);
    }
}

//  Ids the broker does not hold in their last-sent state.
static int
s_wrong (chaos_t *self, bool print)
{
    int wrong = 0;
    for (int id = 0; id < CHAOS_IDS; id++) {
        if (!self->last [id])
            continue;
        char name [16], want [32];
        snprintf (name, sizeof name, "c%d", id);
        snprintf (want, sizeof want, "serial %d", self->last [id]);
        alert_t alert;
        if (control_get_alert (self->broker, "chaos-host", name, &alert)) {
            wrong++;
            continue;
        }
        alert_state_t state = self->raised [id] ? ALERT_RAISED : ALERT_CLEARED;
        if (alert.state != state || !alert.summary || strcmp (alert.summary, want)) {
            if (print && wrong < 5)
                harness_note ("%s: %s \"%s\", sent %s \"%s\"", name,
                              alert_state_name (alert.state), alert.summary ? alert.summary : "",
                              alert_state_name (state), want);
            wrong++;
        }
        alert_clear_fields (&alert);
    }
    return wrong;
}

//  Waits until every id is right, or CHAOS_SETTLE_MS. Returns how many are not.
static int
s_settle (chaos_t *self)
{
    int wrong = 0;
    for (int64_t end = zclock_mono () + CHAOS_SETTLE_MS; zclock_mono () < end; ) {
        if (!broker_process_running (self->broker))
            broker_process_start (self->broker);
        wrong = s_wrong (self, false);
        if (wrong == 0)
            return 0;
        s_sample (self);
        harness_pause_ms (500);
    }
    return s_wrong (self, true);
}

//  --- what was published, what was delivered -------------------------------------

//  Marks in published the seq of every raised or cleared change of
//  chaos-host in the broker's history. Returns how many, -1 on failure.
static long
s_published (chaos_t *self, bool *published)
{
    long count = 0;
    uint64_t after = 0;
    for (int page = 0; page < 100000; page++) {
        wire_doc_t *reply = control_ok (self->broker, "since", ARG_INT ("seq", (int64_t) after),
                                        ARG_INT ("limit", 10000), ARG_END);
        const msgpack_object *changes = reply ? reply_get (reply, "changes") : NULL;
        if (!changes || changes->type != MSGPACK_OBJECT_ARRAY) {
            wire_doc_destroy (&reply);
            return -1;
        }
        for (uint32_t index = 0; index < changes->via.array.size; index++) {
            alert_change_t change;
            char error [WIRE_ERROR_SIZE];
            if (alert_change_decode (&changes->via.array.ptr [index], &change, error, sizeof error))
                continue;
            after = change.seq;
            if (change.seq < CHAOS_MAX_SEQS && streq (change.alert.source, "chaos-host")
            &&  (streq (change.event, "raised") || streq (change.event, "cleared"))) {
                published [change.seq] = true;
                count++;
            }
            alert_change_free (&change);
        }
        bool more = reply_bool (reply, "more", false);
        wire_doc_destroy (&reply);
        if (!more)
            return count;
    }
    return count;
}

//  Counts, per seq, the command runs logged in out ("seq":N on each line).
static void
s_delivered (chaos_t *self, int *runs)
{
    char *text = file_read_all (self->out);
    for (char *at = text; (at = strstr (at, "\"seq\":")); ) {
        at += 6;
        long seq = strtol (at, NULL, 10);
        if (seq > 0 && seq < CHAOS_MAX_SEQS)
            runs [seq]++;
    }
    free (text);
}

//  Compares; prints; true when nothing published went undelivered.
static bool
s_report_delivery (chaos_t *self, const char *phase)
{
    bool *published = calloc (CHAOS_MAX_SEQS, sizeof (bool));
    int *runs = calloc (CHAOS_MAX_SEQS, sizeof (int));
    long count = s_published (self, published);
    //  the notifier catches up on its own: give it until it has them all
    long missing = 0, delivered = 0, duplicated = 0;
    for (int64_t end = zclock_mono () + 60000; zclock_mono () < end; harness_pause_ms (500)) {
        if (!notifier_process_running (self->notifier))
            notifier_process_start (self->notifier);
        memset (runs, 0, CHAOS_MAX_SEQS * sizeof (int));
        s_delivered (self, runs);
        missing = delivered = duplicated = 0;
        for (long seq = 1; seq < CHAOS_MAX_SEQS; seq++) {
            if (published [seq] && !runs [seq])
                missing++;
            if (published [seq] && runs [seq]) {
                delivered++;
                duplicated += runs [seq] - 1;
            }
        }
        if (missing == 0)
            break;
    }
    printf ("%s: changes published %ld, delivered %ld, missing %ld, duplicated %ld\n",
            phase, count, delivered, missing, duplicated);
    free (published);
    free (runs);
    return count >= 0 && missing == 0;
}

//  --- the phases ---------------------------------------------------------------------------

//  Every id once more, in order, with the broker killed and restarted
//  half way: the events its socket held at the kill are not superseded
//  by later ones, so only a resend can save them (architecture §10).
static void
s_final_round (chaos_t *self)
{
    char ids [CHAOS_BATCH][16], summaries [CHAOS_BATCH][32];
    event_spec_t events [CHAOS_BATCH];
    for (int first = 0; first < CHAOS_IDS; first += CHAOS_BATCH) {
        if (first == CHAOS_IDS / 2) {
            broker_process_kill (self->broker);
            self->kills [0]++;
            if (broker_process_start (self->broker))
                harness_note ("the broker did not come back");
        }
        for (int index = 0; index < CHAOS_BATCH; index++) {
            snprintf (ids [index], sizeof ids [index], "c%d", first + index);
            snprintf (summaries [index], sizeof summaries [index], "serial %d", ++self->serial);
            events [index] = (event_spec_t) { .id = ids [index], .summary = summaries [index],
                                              .raise = "now" };
        }
        batch_spec_t batch = { .source = "chaos-host", .events = events,
                               .event_count = CHAOS_BATCH };
        if (ingest_send (self->push, &batch) == 0) {
            for (int index = 0; index < CHAOS_BATCH; index++) {
                self->last [first + index] = self->serial - CHAOS_BATCH + 1 + index;
                self->raised [first + index] = true;
            }
            self->sent += CHAOS_BATCH;
        }
        harness_pause_ms (CHAOS_PACE_MS);
    }
}

static bool
s_phase_kills (chaos_t *self, int seconds)
{
    long sent = self->sent;
    s_load (self, seconds * 1000LL, s_kill_one);
    s_final_round (self);
    int wrong = s_settle (self);
    printf ("kills: %d s, broker killed %d, agent %d, notifier %d times; events sent %ld; "
            "alerts lost %d of %d; broker RSS peak %ld KiB\n", seconds, self->kills [0],
            self->kills [1], self->kills [2], self->sent - sent, wrong, CHAOS_IDS, self->rss_peak_kb);
    return wrong == 0;
}

static void
s_fill (chaos_t *self)
{
    char *filler = sandbox_path (self->sandbox, "disk/filler");
    if (disk_fill (filler))
        harness_note ("cannot fill the disk");
    free (filler);
}

static bool
s_phase_disk (chaos_t *self)
{
    long sent = self->sent, peak = self->rss_peak_kb;
    self->rss_peak_kb = 0;
    s_fill (self);
    s_load (self, CHAOS_DISK_FULL_MS, NULL);
    int64_t failures = broker_process_stat (self->broker, "commit_failures");
    char *filler = sandbox_path (self->sandbox, "disk/filler");
    unlink (filler);
    free (filler);
    s_load (self, 3000, NULL);
    int wrong = s_settle (self);
    printf ("disk full: %d s full under load, %" PRId64 " failed commits; events sent %ld; "
            "alerts lost %d of %d; broker RSS peak %ld KiB\n", CHAOS_DISK_FULL_MS / 1000,
            failures, self->sent - sent, wrong, CHAOS_IDS, self->rss_peak_kb);
    if (peak > self->rss_peak_kb)
        self->rss_peak_kb = peak;
    return wrong == 0;
}

static void
s_replace_database (chaos_t *self)
{
    const char *database = broker_process_database (self->broker);
    char *other = sandbox_path (self->sandbox, "disk/other.db");
    if (file_write_text (other, "") == 0 && rename (other, database) == 0) {
        for (int waited = 0; waited < 5000 && broker_process_running (self->broker); waited += 100)
            harness_pause_ms (100);
        if (broker_process_running (self->broker))
            harness_note ("the broker still runs on a replaced database");
        char path [4200];
        snprintf (path, sizeof path, "%s-wal", database);
        unlink (path);
        snprintf (path, sizeof path, "%s-shm", database);
        unlink (path);
        if (broker_process_start (self->broker))
            harness_note ("the broker did not start on the new database");
    }
    free (other);
}

static bool
s_phase_replaced (chaos_t *self)
{
    long sent = self->sent;
    s_load (self, 3000, NULL);
    s_replace_database (self);
    s_load (self, 5000, NULL);
    int wrong = s_settle (self);
    printf ("database replaced: events sent %ld; alerts lost %d of %d\n",
            self->sent - sent, wrong, CHAOS_IDS);
    return wrong == 0;
}

//  --- setting up ----------------------------------------------------------------------------

static int
s_start (chaos_t *self)
{
    self->sandbox = sandbox_new ("chaos");
    if (!self->sandbox)
        return -1;
    self->disk = sandbox_path (self->sandbox, "disk");
    self->out = sandbox_path (self->sandbox, "out");
    char *database = sandbox_path (self->sandbox, "disk/lilac.db");
    if (disk_mount (self->disk, "64m")) {
        free (database);
        return -1;
    }
    broker_process_config_t config = { .reminder_interval = "1h", .grace = "2s",
                                       .checkpoint = "500ms", .database = database };
    self->broker = broker_process_new (self->sandbox, &config);
    free (database);
    if (!self->broker || broker_process_start (self->broker))
        return -1;
    agent_process_config_t agent = { .source = "chaos-host", .heartbeat_raise = "+1h",
                                     .heartbeat_interval = "1s", .max_alerts = "1000" };
    self->agent = agent_process_new (self->sandbox, self->broker, &agent, NULL, 0);
    if (!self->agent)
        return -1;
    s_restart_agent (self);
    char config_text [8192], section [2048];
    char *state = sandbox_path (self->sandbox, "notify-state");
    char *record = sandbox_path (self->sandbox, "record.sh");
    if (file_write_text (record, "cat >> \"$1\"\necho >> \"$1\"\n")) {
        free (state);
        free (record);
        return -1;
    }
    snprintf (config_text, sizeof config_text,
              "%s"
              "exec\n"
              "    command = 'sh %s %s'\n"
              "rule = chaos\n"
              "    source = \"chaos-host\"\n"
              "    on = raised, cleared\n",
              notifier_process_broker_section (self->broker, state, section, sizeof section),
              record, self->out);
    free (state);
    free (record);
    self->notifier = notifier_process_new (self->sandbox, "lilac-notify-exec", "notify",
                                           config_text);
    if (!self->notifier || notifier_process_start (self->notifier))
        return -1;
    return self->push ? 0 : -1;
}

int
main (int argc, char *argv [])
{
    int seconds = argc > 1 ? atoi (argv [1]) : 60;
    if (seconds < 5 || seconds > 240)
        seconds = 60;
    harness_become_subreaper ();
    signal (SIGPIPE, SIG_IGN);
    chaos_t chaos = { .seed = (unsigned) (getenv ("CHAOS_SEED") ? atoi (getenv ("CHAOS_SEED"))
                                                                : time (NULL)) };
    printf ("chaos: seed %u (CHAOS_SEED=%u repeats it), %d ids, %d events/s\n", chaos.seed,
            chaos.seed, CHAOS_IDS, CHAOS_BATCH * 1000 / CHAOS_PACE_MS);
    TEST ("chaos: setting up");
    bool ok = CHECK (s_start (&chaos) == 0, "could not start the broker, agent and notifier");
    if (ok) {
        TEST ("chaos: kill -9 of broker, agent and notifier under load: nothing lost");
        CHECK (s_phase_kills (&chaos, seconds), "alerts lost");
        CHECK (s_report_delivery (&chaos, "kills"), "changes not delivered");
        TEST ("chaos: the disk full and freed under load: nothing lost");
        CHECK (s_phase_disk (&chaos), "alerts lost");
        CHECK (s_report_delivery (&chaos, "disk full"), "changes not delivered");
        TEST ("chaos: the database replaced under the running broker: nothing lost");
        CHECK (s_phase_replaced (&chaos), "alerts lost");
    }
    bool failed = check_failed > 0 || check_case_failed;
    zsock_destroy (&chaos.push);
    notifier_process_destroy (&chaos.notifier, failed);
    agent_process_destroy (&chaos.agent, failed);
    broker_process_destroy (&chaos.broker, failed);
    if (chaos.disk)
        disk_unmount (chaos.disk);
    free (chaos.disk);
    free (chaos.out);
    sandbox_destroy (&chaos.sandbox, failed);
    return check_done ();
}
