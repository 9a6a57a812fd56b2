/*  test_cli_args.c — the `lilac` command's argument parsing, without a broker.

    Unit tests are linked with libcli, so this test calls the parsers
    through their headers: send's option grammar (send.h: -r and -c with an
    optional *separate* time argument, alert options only after an -i), the
    control commands' shared parser (control.h) and the input checks of
    options.c (cli.h). What goes on the wire is checked by decoding the
    packed batch with wire_batch_decode, the broker's own decoder.
*/
#include <czmq.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "../check.h"
#include "../../cli/cli.h"
#include "../../cli/control.h"
#include "../../cli/send.h"
#include "alert.h"
#include "mem.h"
#include "timespec.h"
#include "wire.h"

#define S_ARGC(array) ((int) (sizeof (array) / sizeof (array) [0]) - 1)

//  Parses a send command line into *send (zeroed first).
static int
s_parse_send (send_request_t *send, int argc, char **argv)
{
    memset (send, 0, sizeof *send);
    optind = 0;
    return send_parse (send, argc, argv);
}

static void
s_test_send_optional_times (void)
{
    TEST ("send: -r and -c take a separate time only when it is one");
    char *argv [] = { "send", "-i", "a", "-r", "-10s", "-i", "b", "-r", "-s", "S",
                      "-i", "c", "-c", "-i", "d", "--raise", "clear",
                      "-i", "e", "--raise=+5m", "-c", "1795000000", "-i", "f", "-r", NULL };
    send_request_t send;
    int rc = s_parse_send (&send, S_ARGC (argv), argv);
    if (!CHECK (rc == 0, "parse failed: %s", send.error))
        return;
    CHECK (send.alert_count == 6, "%zu alerts", send.alert_count);
    CHECK (streq (send.alerts [0].raise, "-10s"), "a raise %s", send.alerts [0].raise);
    CHECK (streq (send.alerts [1].raise, "now"), "b raise %s", send.alerts [1].raise);
    CHECK (streq (send.alerts [1].summary, "S"), "b summary");
    CHECK (streq (send.alerts [2].clear, "now") && !send.alerts [2].raise, "c clear");
    CHECK (streq (send.alerts [3].raise, "clear"), "d raise %s", send.alerts [3].raise);
    CHECK (streq (send.alerts [4].raise, "+5m"), "e raise");
    CHECK (streq (send.alerts [4].clear, "1795000000"), "e clear");
    CHECK (streq (send.alerts [5].raise, "now"), "f raise at the end");
    send_request_free (&send);
}

#define S_NOT_A_TIME "not a time (try now, +5m, 1h30m, +1w, clear, 2026-12-24T09:00, " \
                     "tomorrow 09:00 or epoch seconds)"

static void
s_test_send_errors (void)
{
    TEST ("send: a bad time, level, label or order is a usage error with a reason");
    struct {
        char *argv [8];
        const char *error;
    } cases [] = {
        { { "send", "-i", "a", "-r", "xyz", NULL },
          "-r: 'xyz': " S_NOT_A_TIME },
        { { "send", "-i", "a", "--raise=xyz", NULL },
          "-r: 'xyz': " S_NOT_A_TIME },
        { { "send", "-i", "a", "-e", "soon", NULL },
          "-e: 'soon': " S_NOT_A_TIME },
        { { "send", "-s", "S", "-i", "a", NULL },
          "-s comes before any -i ID (alert options apply to the -i before them)" },
        { { "send", "-i", "a", "-l", "high", NULL },
          "-l: 'high' is not a level (urgent, normal or low)" },
        { { "send", "-i", "a", "--label", "novalue", NULL },
          "--label: 'novalue' is not KEY=VALUE" },
        { { "send", "-o", "web1", NULL }, "nothing to send: give -i ID" },
        { { "send", "-i", "a", "stray", NULL }, "unexpected argument 'stray'" },
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        int argc = 0;
        while (cases [index].argv [argc])
            argc++;
        send_request_t send;
        int rc = s_parse_send (&send, argc, cases [index].argv);
        CHECK (rc == -1 && streq (send.error, cases [index].error),
               "case %zu: rc %d, error '%s'", index, rc, send.error);
        send_request_free (&send);
    }
}

