/*  tap.c — `lilac tap`: print the broker's changes as they are published.

    A SUB socket on the change bus, subscribed to each PREFIX given (or to
    everything). Each message must be two frames, [topic, body]; the body is
    checked with wire_doc_new and decoded with alert_change_decode (or, for
    `hugz`, read as {v, seq, at}) before anything is printed — the bus is
    input like any other, and a malformed message is reported on stderr and
    skipped. Output is one line per message, flushed at once so a pipe sees
    it: a human line, or with --json the body as JSON with "topic" first.

    When subscribed to everything, a jump in seq between change bodies is
    reported on stderr (changes were lost: the SUB queue overflowed, or the
    broker restarted), and so is a silence of S_QUIET_MS with no hugz.

    SIGINT and SIGTERM set a flag (czmq's handler is off, see main.c); the
    receive loop polls with a short timeout, so it stops within
    S_POLL_MS even if the signal lands between the check and the poll.
*/
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "alert.h"
#include "bus.h"
#include "cli.h"
#include "mem.h"
#include "timespec.h"
#include "wire.h"

#define S_POLL_MS   500            //  longest wait between two looks at the flag
#define S_QUIET_MS  5000           //  no hugz for this long: say so
#define S_OPTION_JSON  1000        //  getopt codes of the long-only options
#define S_OPTION_COUNT 1001
#define S_OPTION_HUGZ  1002

const char cli_tap_usage[] =
    "usage: lilac tap [-e EP] [--json] [--count N] [--hugz] [PREFIX...]\n"
    "\n"
    "Prints every change the broker publishes, one line each:\n"
    "TIME EVENT LEVEL SOURCE ID STATE SUMMARY. PREFIXes filter by topic\n"
    "(EVENT.LEVEL.SOURCE.ID, e.g. raised. or cleared.urgent.).\n"
    "\n"
    "  -e, --events EP   change endpoint (default $LILAC_EVENTS, else "
    "tcp://127.0.0.1:32742)\n"
    "      --json        print each body as JSON, with a \"topic\" key\n"
    "      --count N     stop after N lines\n"
    "      --hugz        show the broker's heartbeat (hugz) too\n";

static volatile sig_atomic_t s_interrupted;

static void
s_on_signal (int signal_number)
{
    (void) signal_number;
    s_interrupted = 1;
}

//  The parsed command line and the state of the stream.
typedef struct {
    const char *endpoint;          //  change endpoint
    bool json;                     //  --json
    long count;                    //  --count, 0 for no limit
    bool hugz;                     //  show hugz
    bool everything;               //  no prefix: subscribed to all topics
    char **prefixes;               //  borrowed from argv
    int prefix_count;
    long printed;                  //  lines printed so far
    uint64_t last_seq;             //  seq of the last change body, 0 none
    int64_t last_hugz;             //  when hugz last arrived (our clock)
    bool quiet_reported;           //  the current silence was reported
} s_tap_t;

