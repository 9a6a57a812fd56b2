/*  test_faults.c — the broker's faults that used to be silent (issue 12),
    end to end with the real binaries.

    - one broker per database: a second lilac-broker on the same file exits
      1 naming the first one's pid, and the first goes on committing;
    - a full disk: the database on a small tmpfs filled to the last byte
      while events pour in. Commits fail and the broker says `degraded`
      (ping, stats); past the backlog bound it stops reading ingest, so its
      memory stays bounded; once space is back every event is written and
      every alert holds the last state sent. Meanwhile a `submit` is
      answered at once "degraded ..., retry after" (architecture §10). Mounting a tmpfs needs root,
      as `make test` has (it installs packages); without it the case fails
      and says why;
    - four subscribers that never read while 20,000 changes of ~1.3 KB go
      out: the broker's PUB queue per subscriber is bounded (BUS_SEND_HWM
      messages), its RSS growth stays under STUCK_RSS_GROWTH_KB (measured
      40 MiB; 108 MiB and never returned before the bound and the trim), and
      once they are gone — and after a refused message of 3,000 frames of
      32 KiB, which libzmq holds whole before the broker can refuse it — the
      memory goes back to the system;
    - a damaged file: a page of history overwritten while the broker was
      stopped → it starts, and `since` over the damage answers "take a
      snapshot" (which sends a subscriber there) and logs it; a page of the
      alerts' unique index overwritten (which loading never reads) → it
      refuses to start, naming the damage;
    - `lilac-broker -n` reports every problem a start would meet, each with
      its file:line, in one run, and a start reports the same.
*/
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <unistd.h>
#include "../check.h"
#include "../harness/harness.h"
#include "ctl.h"
#include "timespec.h"

//  Under AddressSanitizer the broker's RSS is its allocator's (a quarantine
//  of freed memory that malloc_trim does not reach): the figures are
//  printed, the bounds not checked.
#if defined (__SANITIZE_ADDRESS__)
#   define RSS_CHECKED false
#else
#   define RSS_CHECKED true
#endif

#define DISK_IDS        500             //  alerts in the disk-full case
#define DISK_ROUNDS     60              //  events per alert: 30,000 changes, past the
                                        //  broker's backlog bound of 20,000
#define DISK_PER_FRAME  50              //  events per ingest frame
#define DISK_RSS_GROWTH_KB (64 * 1024)  //  the bound on the broker's growth meanwhile
#define STUCK_SUBSCRIBERS 4             //  SUBs that never read
#define STUCK_IDS       5000            //  alerts changed while they are stuck
#define STUCK_ROUNDS    4               //  changes per alert: 20,000, each ~1.3 KB
#define STUCK_RSS_GROWTH_KB (56 * 1024) //  the bound on the broker's growth meanwhile
#define STUCK_RSS_AFTER_KB  (64 * 1024) //  ... and once they are gone (27 MiB alone; more under load)
#define MULTIPART_FRAMES 3000           //  frames of 32 KiB in one refused message (94 MiB)

//  A second broker on the first one's database, on ports of its own.
static void
s_one_broker_per_database (testbed_t *bed)
{
    TEST ("one broker per database: a second exits 1 naming the holder's pid");
    char ingest [64], publish [64], control [64];
    snprintf (ingest, sizeof ingest, "tcp://127.0.0.1:%d", port_free ());
    snprintf (publish, sizeof publish, "tcp://127.0.0.1:%d", port_free ());
    snprintf (control, sizeof control, "tcp://127.0.0.1:%d", port_free ());
    cli_result_t second;
    command_run ("lilac-broker", "second-broker", sandbox_dir (bed->sandbox), 10000, &second,
                 "--db", broker_process_database (bed->broker), "--ingest", ingest,
                 "--publish", publish, "--control", control, NULL);
    char holder [64];
    snprintf (holder, sizeof holder, "pid %ld", (long) broker_process_pid (bed->broker));
    CHECK (second.status == 1, "second broker exit status %d, want 1", second.status);
    CHECK (strstr (second.err, "in use by another lilac-broker") && strstr (second.err, holder),
           "second broker said: %s", second.err);
    cli_result_free (&second);
    CHECK (testbed_raise (bed, "lock-host", "after-second", NULL) == 0,
           "the first broker still commits and publishes");
    CHECK (broker_process_stat (bed->broker, "commit_failures") == 0, "no failed commits");
}

