/*  test_silences.c — silences end to end: the real broker, `lilac silence`,
    and lilac-notify-exec.

    One broker, one notifier (a probe command appending each alert's JSON
    to DIR/out) for the whole run; each case has its own sources. A silence
    is added and expired with the real `lilac` command, what it does is
    watched on the bus (`updated` changes carrying silenced_by, or not) and
    in the probe's file: once an alert raised *after* the silenced one is
    delivered, the silenced one has been decided on (the notifier delivers
    in seq order), so "not notified" needs no sleep. The silence that
    starts later is checked by the time of the change that silences it,
    not by how fast anything ran.
*/
#include <string.h>
#include <sys/stat.h>
#include "../check.h"
#include "../harness/harness.h"
#include "../harness/notifier_process.h"
#include "silence.h"

#define CHANGE_MS      10000       //  a change shows on the bus within this
#define DELIVERY_MS    15000       //  a notification is delivered within this
#define CLI_MS         10000       //  `lilac` answers within this

static testbed_t *s_bed;
static sandbox_t *s_sandbox;
static notifier_process_t *s_notifier;
static char s_out [1200];          //  the probe's file

//  Runs `lilac -C CONTROL silence ARGS...` (at most 12); 0 when it exited 0,
//  its stdout's first line into id (when not NULL).
static int
s_lilac (char *id, const char *a1, const char *a2, const char *a3, const char *a4,
         const char *a5, const char *a6, const char *a7, const char *a8, const char *a9,
         const char *a10)
{
    cli_result_t result;
    cli_run (sandbox_dir (s_sandbox), CLI_MS, &result, "-C",
             broker_process_control (s_bed->broker), "silence", a1, a2, a3, a4, a5, a6, a7,
             a8, a9, a10, NULL);
    int rc = result.status == 0 ? 0 : -1;
    if (rc)
        harness_note ("lilac silence %s: status %d: %s", a1, result.status,
                      result.err ? result.err : "");
    if (id && result.out)
        snprintf (id, SILENCE_ID_SIZE, "%.*s", (int) strcspn (result.out, "\n"), result.out);
    cli_result_free (&result);
    return rc;
}

//  Sends one event {source, id, raise, labels}; 0 or -1.
static int
s_send (const char *source, const char *id, const char *raise, const char *const *labels)
{
    event_spec_t event = { .id = id, .raise = raise, .labels = labels };
    batch_spec_t batch = { .source = source, .events = &event, .event_count = 1 };
    return ingest_send (s_bed->push, &batch);
}

//  Waits for event on source/id; its silenced_by into by ("" for none).
//  0, or -1 at the deadline.
static int
s_expect (const char *event, const char *source, const char *id, char *by, int64_t *at)
{
    alert_change_t change;
    if (expect_change (s_bed->sub, event, source, id, CHANGE_MS, &change) != 0)
        return -1;
    snprintf (by, SILENCE_ID_SIZE, "%s", change.alert.silenced_by ? change.alert.silenced_by : "");
    if (at)
        *at = change.at;
    alert_change_free (&change);
    return 0;
}

static bool
s_setup (void)
{
    TEST ("silences: a broker, and lilac-notify-exec with a probe, synced");
    s_bed = testbed_new ("silences", NULL);
    if (!CHECK (s_bed, "testbed"))
        return false;
    s_sandbox = sandbox_new ("silences-notify");
    char probe [1200], state [1200], section [4096], config [8192];
    snprintf (probe, sizeof probe, "%s/probe.sh", sandbox_dir (s_sandbox));
    snprintf (s_out, sizeof s_out, "%s/out", sandbox_dir (s_sandbox));
    snprintf (state, sizeof state, "%s/state", sandbox_dir (s_sandbox));
    if (!CHECK (file_write_text (probe, "#!/bin/sh\ncat >> \"$1\"\necho >> \"$1\"\n") == 0,
                "probe"))
        return false;
    notifier_process_broker_section (s_bed->broker, state, section, sizeof section);
    snprintf (config, sizeof config, "%sexec\n    command = 'sh \"%s\" \"%s\"'\n"
              "rule = all\n    on = raised\n", section, probe, s_out);
    s_notifier = notifier_process_new (s_sandbox, "lilac-notify-exec", "notify", config);
    if (!CHECK (s_notifier && notifier_process_start (s_notifier) == 0, "notifier start"))
        return false;
    //  Synced once a warm-up raise is delivered.
    for (int attempt = 0; attempt < 30; attempt++) {
        char id [16];
        snprintf (id, sizeof id, "w%d", attempt);
        if (ingest_event (s_bed->push, "warmup", id, "now") == 0
        &&  file_wait_count (s_out, "\"warmup\"", 1, 500) == 0)
            return true;
    }
    return CHECK (false, "the warm-up alert was never delivered");
}

