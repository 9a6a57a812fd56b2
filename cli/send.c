/*  send.c — `lilac send`: one batch of events, submitted and answered, or
    pushed.

    mauvesend's options, parsed with getopt_long in POSIX order ("+"): batch
    options (-b -o -p -t -v) may come anywhere, and each -i ID starts a new
    alert to which the alert options that follow it apply. -r and -c take
    an optional *separate* argument, which getopt cannot express: after
    either, the next element is consumed if it parses as a time spec
    ("-10s" included), else -r means "now" and -c "clear now".

    Everything is checked before a socket is opened: names, times, levels,
    labels, sizes; the packed frame is then run through wire_batch_decode,
    the broker's own decoder, so a frame the broker would reject never
    leaves. Times go out as the strings the user typed, because the broker
    resolves relative times against its receive time.

    Delivery, by default: a `submit` (architecture §10) through the typed control
    client (ctl.h) to -C (the broker's control endpoint, or an agent's
    local submit endpoint), waiting up to -t for the answer. Exit 0 only
    when the answer says every event was accepted: the broker answers after
    its commit, an agent once the events are on its disk. A refused batch or
    event prints the server's reason(s) and exits 1; no answer in time
    exits 1 too (the batch may or may not have been taken: sending it again
    is safe, the same tx is never applied twice within five minutes).

    --no-wait (or -b, which names a PUSH endpoint and so implies it): the
    old fire-and-forget. A PUSH socket with ZMQ_IMMEDIATE, so a message is
    only queued on a completed connection, and ZMQ_SNDTIMEO = -t: if no
    broker is connected within the deadline, the send fails with EAGAIN and
    we say so and exit 1. Linger is the same deadline, so a queued batch
    gets that long to reach the wire at exit; what happens to it after that
    nobody says.

    Limits: at most WIRE_MAX_BATCH alerts and BUS_MAX_MESSAGE bytes per batch.

    The parser and the packer are declared in send.h, so that the unit test
    (tests/unit/test_cli_args.c) calls them without a broker.
*/
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "alert.h"
#include "bus.h"
#include "cli.h"
#include "ctl.h"
#include "mem.h"
#include "send.h"
#include "timespec.h"
#include "wire.h"

#define S_OPTION_LABEL   1000         //  getopt code of --label (no short form)
#define S_OPTION_NO_WAIT 1001         //  getopt code of --no-wait

const char cli_send_usage[] =
    "usage: lilac send [-C EP | --no-wait [-b EP]] [-o SOURCE] [-p] [-t SECONDS] [-v]\n"
    "                  -i ID [-r [TIME]] [-c [TIME]] [-e TIME] [-s SUMMARY]\n"
    "                  [-u SUBJECT] [-d DETAIL] [-l LEVEL] [--label K=V]... [-i ID ...]\n"
    "\n"
    "Sends one batch of events. Each -i starts an alert; the options after it\n"
    "apply to that alert. By default the batch is submitted and lilac send\n"
    "waits for the answer: exit 0 only when every event was accepted (the\n"
    "broker answers once they are committed, an agent once they are on its\n"
    "disk); otherwise the reasons are printed and the exit status is 1.\n"
    "\n"
    "  -C, --control EP     where to submit: the broker's control endpoint, or an\n"
    "                       agent's submit endpoint (default $LILAC_CONTROL, else\n"
    "                       tcp://127.0.0.1:32743)\n"
    "      --no-wait        fire and forget: PUSH the batch, wait for nobody\n"
    "  -b, --broker EP      the PUSH endpoint, a broker's ingest or an agent's listen\n"
    "                       (implies --no-wait; default $LILAC_BROKER, else\n"
    "                       tcp://127.0.0.1:32741)\n"
    "  -o, --source NAME    who sends (default: the host name; with --cert, the\n"
    "                       source named in the certificate)\n"
    "  -p, --replace        clear every alert of this source not in the batch\n"
    "  -t, --timeout SECS   give up if no answer (--no-wait: no broker) in time (default 5)\n"
    "  -v, --verbose        print one line per alert sent\n"
    "  -i, --id ID          start an alert\n"
    "  -r, --raise [TIME]   raise at TIME (default now; 'clear' clears now)\n"
    "  -c, --clear [TIME]   clear at TIME (default now)\n"
    "  -e, --suppress TIME  no notifications until TIME\n"
    "  -s, --summary TEXT   one line for a phone\n"
    "  -u, --subject NAME   what it is about (default: the source)\n"
    "  -d, --detail TEXT    free text\n"
    "  -l, --level LEVEL    urgent, normal or low\n"
    "      --label K=V      a label (repeat for more)\n"
    "\n"
    "TIME: now, +5m, -10s, +2h, +1d, +90 (seconds), clear, or epoch seconds.\n";