//  The resident size of pid in KiB, or -1.
static long
s_rss_kb (pid_t pid)
{
    return pid ? (long) process_status_kb (pid, "VmRSS") : -1;
}

//  One round: every id gets summary "round R", raised on even rounds and
//  cleared on odd ones. Returns the number of events the PUSH took.
static int
s_send_round (zsock_t *push, int round)
{
    char ids [DISK_PER_FRAME][16], summary [32];
    snprintf (summary, sizeof summary, "round %d", round);
    event_spec_t events [DISK_PER_FRAME];
    int sent = 0;
    for (int first = 0; first < DISK_IDS; first += DISK_PER_FRAME) {
        for (int index = 0; index < DISK_PER_FRAME; index++) {
            snprintf (ids [index], sizeof ids [index], "d%d", first + index);
            events [index] = (event_spec_t) { .id = ids [index], .summary = summary,
                                              .raise = round % 2 ? "clear" : "now" };
        }
        batch_spec_t batch = { .source = "disk-host", .events = events,
                               .event_count = DISK_PER_FRAME };
        if (ingest_send (push, &batch) == 0)
            sent += DISK_PER_FRAME;
    }
    return sent;
}

//  Polls `stats` until name reaches at least value, sampling the broker's
//  RSS into *peak_kb. 0, or -1 at the deadline.
static int
s_wait_stat (broker_process_t *broker, const char *name, int64_t value, int timeout_ms,
             long *peak_kb)
{
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        long rss = s_rss_kb (broker_process_pid (broker));
        if (rss > *peak_kb)
            *peak_kb = rss;
        if (broker_process_stat (broker, name) >= value)
            return 0;
        harness_pause_ms (100);
    }
    return -1;
}

//  Every id holds the last round's state and summary.
static int
s_count_wrong (broker_process_t *broker)
{
    int wrong = 0;
    char want [32];
    snprintf (want, sizeof want, "round %d", DISK_ROUNDS - 1);
    for (int index = 0; index < DISK_IDS; index++) {
        char id [16];
        snprintf (id, sizeof id, "d%d", index);
        alert_t alert;
        if (control_get_alert (broker, "disk-host", id, &alert)) {
            wrong++;
            continue;
        }
        alert_state_t state = (DISK_ROUNDS - 1) % 2 ? ALERT_CLEARED : ALERT_RAISED;
        if (alert.state != state || !alert.summary || strcmp (alert.summary, want))
            wrong++;
        alert_clear_fields (&alert);
    }
    return wrong;
}

//  While ingest is paused, a submit is answered at once: not ok, degraded,
//  retry after a while, its tx echoed.
static void
s_submit_degraded (broker_process_t *broker)
{
    char error [512];
    ctl_t *ctl = ctl_new (broker_process_control (broker), 5000, false, error, sizeof error);
    event_spec_t event = { .id = "while-degraded", .raise = "now" };
    batch_spec_t batch = { .source = "disk", .tx = "tx-degraded", .events = &event,
                           .event_count = 1 };
    wire_writer_t frame;
    wire_writer_init (&frame);
    batch_pack (&frame, &batch);
    ctl_submit_reply_t reply;
    int64_t sent_at = clock_now_ms ();
    int rc = ctl ? ctl_submit (ctl, frame.buffer.data, frame.buffer.size, &reply, NULL,
                               error, sizeof error) : -1;
    int64_t took = clock_now_ms () - sent_at;
    if (CHECK (rc == 0, "submit while degraded: no answer: %s", error)) {
        harness_note ("submit while degraded, answered in %" PRId64 " ms: %s (retry after %"
                      PRId64 " ms)", took, reply.error, reply.retry_after);
        CHECK (!reply.ok && strstr (reply.error, "degraded") && strstr (reply.error, "retry after")
               && reply.retry_after > 0 && streq (reply.tx, "tx-degraded"),
               "submit while degraded: ok %d, '%s', retry_after %" PRId64, reply.ok, reply.error,
               reply.retry_after);
    }
    wire_writer_free (&frame);
    ctl_destroy (&ctl);
}

