/*  tap.c — `lilac tap`: print the broker's changes as they are published.

    A thin owner of a change feed (change_feed.h): the feed subscribes to
    every change and to hugz, asks the control socket where the stream
    stands, fills gaps with `since`, and hands tap each change once, in seq
    order. tap keeps no cursor file: it starts from now (or, with
    --snapshot, from the snapshot it prints first). Losses and repairs are
    the feed's log lines on stderr ("gap: seq N after M; catching up with
    since", "no hugz from EP for 3 s"), through log_init ("lilac", false).

    PREFIX filtering is local, by topic (EVENT.LEVEL.SOURCE.ID rebuilt from
    the decoded change), since the feed subscribes to everything. Snapshot
    alerts are filtered as if their state were the event, so `raised.`
    shows raised alerts. Output is one line per change, flushed at once so
    a pipe sees it: a human line, or with --json the body (re-packed from the
    checked, decoded change with alert_change_pack, the broker's own packer)
    as JSON with "topic" first; a snapshot alert prints as EVENT "snapshot",
    in JSON {"topic":"snapshot","v":1,"alert":{...}}. hugz come from the
    feed's hugz callback.

    --snapshot runs in the same loop as the changes (the feed's
    change_feed_snapshot_start): its alerts print as pages arrive, the
    changes after it follow; a snapshot that fails (no reply within -t)
    ends tap with the reason, as before.

    SIGINT and SIGTERM set a flag (czmq's handler is off, see main.c) from
    a handler without SA_RESTART, so the poll returns at once; the loop
    polls the feed's sockets for at most S_POLL_MS besides. The feed never
    waits on the broker (change_feed.h), so tap stops at once even while the
    broker does not answer.
*/
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "alert.h"
#include "bus.h"
#include "change_feed.h"
#include "cli.h"
#include "json.h"
#include "log.h"
#include "signals.h"
#include "timespec.h"
#include "wire.h"

#define S_POLL_MS          500     //  longest wait between two looks at the flag
#define S_OPTION_JSON      1000    //  getopt codes of the long-only options
#define S_OPTION_COUNT     1001
#define S_OPTION_HUGZ      1002
#define S_OPTION_SNAPSHOT  1003

const char cli_tap_usage[] =
    "usage: lilac tap [-e EP] [-C EP] [-t SECONDS] [--json] [--count N] [--hugz]\n"
    "                 [--snapshot] [PREFIX...]\n"
    "\n"
    "Prints every change the broker publishes, one line each:\n"
    "TIME EVENT LEVEL SOURCE ID STATE SUMMARY. PREFIXes filter by topic\n"
    "(EVENT.LEVEL.SOURCE.ID, e.g. raised. or cleared.urgent.). Changes lost\n"
    "on the bus are fetched from the broker (`since`) and printed in order;\n"
    "each such gap is reported on stderr.\n"
    "\n"
    "  -e, --events EP    change endpoint (default $LILAC_EVENTS, else "
    "tcp://127.0.0.1:32742)\n"
    "  -C, --control EP   control endpoint (default $LILAC_CONTROL, else "
    "tcp://127.0.0.1:32743)\n"
    "  -t, --timeout SECS deadline of one control call (default 5)\n"
    "      --json         print each body as JSON, with a \"topic\" key\n"
    "      --count N      stop after N lines\n"
    "      --hugz         show the broker's heartbeat (hugz) too\n"
    "      --snapshot     first print the current alerts, one line each\n"
    "                     (EVENT is \"snapshot\"; with --json {topic, v, alert}),\n"
    "                     then follow\n";

static volatile sig_atomic_t s_interrupted;

static void
s_on_signal (int signal_number)
{
    (void) signal_number;
    s_interrupted = 1;
}

//  The parsed command line and what was printed.
typedef struct {
    const char *endpoint;          //  change endpoint
    const char *control;           //  control endpoint
    int timeout_ms;                //  -t, or 0 for the global one
    bool json;                     //  --json
    long count;                    //  --count, 0 for no limit
    bool hugz;                     //  show hugz
    bool snapshot;                 //  --snapshot
    char **prefixes;               //  borrowed from argv
    int prefix_count;
    long printed;                  //  lines printed so far
    bool snapshot_failed;          //  --snapshot ended without every page
    char snapshot_error [256];     //  and why
} s_tap_t;

static bool
s_enough (s_tap_t *self)
{
    return self->count > 0 && self->printed >= self->count;
}