//  Frees what parsing allocated: the alerts and their labels.
void
send_request_free (send_request_t *self)
{
    for (size_t index = 0; index < self->alert_count; index++)
        alert_free_labels (&self->alerts [index].labels, &self->alerts [index].label_count);
    mem_free (self->alerts);
    self->alerts = NULL;
    self->alert_count = 0;
}

static int
s_add_alert (send_request_t *self, const char *id)
{
    if (cli_check_name ("-i", id, self->error, sizeof self->error))
        return -1;
    if (self->alert_count >= WIRE_MAX_BATCH) {
        snprintf (self->error, sizeof self->error,
                  "-i: more than %d alerts in one batch", WIRE_MAX_BATCH);
        return -1;
    }
    self->alerts = mem_realloc (self->alerts,
                                (self->alert_count + 1) * sizeof (send_alert_t));
    send_alert_t *alert = &self->alerts [self->alert_count++];
    memset (alert, 0, sizeof *alert);
    alert->id = id;
    return 0;
}

//  A repeated key replaces the earlier value.
static int
s_add_label (send_request_t *self, send_alert_t *alert, const char *text)
{
    char *key, *value;
    if (cli_parse_label ("--label", text, &key, &value, self->error, sizeof self->error))
        return -1;
    for (size_t index = 0; index < alert->label_count; index++)
        if (streq (alert->labels [index].key, key)) {
            mem_free (alert->labels [index].value);
            alert->labels [index].value = value;
            mem_free (key);
            return 0;
        }
    if (alert->label_count >= WIRE_MAX_LABELS) {
        snprintf (self->error, sizeof self->error,
                  "--label: more than %d labels on alert '%s'", WIRE_MAX_LABELS, alert->id);
        mem_free (key);
        mem_free (value);
        return -1;
    }
    alert->labels = mem_realloc (alert->labels,
                                 (alert->label_count + 1) * sizeof (wire_label_t));
    alert->labels [alert->label_count].key = key;
    alert->labels [alert->label_count].value = value;
    alert->label_count++;
    return 0;
}

//  -r / -c: the value attached (--raise=X, -rX) must be a time; else the
//  next element is taken if it is one, else `fallback`.
static int
s_optional_time (send_request_t *self, const char *what, int argc, char **argv,
                 const char *fallback, const char **value)
{
    if (optarg) {
        *value = optarg;
        return cli_check_time (what, optarg, self->error, sizeof self->error);
    }
    int64_t when;
    if (optind < argc && time_spec_parse (argv [optind], clock_now_ms (), &when) >= 0) {
        *value = argv [optind++];
        return cli_check_time (what, argv [optind - 1], self->error, sizeof self->error);
    }
    *value = fallback;
    return 0;
}

static const char *
s_option_name (int option)
{
    switch (option) {
        case 'r': return "-r";
        case 'c': return "-c";
        case 'e': return "-e";
        case 's': return "-s";
        case 'u': return "-u";
        case 'd': return "-d";
        case 'l': return "-l";
        case S_OPTION_LABEL: return "--label";
        default: return "?";
    }
}