static void
s_disk_full_under_load (broker_process_t *broker, const char *filler)
{
    long base_kb = s_rss_kb (broker_process_pid (broker)), peak_kb = base_kb;
    zsock_t *push = ingest_open (broker);
    if (!CHECK (push && disk_fill (filler) == 0, "cannot fill the disk: %s", strerror (errno)))
        return;
    int sent = 0;
    for (int round = 0; round < DISK_ROUNDS; round++)
        sent += s_send_round (push, round);
    CHECK (sent == DISK_IDS * DISK_ROUNDS, "the PUSH took %d of %d events", sent,
           DISK_IDS * DISK_ROUNDS);
    CHECK (s_wait_stat (broker, "ingest_paused", 1, 20000, &peak_kb) == 0,
           "ingest never paused while commits failed");
    wire_doc_t *ping = control_ok (broker, "ping", ARG_END);
    const msgpack_object *degraded = ping ? reply_get (ping, "degraded") : NULL;
    CHECK (degraded && reply_int (ping, "degraded_since", 0) > 0,
           "ping does not say degraded while commits fail");
    wire_doc_destroy (&ping);
    s_submit_degraded (broker);
    harness_note ("disk full: %" PRId64 " commit failures, %" PRId64 " changes waiting",
                  broker_process_stat (broker, "commit_failures"),
                  broker_process_stat (broker, "commit_backlog"));

    CHECK (unlink (filler) == 0, "cannot free the disk");
    CHECK (s_wait_stat (broker, "events_applied", sent, 30000, &peak_kb) == 0,
           "events applied %" PRId64 " of %d after space came back",
           broker_process_stat (broker, "events_applied"), sent);
    for (int waited = 0; waited < 10000 && broker_process_stat (broker, "commit_backlog"); waited += 100)
        harness_pause_ms (100);
    ping = control_ok (broker, "ping", ARG_END);
    CHECK (ping && !reply_get (ping, "degraded"), "still degraded once space came back");
    wire_doc_destroy (&ping);
    int wrong = s_count_wrong (broker);
    CHECK (wrong == 0, "%d of %d alerts not in their last-sent state", wrong, DISK_IDS);
    harness_note ("broker RSS %ld KiB before, %ld KiB at most while the disk was full",
                  base_kb, peak_kb);
    CHECK (!RSS_CHECKED || peak_kb - base_kb < DISK_RSS_GROWTH_KB, "RSS grew by %ld KiB (bound %d KiB)",
           peak_kb - base_kb, DISK_RSS_GROWTH_KB);
    zsock_destroy (&push);
}

static void
s_disk_full (void)
{
    TEST ("full disk under load: bounded memory, degraded said, nothing lost once freed");
    sandbox_t *sandbox = sandbox_new ("diskfull");
    char *disk = sandbox_path (sandbox, "disk");
    char *database = sandbox_path (sandbox, "disk/lilac.db");
    char *filler = sandbox_path (sandbox, "disk/filler");
    if (CHECK (disk_mount (disk, "32m") == 0, "cannot mount a tmpfs on %s", disk)) {
        broker_process_config_t config = { .database = database, .checkpoint = "500ms" };
        broker_process_t *broker = broker_process_new (sandbox, &config);
        if (CHECK (broker && broker_process_start (broker) == 0, "broker did not start"))
            s_disk_full_under_load (broker, filler);
        CHECK (broker && broker_process_stop (broker) == 0, "broker did not stop cleanly");
        broker_process_destroy (&broker, check_case_failed);
        disk_unmount (disk);
    }
    free (disk);
    free (database);
    free (filler);
    sandbox_destroy (&sandbox, check_case_failed);
}