static int
s_tap_parse (s_tap_t *self, int argc, char **argv)
{
    static const struct option long_options [] = {
        { "events", required_argument, NULL, 'e' },
        { "control", required_argument, NULL, 'C' },
        { "timeout", required_argument, NULL, 't' },
        { "json", no_argument, NULL, S_OPTION_JSON },
        { "count", required_argument, NULL, S_OPTION_COUNT },
        { "hugz", no_argument, NULL, S_OPTION_HUGZ },
        { "snapshot", no_argument, NULL, S_OPTION_SNAPSHOT },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    char error [256];
    opterr = 0;
    int option;
    while ((option = getopt_long (argc, argv, ":e:C:t:h", long_options, NULL)) != -1) {
        switch (option) {
            case 'e': self->endpoint = optarg; break;
            case 'C': self->control = optarg; break;
            case 't':
                if (cli_parse_timeout ("-t", optarg, &self->timeout_ms, error, sizeof error))
                    return cli_usage_error ("tap", cli_tap_usage, "%s", error);
                break;
            case S_OPTION_JSON: self->json = true; break;
            case S_OPTION_HUGZ: self->hugz = true; break;
            case S_OPTION_SNAPSHOT: self->snapshot = true; break;
            case S_OPTION_COUNT:
                if (cli_parse_count ("--count", optarg, 1, LONG_MAX, &self->count,
                                     error, sizeof error))
                    return cli_usage_error ("tap", cli_tap_usage, "%s", error);
                break;
            case 'h':
                fputs (cli_tap_usage, stdout);
                return CLI_EXIT_OK;
            default:
                return cli_option_error ("tap", cli_tap_usage, option, argc, argv);
        }
    }
    self->prefixes = argv + optind;
    self->prefix_count = argc - optind;
    for (int index = 0; index < self->prefix_count; index++) {
        const char *prefix = self->prefixes [index];
        if (*prefix && strncmp ("hugz", prefix, strlen (prefix)) == 0)
            self->hugz = true;         //  asked for by name
    }
    return -1;
}

//  True if topic is wanted: no prefix, an empty one, or one it starts with.
static bool
s_wanted (s_tap_t *self, const char *topic)
{
    if (self->prefix_count == 0)
        return true;
    for (int index = 0; index < self->prefix_count; index++) {
        const char *prefix = self->prefixes [index];
        if (strncmp (topic, prefix, strlen (prefix)) == 0)
            return true;
    }
    return false;
}

//  Prints the map root as JSON with "topic" as the first key (a "topic"
//  key of the body itself is left out: the bus topic is what tap shows).
static int
s_print_json (const char *topic, const msgpack_object *root)
{
    json_t *line = json_object ();
    json_t *body = json_from_msgpack (root);
    char *text = NULL;
    if (line && json_is_object (body)
    &&  json_object_set_new (line, "topic", json_string_lossy (topic, strlen (topic))) == 0
    &&  json_object_update_missing (line, body) == 0)
        text = json_text (line);
    json_decref (body);
    json_decref (line);
    if (!text)
        return -1;
    puts (text);
    free (text);
    return 0;
}

//  Prints what writer holds (one packed map) as JSON with topic first.
static void
s_print_packed (const char *topic, wire_writer_t *writer)
{
    char error [WIRE_ERROR_SIZE];
    wire_doc_t *doc = wire_doc_new (writer->buffer.data, writer->buffer.size,
                                    error, sizeof error);
    if (!doc || s_print_json (topic, wire_doc_root (doc)))
        fprintf (stderr, "lilac tap: cannot render %s as JSON: %s\n", topic,
                 doc ? "bad map" : error);
    wire_doc_destroy (&doc);
}

static void
s_print_line (int64_t at, const char *event, const alert_t *alert)
{
    char when [64];
    printf ("%s %s %s %s %s %s #%" PRId64 " ", time_format (at, when, sizeof when), event,
            alert_level_name (alert->level), alert->source, alert->id,
            alert_state_name (alert->state), alert->notify_count);
    cli_print_plain (stdout, alert->summary ? alert->summary : "-");
    putchar ('\n');
}

//  The feed's deliver function: prints a wanted change; always DONE.
static feed_result_t
s_deliver (const alert_change_t *change, void *arg, int64_t *retry_at)
{
    (void) retry_at;
    s_tap_t *self = arg;
    char topic [WIRE_MAX_TOPIC + 1];
    alert_topic (topic, sizeof topic, change->event, &change->alert);
    if (s_enough (self) || !s_wanted (self, topic))
        return FEED_DONE;
    if (self->json) {
        wire_writer_t writer;
        wire_writer_init (&writer);
        alert_change_pack (&writer.packer, change->seq, change->at, change->event, &change->alert,
                           *change->epoch.db ? &change->epoch : NULL);
        s_print_packed (topic, &writer);
        wire_writer_free (&writer);
    }
    else
        s_print_line (change->at, change->event, &change->alert);
    self->printed++;
    fflush (stdout);
    return FEED_DONE;
}

static void
s_on_hugz (uint64_t seq, int64_t at, void *arg)
{
    s_tap_t *self = arg;
    if (!self->hugz || s_enough (self))
        return;
    if (self->json)
        printf ("{\"topic\":\"hugz\",\"v\":%d,\"seq\":%" PRIu64 ",\"at\":%" PRId64 "}\n",
                WIRE_VERSION, seq, at);
    else {
        char when [64];
        printf ("%s hugz seq=%" PRIu64 "\n", time_format (at, when, sizeof when), seq);
    }
    self->printed++;
    fflush (stdout);
}

//  One alert of the snapshot: filtered as if its state were the event.
static void
s_print_alert (const alert_t *alert, void *arg)
{
    s_tap_t *self = arg;
    char topic [WIRE_MAX_TOPIC + 1];
    alert_topic (topic, sizeof topic, alert_state_name (alert->state), alert);
    if (s_enough (self) || !s_wanted (self, topic))
        return;
    if (self->json) {
        wire_writer_t writer;
        wire_writer_init (&writer);
        msgpack_pack_map (&writer.packer, 2);
        wire_pack_key_int (&writer.packer, "v", WIRE_VERSION);
        wire_pack_key (&writer.packer, "alert");
        alert_pack (&writer.packer, alert);
        s_print_packed ("snapshot", &writer);
        wire_writer_free (&writer);
    }
    else
        s_print_line (alert->changed_at, "snapshot", alert);
    self->printed++;
    fflush (stdout);
}

//  The end of --snapshot: on a failure, tap stops with the reason.
static void
s_snapshot_done (int rc, uint64_t seq, const char *error, void *arg)
{
    (void) seq;
    s_tap_t *self = arg;
    if (rc != 0) {
        self->snapshot_failed = true;
        snprintf (self->snapshot_error, sizeof self->snapshot_error, "%s", error);
    }
    fflush (stdout);
}

static int
s_follow (s_tap_t *self, change_feed_t *feed)
{
    while (!s_interrupted && !s_enough (self) && !self->snapshot_failed) {
        zmq_pollitem_t items [FEED_POLL_ITEMS];
        int count = change_feed_poll_items (feed, items, FEED_POLL_ITEMS);
        int64_t wait = change_feed_next_wakeup (feed, zclock_mono ());
        int ready = zmq_poll (items, count, wait < S_POLL_MS ? wait : S_POLL_MS);
        if (ready < 0 && zmq_errno () != EINTR)
            return cli_fail ("tap", "poll failed: %s", zmq_strerror (zmq_errno ()));
        if (!s_interrupted)
            change_feed_work (feed, zclock_mono (), s_deliver, self);
    }
    if (self->snapshot_failed)
        return cli_fail ("tap", "snapshot from %s: %s", self->control, self->snapshot_error);
    return CLI_EXIT_OK;
}

static int
s_tap_run (s_tap_t *self)
{
    char error [256];
    log_init ("lilac", false);     //  the feed's lines (gaps, silence) go to stderr
    if (signals_on_stop (s_on_signal))
        return cli_fail ("tap", "cannot catch signals: %s", strerror (errno));
    change_feed_config_t config = {
        .events = self->endpoint, .control = self->control,
        .cursor_file = NULL, .call_timeout_ms = self->timeout_ms
    };
    change_feed_t *feed = change_feed_new (&config, error, sizeof error);
    if (!feed)
        return cli_fail ("tap", "%s", error);
    change_feed_on_hugz (feed, s_on_hugz, self);
    int status = CLI_EXIT_OK;
    if (self->snapshot
    &&  change_feed_snapshot_start (feed, s_print_alert, s_snapshot_done, self) != 0)
        status = cli_fail ("tap", "a snapshot is already running");
    if (status == CLI_EXIT_OK)
        status = s_follow (self, feed);
    change_feed_destroy (&feed);
    return status;
}

int
cli_tap (cli_t *cli, int argc, char **argv)
{
    s_tap_t tap;
    memset (&tap, 0, sizeof tap);
    int status = s_tap_parse (&tap, argc, argv);
    if (status >= 0)
        return status;
    tap.endpoint = cli_endpoint (tap.endpoint, "LILAC_EVENTS", BUS_DEFAULT_PUBLISH);
    tap.control = cli_endpoint (tap.control ? tap.control : cli->control, "LILAC_CONTROL",
                                BUS_DEFAULT_CONTROL);
    if (tap.timeout_ms == 0)
        tap.timeout_ms = cli_timeout_ms (cli);
    return s_tap_run (&tap);
}