//  One option that applies to the current alert.
static int
s_alert_option (send_request_t *self, int option, int argc, char **argv)
{
    if (self->alert_count == 0) {
        snprintf (self->error, sizeof self->error,
                  "%s comes before any -i ID (alert options apply to the -i before them)",
                  s_option_name (option));
        return -1;
    }
    send_alert_t *alert = &self->alerts [self->alert_count - 1];
    char *error = self->error;
    size_t size = sizeof self->error;
    switch (option) {
        case 'r':
            return s_optional_time (self, "-r", argc, argv, "now", &alert->raise);
        case 'c':
            return s_optional_time (self, "-c", argc, argv, "now", &alert->clear);
        case 'e':
            alert->suppress = optarg;
            return cli_check_time ("-e", optarg, error, size);
        case 's':
            alert->summary = optarg;
            return cli_check_text ("-s", optarg, WIRE_MAX_SUMMARY, error, size);
        case 'u':
            alert->subject = optarg;
            return cli_check_name ("-u", optarg, error, size);
        case 'd':
            alert->detail = optarg;
            return cli_check_text ("-d", optarg, WIRE_MAX_DETAIL, error, size);
        case 'l':
            alert->level = optarg;
            return cli_check_level ("-l", optarg, error, size);
        case S_OPTION_LABEL:
            return s_add_label (self, alert, optarg);
        default:
            snprintf (error, size, "unknown option");
            return -1;
    }
}