//  Changes every one of STUCK_IDS alerts STUCK_ROUNDS times, each body
//  carrying a detail of about 1 KB. Returns the events the PUSH took.
static int
s_send_heavy (zsock_t *push)
{
    char ids [DISK_PER_FRAME][16], summary [32], detail [1001];
    memset (detail, 'x', sizeof detail - 1);
    detail [sizeof detail - 1] = 0;
    event_spec_t events [DISK_PER_FRAME];
    int sent = 0;
    for (int round = 0; round < STUCK_ROUNDS; round++)
        for (int first = 0; first < STUCK_IDS; first += DISK_PER_FRAME) {
            snprintf (summary, sizeof summary, "round %d", round);
            for (int index = 0; index < DISK_PER_FRAME; index++) {
                snprintf (ids [index], sizeof ids [index], "h%d", first + index);
                events [index] = (event_spec_t) { .id = ids [index], .summary = summary,
                                                  .detail = detail, .raise = "now" };
            }
            batch_spec_t batch = { .source = "heavy-host", .events = events,
                                   .event_count = DISK_PER_FRAME };
            if (ingest_send (push, &batch) == 0)
                sent += DISK_PER_FRAME;
        }
    return sent;
}

//  A message of MULTIPART_FRAMES frames of 32 KiB on ingest: libzmq holds
//  all of it before the broker can refuse it (one frame is a batch).
static void
s_refused_multipart (testbed_t *bed, long *peak_kb)
{
    zsock_t *push = ingest_open (bed->broker);
    static char frame [32 * 1024];
    memset (frame, 'x', sizeof frame);
    void *handle = push ? zsock_resolve (push) : NULL;
    int sent = 0;
    for (int index = 0; handle && index < MULTIPART_FRAMES; index++)
        if (zmq_send (handle, frame, sizeof frame,
                      index + 1 < MULTIPART_FRAMES ? ZMQ_SNDMORE : 0) == (int) sizeof frame)
            sent++;
    CHECK (sent == MULTIPART_FRAMES, "sent %d of %d frames", sent, MULTIPART_FRAMES);
    CHECK (s_wait_stat (bed->broker, "rejected", 1, 20000, peak_kb) == 0,
           "the multipart message was not refused");
    harness_note ("broker RSS %ld KiB at most with a %d-frame message", *peak_kb,
                  MULTIPART_FRAMES);
    zsock_destroy (&push);
}

static void
s_stuck_subscribers (void)
{
    TEST ("stuck subscribers and a refused 3,000-frame message: the broker's memory stays"
          " bounded, and comes back");
    testbed_t *bed = testbed_new ("stuck", NULL);
    if (!CHECK (bed, "no testbed"))
        return;
    pid_t pid = broker_process_pid (bed->broker);
    long base_kb = s_rss_kb (pid), peak_kb = base_kb;
    subscriber_t *stuck [STUCK_SUBSCRIBERS] = { 0 };
    for (int index = 0; index < STUCK_SUBSCRIBERS; index++)
        CHECK ((stuck [index] = subscriber_new (bed->broker, "")), "subscriber %d", index);
    int sent = s_send_heavy (bed->push);
    CHECK (sent == STUCK_IDS * STUCK_ROUNDS, "the PUSH took %d events", sent);
    CHECK (s_wait_stat (bed->broker, "published", sent, 60000, &peak_kb) == 0,
           "published %" PRId64 " of %d", broker_process_stat (bed->broker, "published"), sent);
    for (int sample = 0; sample < 10; sample++) {     //  what stays pinned once all is sent
        harness_pause_ms (100);
        long rss = s_rss_kb (pid);
        peak_kb = rss > peak_kb ? rss : peak_kb;
    }
    harness_note ("broker RSS %ld KiB before, %ld KiB at most with %d stuck subscribers",
                  base_kb, peak_kb, STUCK_SUBSCRIBERS);
    CHECK (!RSS_CHECKED || peak_kb - base_kb < STUCK_RSS_GROWTH_KB, "RSS grew by %ld KiB (bound %d KiB)",
           peak_kb - base_kb, STUCK_RSS_GROWTH_KB);
    for (int index = 0; index < STUCK_SUBSCRIBERS; index++)
        subscriber_destroy (&stuck [index]);
    s_refused_multipart (bed, &peak_kb);
    long after_kb = s_rss_kb (pid);
    for (int waited = 0; RSS_CHECKED && waited < 20000
                         && after_kb - base_kb >= STUCK_RSS_AFTER_KB; waited += 200) {
        harness_pause_ms (200);
        after_kb = s_rss_kb (pid);
    }
    harness_note ("broker RSS %ld KiB once they were gone", after_kb);
    CHECK (!RSS_CHECKED || after_kb - base_kb < STUCK_RSS_AFTER_KB, "RSS stayed %ld KiB above the start",
           after_kb - base_kb);
    testbed_destroy (&bed, check_case_failed);
}