//  --- the cases --------------------------------------------------------------------

static char s_silence [SILENCE_ID_SIZE];   //  the first case's silence

static void
s_add_silences_and_skips (void)
{
    TEST ("silence add: the matching alert gets silenced_by in an `updated` change; raised "
          "again it carries it and is not notified, while alerts it does not match are");
    const char *prod [] = { "env", "production", NULL };
    const char *staging [] = { "env", "staging", NULL };
    char by [SILENCE_ID_SIZE];
    if (!CHECK (s_send ("quiet-src", "a", "now", prod) == 0
                && s_expect ("raised", "quiet-src", "a", by, NULL) == 0, "raise quiet-src/a")
    ||  !CHECK (s_send ("quiet-src", "stage", "now", staging) == 0
                && s_expect ("raised", "quiet-src", "stage", by, NULL) == 0, "raise stage"))
        return;
    if (!CHECK (s_lilac (s_silence, "add", "--source", "quiet-*", "--label", "env=~prod.*",
                         "--ends", "+1h", "--note", "maintenance", NULL) == 0,
                "lilac silence add")
    ||  !CHECK (silence_id_valid (s_silence), "an id: '%s'", s_silence))
        return;
    CHECK (s_expect ("updated", "quiet-src", "a", by, NULL) == 0
           && strcmp (by, s_silence) == 0, "updated with silenced_by '%s'", by);
    //  Cleared and raised again: the raise carries it, and is not notified.
    CHECK (s_send ("quiet-src", "a", "clear", prod) == 0
           && s_expect ("cleared", "quiet-src", "a", by, NULL) == 0 && !*by,
           "cleared, without silenced_by");
    CHECK (s_send ("quiet-src", "a", "now", prod) == 0
           && s_expect ("raised", "quiet-src", "a", by, NULL) == 0
           && strcmp (by, s_silence) == 0, "raised with silenced_by '%s'", by);
    //  A label that does not match, and another source: notified.
    CHECK (s_send ("quiet-src", "stage", "clear", staging) == 0
           && s_send ("quiet-src", "stage", "now", staging) == 0
           && s_expect ("raised", "quiet-src", "stage", by, NULL) == 0 && !*by,
           "env=staging is not silenced");
    CHECK (s_send ("loud-src", "b", "now", prod) == 0
           && s_expect ("raised", "loud-src", "b", by, NULL) == 0 && !*by, "loud-src/b");
    CHECK (file_wait_count (s_out, "\"loud-src\"", 1, DELIVERY_MS) == 0, "loud-src notified");
    CHECK (file_wait_count (s_out, "\"ID\":\"stage\"", 2, DELIVERY_MS) == 0,
           "quiet-src/stage notified twice");
    CHECK (file_count_text (s_out, "\"ID\":\"a\"") == 1,
           "quiet-src/a notified once (before the silence), not again: %d",
           file_count_text (s_out, "\"ID\":\"a\""));
}

static void
s_expire (void)
{
    TEST ("silence expire: the alert gets an `updated` change without silenced_by; "
          "list says expired; a second expire is refused");
    char by [SILENCE_ID_SIZE] = "x";
    if (!CHECK (*s_silence, "no silence from the case before"))
        return;
    CHECK (s_lilac (NULL, "expire", s_silence, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                    NULL) == 0, "lilac silence expire");
    CHECK (s_expect ("updated", "quiet-src", "a", by, NULL) == 0 && !*by,
           "updated without silenced_by ('%s')", by);
    cli_result_t result;
    cli_run (sandbox_dir (s_sandbox), CLI_MS, &result, "-C",
             broker_process_control (s_bed->broker), "silence", "list", NULL);
    CHECK (result.status == 0 && result.out && strstr (result.out, s_silence)
           && strstr (result.out, "expired"), "list: %s", result.out ? result.out : "");
    cli_result_free (&result);
    CHECK (s_lilac (NULL, "expire", s_silence, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                    NULL) == -1, "expired twice");
}

static char s_later [SILENCE_ID_SIZE];     //  the silence that starts later