//  Parses argv (argv[0] is "send") into self. Returns 0, or -1 with the
//  reason in self->error (a usage error). self->help is set for -h.
int
send_parse (send_request_t *self, int argc, char **argv)
{
    static const struct option long_options [] = {
        { "broker", required_argument, NULL, 'b' },
        { "control", required_argument, NULL, 'C' },
        { "no-wait", no_argument, NULL, S_OPTION_NO_WAIT },
        { "source", required_argument, NULL, 'o' },
        { "replace", no_argument, NULL, 'p' },
        { "timeout", required_argument, NULL, 't' },
        { "verbose", no_argument, NULL, 'v' },
        { "id", required_argument, NULL, 'i' },
        { "raise", optional_argument, NULL, 'r' },
        { "clear", optional_argument, NULL, 'c' },
        { "suppress", required_argument, NULL, 'e' },
        { "summary", required_argument, NULL, 's' },
        { "subject", required_argument, NULL, 'u' },
        { "detail", required_argument, NULL, 'd' },
        { "level", required_argument, NULL, 'l' },
        { "label", required_argument, NULL, S_OPTION_LABEL },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    opterr = 0;
    int peeked = -1;               //  element looked at after -r/-c and left
    const char *peeked_by = NULL;  //  ... by which option
    int option;
    while ((option = getopt_long (argc, argv, "+:b:C:o:pt:vi:r::c::e:s:u:d:l:h",
                                  long_options, NULL)) != -1) {
        int rc = 0;
        switch (option) {
            case 'b': self->endpoint = optarg; self->no_wait = true; break;
            case 'C': self->control = optarg; break;
            case S_OPTION_NO_WAIT: self->no_wait = true; break;
            case 'o':
                self->source = optarg;
                rc = cli_check_name ("-o", optarg, self->error, sizeof self->error);
                break;
            case 'p': self->replace = true; break;
            case 't':
                rc = cli_parse_timeout ("-t", optarg, &self->timeout_ms,
                                        self->error, sizeof self->error);
                break;
            case 'v': self->verbose = true; break;
            case 'h': self->help = true; return 0;
            case 'i': rc = s_add_alert (self, optarg); break;
            case '?':
            case ':':
                self->getopt_failure = option;     //  see cli_option_error
                return -1;
            default:
                if ((option == 'r' || option == 'c') && !optarg) {
                    int before = optind;
                    rc = s_alert_option (self, option, argc, argv);
                    if (rc == 0 && optind == before) {
                        peeked = optind;
                        peeked_by = option == 'r' ? "-r" : "-c";
                    }
                }
                else
                    rc = s_alert_option (self, option, argc, argv);
                break;
        }
        if (rc)
            return -1;
    }
    if (optind < argc) {
        if (optind == peeked)
            cli_check_time (peeked_by, argv [optind], self->error, sizeof self->error);
        else
            snprintf (self->error, sizeof self->error,
                      "unexpected argument '%s'", argv [optind]);
        return -1;
    }
    if (self->alert_count == 0) {
        snprintf (self->error, sizeof self->error, "nothing to send: give -i ID");
        return -1;
    }
    if (self->no_wait && self->control) {
        snprintf (self->error, sizeof self->error, "-C submits and waits; --no-wait (and -b) "
                  "push: give one or the other");
        return -1;
    }
    return 0;
}

static void
s_pack_time (msgpack_packer *packer, const char *key, const char *spec)
{
    if (spec)
        wire_pack_key_string (packer, key, spec);
}

static void
s_pack_alert (msgpack_packer *packer, const send_alert_t *alert)
{
    const char *optional [] = { alert->raise, alert->clear, alert->suppress,
                                alert->subject, alert->summary, alert->detail,
                                alert->level };
    size_t entries = 1 + (alert->label_count > 0);
    for (size_t index = 0; index < sizeof optional / sizeof optional [0]; index++)
        entries += optional [index] != NULL;
    msgpack_pack_map (packer, entries);
    wire_pack_key_string (packer, "id", alert->id);
    s_pack_time (packer, "raise", alert->raise);
    s_pack_time (packer, "clear", alert->clear);
    s_pack_time (packer, "suppress", alert->suppress);
    if (alert->subject)
        wire_pack_key_string (packer, "subject", alert->subject);
    if (alert->summary)
        wire_pack_key_string (packer, "summary", alert->summary);
    if (alert->detail)
        wire_pack_key_string (packer, "detail", alert->detail);
    if (alert->level)
        wire_pack_key_string (packer, "level", alert->level);
    if (alert->label_count > 0) {
        wire_pack_key (packer, "labels");
        msgpack_pack_map (packer, alert->label_count);
        for (size_t index = 0; index < alert->label_count; index++) {
            wire_pack_string (packer, alert->labels [index].key);
            wire_pack_string (packer, alert->labels [index].value);
        }
    }
}

//  The whole request as one ingest frame (see wire.h).
void
send_pack_batch (wire_writer_t *writer, const send_request_t *self, const char *tx,
                 const char *source)
{
    msgpack_packer *packer = &writer->packer;
    msgpack_pack_map (packer, source ? 6 : 5);
    wire_pack_key_int (packer, "v", WIRE_VERSION);
    wire_pack_key_string (packer, "tx", tx);
    if (source)                 //  none: the broker takes the certificate's
        wire_pack_key_string (packer, "source", source);
    wire_pack_key_bool (packer, "replace", self->replace);
    wire_pack_key_int (packer, "sent", clock_now_ms ());
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, self->alert_count);
    for (size_t index = 0; index < self->alert_count; index++)
        s_pack_alert (packer, &self->alerts [index]);
}

//  The source: -o, else with CURVE none (the broker uses the certificate's),
//  else the host name (which must be a valid name too).
static int
s_source (const send_request_t *self, char *host, size_t size, const char **source)
{
    if (self->source || bus_secured ()) {
        *source = self->source;
        return 0;
    }
    if (gethostname (host, size) != 0)
        return cli_fail ("send", "cannot read the host name (%s): give -o SOURCE",
                         strerror (errno));
    host [size - 1] = '\0';
    if (!wire_name_valid (host))
        return cli_fail ("send", "the host name '%s' is not a valid source: give -o SOURCE",
                         host);
    *source = host;
    return 0;
}