//  Overwrites the middle leaf page of table in the SQLite file at path with
//  0xff bytes (the broker is stopped: its log is in the file). 0 / -1.
static int
s_damage_page (const char *path, const char *table)
{
    sqlite3 *db;
    sqlite3_stmt *query = NULL;
    int64_t pages [4096], count = 0, page_size = 0;
    if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK
    ||  sqlite3_prepare_v2 (db, "SELECT pageno, pgsize FROM dbstat WHERE name = ?1"
                            " AND pagetype = 'leaf' ORDER BY pageno", -1, &query, NULL) != SQLITE_OK
    ||  sqlite3_bind_text (query, 1, table, -1, SQLITE_STATIC) != SQLITE_OK) {
        harness_note ("dbstat of %s: %s", path, sqlite3_errmsg (db));
        sqlite3_finalize (query);
        sqlite3_close (db);
        return -1;
    }
    while (count < 4096 && sqlite3_step (query) == SQLITE_ROW) {
        pages [count++] = sqlite3_column_int64 (query, 0);
        page_size = sqlite3_column_int64 (query, 1);
    }
    sqlite3_finalize (query);
    sqlite3_close (db);
    if (count < 3) {
        harness_note ("%s has %" PRId64 " leaf pages: too few to damage one in the middle",
                      table, count);
        return -1;
    }
    char garbage [65536];
    memset (garbage, 0xff, sizeof garbage);
    int fd = open (path, O_WRONLY);
    bool written = fd >= 0 && page_size <= (int64_t) sizeof garbage
                && pwrite (fd, garbage, (size_t) page_size,
                           (pages [count / 2] - 1) * page_size) == page_size;
    if (fd >= 0)
        close (fd);
    return written ? 0 : -1;
}

//  Raises count alerts of source in batches of 50 and waits for the last.
static int
s_raise_many (testbed_t *bed, const char *source, int count)
{
    char ids [50][16], last [sizeof ids [0]] = "";
    event_spec_t events [50];
    for (int first = 0; first < count; first += 50) {
        int size = count - first < 50 ? count - first : 50;
        for (int index = 0; index < size; index++) {
            snprintf (ids [index], sizeof ids [index], "a%d", first + index);
            events [index] = (event_spec_t) { .id = ids [index], .raise = "now",
                                              .summary = "filling pages of history and alerts" };
            memcpy (last, ids [index], sizeof last);
        }
        batch_spec_t batch = { .source = source, .events = events, .event_count = (size_t) size };
        if (ingest_send (bed->push, &batch))
            return -1;
    }
    alert_change_t change;
    if (expect_change (bed->sub, "raised", source, last, 10000, &change))
        return -1;
    alert_change_free (&change);
    return 0;
}

static void
s_damaged_history (void)
{
    TEST ("damaged history: since says 'take a snapshot' and logs it; the broker runs on");
    testbed_t *bed = testbed_new ("damaged-history", NULL);
    if (!CHECK (bed, "no testbed"))
        return;
    CHECK (s_raise_many (bed, "damage-host", 400) == 0, "raises");
    CHECK (broker_process_stop (bed->broker) == 0, "clean stop");
    CHECK (s_damage_page (broker_process_database (bed->broker), "history") == 0, "damage");
    if (CHECK (broker_process_start (bed->broker) == 0, "the broker starts over damaged history")) {
        wire_doc_t *reply = control_call (bed->broker, "since", ARG_INT ("seq", 0), ARG_END);
        const char *error = reply ? reply_error (reply) : NULL;
        CHECK (reply && !reply_ok (reply) && error && strstr (error, "take a snapshot")
               && strstr (error, "unreadable"), "since over the damage answered: %s",
               error ? error : "ok or nothing");
        wire_doc_destroy (&reply);
        CHECK (file_wait_count (broker_process_log (bed->broker), "is unreadable", 1, 3000) == 0,
               "the broker logged the damage");
        CHECK (testbed_rejoin (bed) == 0 && testbed_raise (bed, "damage-host", "after", NULL) == 0,
               "the broker still commits and publishes");
    }
    testbed_destroy (&bed, check_case_failed);
}