static int
s_tap_parse (s_tap_t *self, int argc, char **argv)
{
    static const struct option long_options [] = {
        { "events", required_argument, NULL, 'e' },
        { "json", no_argument, NULL, S_OPTION_JSON },
        { "count", required_argument, NULL, S_OPTION_COUNT },
        { "hugz", no_argument, NULL, S_OPTION_HUGZ },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    char error [256];
    opterr = 0;
    int option;
    while ((option = getopt_long (argc, argv, ":e:h", long_options, NULL)) != -1) {
        switch (option) {
            case 'e': self->endpoint = optarg; break;
            case S_OPTION_JSON: self->json = true; break;
            case S_OPTION_HUGZ: self->hugz = true; break;
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
    self->everything = true;
    for (int index = 0; index < self->prefix_count; index++) {
        const char *prefix = self->prefixes [index];
        if (*prefix)
            self->everything = false;
        if (*prefix && strncmp ("hugz", prefix, strlen (prefix)) == 0)
            self->hugz = true;         //  asked for by name
    }
    return -1;
}

static int
s_subscribe (s_tap_t *self, zsock_t *sub)
{
    if (self->everything)
        zsock_set_subscribe (sub, "");
    else {
        for (int index = 0; index < self->prefix_count; index++)
            zsock_set_subscribe (sub, self->prefixes [index]);
        if (self->hugz)
            zsock_set_subscribe (sub, "hugz");
    }
    return 0;
}

//  Prints the body as JSON with "topic" as the first key.
static int
s_print_json (const char *topic, const msgpack_object *root)
{
    msgpack_object topic_object;
    memset (&topic_object, 0, sizeof topic_object);
    topic_object.type = MSGPACK_OBJECT_STR;
    topic_object.via.str.ptr = topic;
    topic_object.via.str.size = (uint32_t) strlen (topic);
    char *topic_json = wire_json (&topic_object);
    char *body_json = wire_json (root);
    int rc = -1;
    if (topic_json && body_json && body_json [0] == '{') {
        const char *rest = body_json + 1;
        printf ("{\"topic\":%s%s%s\n", topic_json, *rest == '}' ? "" : ",", rest);
        rc = 0;
    }
    mem_free (topic_json);
    mem_free (body_json);
    return rc;
}

static void
s_print_change (const alert_change_t *change)
{
    char when [64];
    const alert_t *alert = &change->alert;
    printf ("%s %s %s %s %s %s ", time_format (change->at, when, sizeof when),
            change->event, alert_level_name (alert->level), alert->source,
            alert->id, alert_state_name (alert->state));
    cli_print_plain (stdout, alert->summary ? alert->summary : "-");
    putchar ('\n');
}

//  Reports a jump or a step back in seq among change bodies.
static void
s_check_seq (s_tap_t *self, uint64_t seq)
{
    if (self->everything && self->last_seq) {
        if (seq > self->last_seq + 1)
            fprintf (stderr, "lilac tap: seq jumped from %" PRIu64 " to %" PRIu64
                     ": %" PRIu64 " changes missed\n",
                     self->last_seq, seq, seq - self->last_seq - 1);
        else
        if (seq <= self->last_seq)
            fprintf (stderr, "lilac tap: seq went back from %" PRIu64 " to %" PRIu64
                     " (a new broker database?)\n", self->last_seq, seq);
    }
    self->last_seq = seq;
}

//  Decodes and prints one body. Returns 0, or -1 with a reason in error.
static int
s_show (s_tap_t *self, const char *topic, const msgpack_object *root,
        char *error, size_t error_size)
{
    bool is_hugz = streq (topic, "hugz");
    if (is_hugz) {
        self->last_hugz = clock_now_ms ();
        self->quiet_reported = false;
        bool has_seq = false, has_at = false;
        int64_t seq = 0, at = 0;
        if (wire_get_int (root, "seq", &has_seq, &seq, error, error_size)
        ||  wire_get_int (root, "at", &has_at, &at, error, error_size))
            return -1;
        if (!has_seq || !has_at || seq < 0) {
            snprintf (error, error_size, "hugz without seq or at");
            return -1;
        }
        if (!self->hugz)
            return 0;
        if (self->json) {
            if (s_print_json (topic, root)) {
                snprintf (error, error_size, "cannot render as JSON");
                return -1;
            }
        }
        else {
            char when [64];
            printf ("%s hugz seq=%" PRId64 "\n", time_format (at, when, sizeof when), seq);
        }
        self->printed++;
        return 0;
    }
    alert_change_t change;
    memset (&change, 0, sizeof change);
    if (alert_change_decode (root, &change, error, error_size) != 0)
        return -1;
    s_check_seq (self, change.seq);
    int rc = 0;
    if (self->json) {
        if (s_print_json (topic, root)) {
            snprintf (error, error_size, "cannot render as JSON");
            rc = -1;
        }
    }
    else
        s_print_change (&change);
    if (rc == 0)
        self->printed++;
    alert_change_free (&change);
    return rc;
}

//  Receives one message (poll said it is there) and shows it.
static void
s_receive (s_tap_t *self, zsock_t *sub)
{
    zmsg_t *message = zmsg_recv (sub);
    if (!message)
        return;                    //  interrupted
    char topic [WIRE_MAX_TOPIC + 1] = "?";
    char error [WIRE_ERROR_SIZE] = "";
    zframe_t *topic_frame = zmsg_first (message);
    zframe_t *body_frame = zmsg_next (message);
    size_t topic_size = topic_frame ? zframe_size (topic_frame) : 0;
    if (zmsg_size (message) != 2)
        snprintf (error, sizeof error, "%zu frames, not 2", zmsg_size (message));
    else
    if (topic_size == 0 || topic_size > WIRE_MAX_TOPIC
    ||  memchr (zframe_data (topic_frame), '\0', topic_size)
    ||  !wire_utf8_valid ((const char *) zframe_data (topic_frame), topic_size))
        snprintf (error, sizeof error, "bad topic frame (%zu bytes)", topic_size);
    else {
        memcpy (topic, zframe_data (topic_frame), topic_size);
        topic [topic_size] = '\0';
        wire_doc_t *doc = wire_doc_new (zframe_data (body_frame), zframe_size (body_frame),
                                        error, sizeof error);
        if (doc)
            s_show (self, topic, wire_doc_root (doc), error, sizeof error);
        wire_doc_destroy (&doc);
    }
    if (*error) {
        fputs ("lilac tap: skipped a malformed message (topic '", stderr);
        cli_print_plain (stderr, topic);
        fprintf (stderr, "'): %s\n", error);
    }
    fflush (stdout);
    zmsg_destroy (&message);
}

static void
s_check_quiet (s_tap_t *self)
{
    if (!self->everything && !self->hugz)
        return;                    //  hugz are not subscribed
    int64_t now = clock_now_ms ();
    if (!self->quiet_reported && now - self->last_hugz > S_QUIET_MS) {
        fprintf (stderr, "lilac tap: no hugz from %s for %d s: is lilac-broker running?\n",
                 self->endpoint, S_QUIET_MS / 1000);
        self->quiet_reported = true;
    }
}

static int
s_tap_run (s_tap_t *self)
{
    char error [256];
    zsock_t *sub = bus_open (ZMQ_SUB, self->endpoint, BUS_CONNECT, error, sizeof error);
    if (!sub)
        return cli_fail ("tap", "%s", error);
    s_subscribe (self, sub);
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    if (sigaction (SIGINT, &action, NULL) || sigaction (SIGTERM, &action, NULL)) {
        zsock_destroy (&sub);
        return cli_fail ("tap", "cannot catch signals: %s", strerror (errno));
    }
    self->last_hugz = clock_now_ms ();
    int status = CLI_EXIT_OK;
    zmq_pollitem_t item = { zsock_resolve (sub), 0, ZMQ_POLLIN, 0 };
    while (!s_interrupted && (self->count == 0 || self->printed < self->count)) {
        int ready = zmq_poll (&item, 1, S_POLL_MS);
        if (ready < 0 && zmq_errno () != EINTR) {
            status = cli_fail ("tap", "poll failed: %s", zmq_strerror (zmq_errno ()));
            break;
        }
        if (ready > 0 && !s_interrupted)
            s_receive (self, sub);
        s_check_quiet (self);
    }
    zsock_destroy (&sub);
    return status;
}

int
cli_tap (cli_t *cli, int argc, char **argv)
{
    (void) cli;
    s_tap_t tap;
    memset (&tap, 0, sizeof tap);
    int status = s_tap_parse (&tap, argc, argv);
    if (status >= 0)
        return status;
    tap.endpoint = cli_endpoint (tap.endpoint, "LILAC_EVENTS", BUS_DEFAULT_PUBLISH);
    return s_tap_run (&tap);
}