//  Hands the frame to a connected broker within the deadline. A refused
//  connection or a failed handshake ends the wait at once, said by name.
static int
s_deliver (const char *endpoint, const void *data, size_t size, int timeout_ms)
{
    char error [512];
    if (bus_endpoint_probe (endpoint, error, sizeof error))
        return cli_fail ("send", "%s", error);
    zsock_t *push = bus_open (ZMQ_PUSH, endpoint, BUS_CONNECT_IMMEDIATE, error, sizeof error);
    zsock_t *monitor = push ? bus_watch (push, error, sizeof error) : NULL;
    if (!monitor) {
        zsock_destroy (&push);
        return cli_fail ("send", "%s", error);
    }
    //  Once handed over, closing waits up to the deadline for libzmq to write it out.
    zsock_set_linger (push, timeout_ms);
    int status = -1;
    int64_t deadline = zclock_mono () + timeout_ms;
    while (status < 0) {
        if (zmq_send (zsock_resolve (push), data, size, ZMQ_DONTWAIT) >= 0)
            status = CLI_EXIT_OK;
        else
        if (zmq_errno () != EAGAIN)
            status = cli_fail ("send", "sending to %s failed: %s", endpoint,
                               zmq_strerror (zmq_errno ()));
        else
        if (zclock_mono () >= deadline)
            status = cli_fail ("send", "could not hand the batch to a broker at %s within "
                               "%g s: is lilac-broker running?", endpoint, timeout_ms / 1000.0);
        else {
            zmq_pollitem_t items [] = { { zsock_resolve (push), 0, ZMQ_POLLOUT, 0 },
                                        { zsock_resolve (monitor), 0, ZMQ_POLLIN, 0 } };
            if (zmq_poll (items, 2, (long) (deadline - zclock_mono ())) > 0
            &&  (items [1].revents & ZMQ_POLLIN)
            &&  bus_watch_failure (monitor, endpoint, deadline - timeout_ms, error, sizeof error))
                status = cli_fail ("send", "%s", error);
        }
    }
    zsock_destroy (&monitor);
    zsock_destroy (&push);
    return status;
}