static void
s_test_send_frame (void)
{
    TEST ("send: the packed batch decodes with the broker's decoder");
    char *argv [] = { "send", "-p", "-i", "disk", "-r", "+5m", "-l", "urgent",
                      "--label", "k=1", "--label", "k=2", "--label", "m=x",
                      "-s", "full", "-u", "box", "-d", "text", "-e", "+1h", NULL };
    send_request_t send;
    if (!CHECK (s_parse_send (&send, S_ARGC (argv), argv) == 0, "parse: %s", send.error))
        return;
    wire_writer_t writer;
    wire_writer_init (&writer);
    send_pack_batch (&writer, &send, "00112233445566778899aabbccddeeff", "web1");
    wire_batch_t batch = WIRE_BATCH_EMPTY;
    char error [WIRE_ERROR_SIZE] = "";
    int64_t now = clock_now_ms ();
    int rc = wire_batch_decode (writer.buffer.data, writer.buffer.size, now,
                                &batch, error, sizeof error);
    if (CHECK (rc == 0, "decode: %s", error)) {
        CHECK (batch.replace && streq (batch.source, "web1"), "source, replace");
        CHECK (batch.event_count == 1, "%zu events", batch.event_count);
        wire_event_t *event = &batch.events [0];
        CHECK (streq (event->id, "disk") && event->has_raise, "id, raise");
        CHECK (event->raise_at >= now + 299000 && event->raise_at <= now + 301000,
               "raise +5m resolved against the decoder's now");
        CHECK (event->level == LEVEL_URGENT, "level %d", event->level);
        CHECK (event->label_count == 2 && streq (event->labels [0].value, "2"),
               "a repeated label key replaces the value");
        CHECK (event->has_suppress && streq (event->subject, "box")
               && streq (event->summary, "full") && streq (event->detail, "text"),
               "other fields");
        wire_batch_free (&batch);
    }
    wire_writer_free (&writer);
    send_request_free (&send);
}

static void
s_test_control_parse (void)
{
    TEST ("control: positionals, -C after the command, --by and option sets");
    cli_t cli = { .control = "tcp://127.0.0.1:1" };
    control_args_t args;
    char *ack [] = { "ack", "web1", "disk", "--until", "+1h", "-C", "tcp://127.0.0.1:2",
                     "--note", "n", "--by", "alice", NULL };
    optind = 0;
    CHECK (control_args_parse (&args, "ack", &cli, S_ARGC (ack), ack) == -1, "ack parses");
    CHECK (streq (args.endpoint, "tcp://127.0.0.1:2"), "-C after the command wins");
    CHECK (streq (args.by, "alice") && streq (args.until, "+1h")
           && streq (args.positional [0], "web1") && streq (args.positional [1], "disk"),
           "ack arguments");
    CHECK (args.timeout_ms == CLI_DEFAULT_TIMEOUT_MS, "default deadline");

    char *list [] = { "list", "--state", "acknowledged", "--limit", "5", NULL };
    optind = 0;
    CHECK (control_args_parse (&args, "list", &cli, S_ARGC (list), list) == -1, "list parses");
    CHECK (streq (args.state, "acked") && args.limit == 5, "state normalized, limit");
    CHECK (streq (args.endpoint, "tcp://127.0.0.1:1"), "-C before the command");

    FILE *saved = stderr;
    FILE *quiet = fopen ("/dev/null", "w");
    if (!CHECK (quiet, "cannot open /dev/null"))
        return;
    stderr = quiet;                //  the usage texts
    char *get [] = { "get", "web1", NULL };
    optind = 0;
    CHECK (control_args_parse (&args, "get", &cli, S_ARGC (get), get) == CLI_EXIT_USAGE,
           "get needs 2");
    char *clear [] = { "clear", "a", "b", "--json", NULL };
    optind = 0;
    CHECK (control_args_parse (&args, "clear", &cli, S_ARGC (clear), clear) == CLI_EXIT_USAGE,
           "clear takes no --json");
    char *suppress [] = { "suppress", "a", "b", "later", NULL };
    optind = 0;
    CHECK (control_args_parse (&args, "suppress", &cli, S_ARGC (suppress), suppress)
           == CLI_EXIT_USAGE, "suppress checks its TIME");
    stderr = saved;
    fclose (quiet);
}

static void
s_test_helpers (void)
{
    TEST ("options: timeouts, counts, labels, endpoints");
    char error [256];
    int ms = 0;
    CHECK (cli_parse_timeout ("-t", "0.5", &ms, error, sizeof error) == 0 && ms == 500, "0.5 s");
    CHECK (cli_parse_timeout ("-t", "0", &ms, error, sizeof error) == -1, "0 s");
    CHECK (cli_parse_timeout ("-t", "5x", &ms, error, sizeof error) == -1, "junk");
    long count = 0;
    CHECK (cli_parse_count ("--limit", "10001", 1, 10000, &count, error, sizeof error) == -1,
           "over the limit");
    char *key = NULL, *value = NULL;
    CHECK (cli_parse_label ("--label", "a=b=c", &key, &value, error, sizeof error) == 0
           && streq (key, "a") && streq (value, "b=c"), "value may hold =");
    mem_free (key);
    mem_free (value);
    CHECK (streq (cli_endpoint ("x", "LILAC_TEST_UNSET_VARIABLE", "y"), "x"), "given");
    CHECK (streq (cli_endpoint (NULL, "LILAC_TEST_UNSET_VARIABLE", "y"), "y"), "fallback");
    CHECK (*cli_user_name () != '\0', "a user name");
}

int
main (void)
{
    s_test_send_optional_times ();
    s_test_send_errors ();
    s_test_send_frame ();
    s_test_control_parse ();
    s_test_helpers ();
    return check_done ();
}