static void
s_damaged_alerts (void)
{
    TEST ("damaged alerts index: the broker refuses to start, naming the damage");
    testbed_t *bed = testbed_new ("damaged-alerts", NULL);
    if (!CHECK (bed, "no testbed"))
        return;
    CHECK (s_raise_many (bed, "damage-host-with-a-longer-name", 1000) == 0, "raises");
    CHECK (broker_process_stop (bed->broker) == 0, "clean stop");
    //  The unique index on (source, id): loading the rows never reads it,
    //  so without the check the damage would surface only as failed
    //  commits, later.
    CHECK (s_damage_page (broker_process_database (bed->broker), "sqlite_autoindex_alerts_1") == 0,
           "damage");
    char config [4096];
    snprintf (config, sizeof config, "%s/broker.conf", sandbox_dir (bed->sandbox));
    cli_result_t start;
    command_run ("lilac-broker", "damaged-start", sandbox_dir (bed->sandbox), 20000, &start,
                 "-c", config, NULL);
    CHECK (start.status == 1 && strstr (start.err, "is damaged (quick_check of alerts"),
           "exit %d: %s", start.status, start.err);
    cli_result_free (&start);
    broker_process_destroy (&bed->broker, check_case_failed);     //  stopped on purpose
    testbed_destroy (&bed, check_case_failed);
}

static void
s_check_config (void)
{
    TEST ("-n reports every problem a start would meet, with file:line, in one run");
    sandbox_t *sandbox = sandbox_new ("broker-n");
    char *config = sandbox_path (sandbox, "bad.conf");
    char *plain = sandbox_path (sandbox, "plain-file");
    char text [2048];
    snprintf (text, sizeof text,
              "broker\n"
              "    ingest = \"127.0.0.1:42111\"\n"
              "    publish = \"tcp://127.0.0.1\"\n"
              "    database = \"%s/lilac.db\"\n"
              "    grace = soon\n"
              "    bogus = 1\n"
              "    standbys = 1\n"
              "security\n"
              "    cert = \"%s/missing_secret\"\n"
              "    clients = \"%s\"\n", plain, sandbox_dir (sandbox), sandbox_dir (sandbox));
    CHECK (file_write_text (config, text) == 0 && file_write_text (plain, "x\n") == 0, "files");
    const char *wanted [] = {
        "bad.conf:6: unknown key 'bogus'", "bad.conf:5: broker/grace: 'soon' is not a duration",
        "bad.conf:2: ingest: '127.0.0.1:42111' has no transport",
        "bad.conf:3: publish: 'tcp://127.0.0.1' has no HOST:PORT",
        "bad.conf:4: database:", "is not a directory",
        "bad.conf:9: cert: certificate: cannot read",
        "bad.conf:7: standbys: 1 standby brokers need a postgresql:// database",
        "7 errors in the configuration",
    };
    for (int start = 0; start < 2; start++) {
        cli_result_t result;
        command_run ("lilac-broker", start ? "start" : "check", sandbox_dir (sandbox), 10000,
                     &result, "-c", config, start ? NULL : "-n", NULL);
        CHECK (result.status == 1, "%s: exit %d", start ? "start" : "-n", result.status);
        for (size_t index = 0; index < sizeof wanted / sizeof wanted [0]; index++)
            CHECK (strstr (result.err, wanted [index]), "%s does not say \"%s\": %s",
                   start ? "start" : "-n", wanted [index], result.err);
        cli_result_free (&result);
    }
    free (config);
    free (plain);
    sandbox_destroy (&sandbox, check_case_failed);
}

int
main (void)
{
    testbed_t *bed = testbed_new ("faults", NULL);
    if (!bed) {
        TEST ("testbed");
        CHECK (false, "no testbed");
        return check_done ();
    }
    s_one_broker_per_database (bed);
    testbed_destroy (&bed, check_case_failed);
    s_disk_full ();
    s_stuck_subscribers ();
    s_damaged_history ();
    s_damaged_alerts ();
    s_check_config ();
    return check_done ();
}