//  Prints what the answer refused; returns the exit status it means.
static int
s_answered (const send_request_t *self, const ctl_submit_reply_t *reply)
{
    if (!reply->ok) {
        fputs ("lilac send: refused: ", stderr);
        cli_print_plain (stderr, reply->error);     //  the server's words: outside input
        fputc ('\n', stderr);
        return CLI_EXIT_FAILURE;
    }
    for (size_t index = 0; index < reply->refused_count && index < CTL_MAX_REFUSED; index++) {
        const ctl_refusal_t *refusal = &reply->refused [index];
        fprintf (stderr, "lilac send: refused alert %lld (", (long long) refusal->index + 1);
        cli_print_plain (stderr, refusal->id);
        fputs ("): ", stderr);
        cli_print_plain (stderr, refusal->reason);
        fputc ('\n', stderr);
    }
    if (reply->refused_count > CTL_MAX_REFUSED)
        fprintf (stderr, "lilac send: ... and %zu more refused\n",
                 reply->refused_count - CTL_MAX_REFUSED);
    if (reply->refused_count || reply->accepted != (int64_t) self->alert_count) {
        if (!reply->refused_count)
            fprintf (stderr, "lilac send: %lld of %zu alerts accepted\n",
                     (long long) reply->accepted, self->alert_count);
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

//  Submits the frame to the control endpoint and waits for the answer.
static int
s_submit (const send_request_t *self, const void *data, size_t size)
{
    char error [WIRE_ERROR_SIZE + 512];
    ctl_t *ctl = cli_ctl_open (self->control, self->timeout_ms, error, sizeof error);
    if (!ctl)
        return cli_fail ("send", "%s", error);
    ctl_submit_reply_t reply;
    ctl_failure_t failure;
    int status;
    if (ctl_submit (ctl, data, size, &reply, &failure, error, sizeof error) == 0)
        status = s_answered (self, &reply);
    else
        status = cli_fail ("send", "%s", error);
    ctl_destroy (&ctl);
    return status;
}

static void
s_print_sent (const send_request_t *self, const char *tx, const char *source)
{
    for (size_t index = 0; index < self->alert_count; index++) {
        const send_alert_t *alert = &self->alerts [index];
        printf ("%s %s %s tx=%s", self->no_wait ? "sent" : "accepted",
                source ? source : "(the certificate's source)", alert->id, tx);
        if (alert->raise)
            printf (" raise=%s", alert->raise);
        if (alert->clear)
            printf (" clear=%s", alert->clear);
        if (alert->suppress)
            printf (" suppress=%s", alert->suppress);
        if (alert->level)
            printf (" level=%s", alert->level);
        putchar ('\n');
    }
    fflush (stdout);
}

//  Packs, checks and sends the parsed batch.
static int
s_send_run (const send_request_t *self)
{
    char host [WIRE_MAX_NAME + 2] = "";
    const char *source = NULL;
    int status = s_source (self, host, sizeof host, &source);
    if (status != CLI_EXIT_OK)
        return status;
    char tx [WIRE_TX_SIZE] = "";
    if (wire_make_tx (tx, sizeof tx) != 0)
        return cli_fail ("send", "cannot read random bytes: %s", strerror (errno));
    wire_writer_t writer;
    wire_writer_init (&writer);
    send_pack_batch (&writer, self, tx, source);
    size_t size = writer.buffer.size;
    wire_batch_t check = WIRE_BATCH_EMPTY;
    char error [WIRE_ERROR_SIZE];
    if (size > BUS_MAX_MESSAGE) {
        fprintf (stderr, "lilac send: the batch is %zu bytes, more than a broker "
                 "takes (%d): send fewer or shorter alerts\n", size, BUS_MAX_MESSAGE);
        status = CLI_EXIT_USAGE;
    }
    else
    if (wire_batch_decode (writer.buffer.data, size, clock_now_ms (), &check,
                           error, sizeof error) != 0) {
        fprintf (stderr, "lilac send: the broker would refuse this batch: %s\n", error);
        status = CLI_EXIT_USAGE;
    }
    else {
        status = self->no_wait
               ? s_deliver (self->endpoint, writer.buffer.data, size, self->timeout_ms)
               : s_submit (self, writer.buffer.data, size);
        if (status == CLI_EXIT_OK && self->verbose)
            s_print_sent (self, tx, source);
    }
    wire_batch_free (&check);
    wire_writer_free (&writer);
    return status;
}

int
cli_send (cli_t *cli, int argc, char **argv)
{
    send_request_t send;
    memset (&send, 0, sizeof send);
    send.timeout_ms = cli_timeout_ms (cli);
    int status;
    if (send_parse (&send, argc, argv) != 0) {
        if (send.getopt_failure)
            status = cli_option_error ("send", cli_send_usage, send.getopt_failure,
                                       argc, argv);
        else
            status = cli_usage_error ("send", cli_send_usage, "%s", send.error);
    }
    else
    if (send.help) {
        fputs (cli_send_usage, stdout);
        status = CLI_EXIT_OK;
    }
    else {
        if (!send.endpoint && cli->broker) {        //  `lilac -b EP send ...`
            send.endpoint = cli->broker;
            send.no_wait = true;
        }
        send.endpoint = cli_endpoint (send.endpoint, "LILAC_BROKER", BUS_DEFAULT_INGEST);
        send.control = cli_endpoint (send.control ? send.control : cli->control,
                                     "LILAC_CONTROL", BUS_DEFAULT_CONTROL);
        status = s_send_run (&send);
    }
    send_request_free (&send);
    return status;
}