static void
s_starts_later (void)
{
    TEST ("a silence with starts in the future silences its alerts at that time, not before");
    char by [SILENCE_ID_SIZE];
    int64_t at = 0;
    if (!CHECK (s_send ("later-src", "x", "now", NULL) == 0
                && s_expect ("raised", "later-src", "x", by, NULL) == 0, "raise"))
        return;
    if (!CHECK (s_lilac (s_later, "add", "--source", "later-src", "--starts", "+2s",
                         "--ends", "+1h", NULL, NULL, NULL) == 0, "lilac silence add"))
        return;
    wire_doc_t *list = control_ok (s_bed->broker, "silence_list", ARG_END);
    const msgpack_object *silences = list ? reply_get (list, "silences") : NULL;
    int64_t starts = 0;
    for (uint32_t index = 0; silences && index < silences->via.array.size; index++) {
        char error [WIRE_ERROR_SIZE];
        silence_t *silence = silence_decode (&silences->via.array.ptr [index], error,
                                             sizeof error);
        if (silence && strcmp (silence->id, s_later) == 0)
            starts = silence->starts;
        silence_destroy (&silence);
    }
    wire_doc_destroy (&list);
    CHECK (starts > 0, "silence_list has it");
    CHECK (s_expect ("updated", "later-src", "x", by, &at) == 0 && strcmp (by, s_later) == 0,
           "updated with silenced_by '%s'", by);
    CHECK (at >= starts, "silenced at %lld, before it starts at %lld", (long long) at,
           (long long) starts);
}

static void
s_restart_and_since (void)
{
    TEST ("a restarted broker keeps its silences (the alert stays silenced); `since` replays "
          "the silence changes on topic silence.ID, in the same seq");
    if (!CHECK (*s_later && *s_silence, "no silences from the cases before"))
        return;
    CHECK (broker_process_stop (s_bed->broker) == 0, "stop");
    if (!CHECK (broker_process_start (s_bed->broker) == 0 && testbed_rejoin (s_bed) == 0,
                "start again"))
        return;
    wire_doc_t *list = control_ok (s_bed->broker, "silence_list", ARG_END);
    const msgpack_object *silences = list ? reply_get (list, "silences") : NULL;
    int found = 0;
    for (uint32_t index = 0; silences && index < silences->via.array.size; index++) {
        char error [WIRE_ERROR_SIZE];
        silence_t *silence = silence_decode (&silences->via.array.ptr [index], error,
                                             sizeof error);
        found += silence && (strcmp (silence->id, s_later) == 0
                             || strcmp (silence->id, s_silence) == 0);
        silence_destroy (&silence);
    }
    wire_doc_destroy (&list);
    CHECK (found == 2, "both silences listed after the restart (%d)", found);
    alert_t alert;
    if (CHECK (control_get_alert (s_bed->broker, "later-src", "x", &alert) == 0, "get")) {
        CHECK (alert.silenced_by && strcmp (alert.silenced_by, s_later) == 0,
               "still silenced by %s", s_later);
        alert_clear_fields (&alert);
    }
    //  since 0: the silence changes are there, between the alerts', seq strictly rising.
    wire_doc_t *since = control_ok (s_bed->broker, "since", ARG_INT ("seq", 0), ARG_END);
    const msgpack_object *changes = since ? reply_get (since, "changes") : NULL;
    int silence_changes = 0, expired = 0;
    uint64_t last = 0;
    bool rising = true;
    for (uint32_t index = 0; changes && index < changes->via.array.size; index++) {
        alert_change_t change;
        char error [WIRE_ERROR_SIZE];
        if (alert_change_decode (&changes->via.array.ptr [index], &change, error, sizeof error))
            continue;
        rising &= change.seq > last;
        last = change.seq;
        if (change.silence_id && strcmp (change.silence_id, s_silence) == 0) {
            silence_changes++;
            const msgpack_object *body = wire_get (&changes->via.array.ptr [index], "silence");
            const msgpack_object *state = wire_get (body, "state");
            expired += state && state->type == MSGPACK_OBJECT_STR
                    && state->via.str.size == 7 && memcmp (state->via.str.ptr, "expired", 7) == 0;
        }
        alert_change_free (&change);
    }
    wire_doc_destroy (&since);
    CHECK (silence_changes == 2 && expired == 1, "since: %d changes of the first silence "
           "(added, expired), %d expired", silence_changes, expired);
    CHECK (rising, "seq strictly rising");
}

int
main (void)
{
    if (s_setup ()) {
        s_add_silences_and_skips ();
        s_expire ();
        s_starts_later ();
        s_restart_and_since ();
    }
    bool failed = check_failed > 0 || check_case_failed;
    notifier_process_destroy (&s_notifier, failed);
    sandbox_destroy (&s_sandbox, failed);
    testbed_destroy (&s_bed, failed);
    return check_done ();
}
