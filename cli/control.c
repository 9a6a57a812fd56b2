/*  control.c — the control-socket commands: list get history ack unack clear
    suppress stats.

    Each is one request and one reply through the typed control client
    (ctl.h), which never hangs:
    no reply within the deadline (-t, default 5 s) is an error and exit 1.
    One table (s_commands) says which options and how many positional
    arguments each command takes, so they share a single parser; every
    argument is checked locally first (names, globs, times with
    time_spec_parse, the note's length) and times go out as the text the
    user typed, for the broker to resolve.
    That parser is declared in control.h as control_args_parse(), so that
    the unit test (tests/unit/test_cli_args.c) calls it without a broker.

    The reply is untrusted input like any frame: it is checked with
    wire_doc_new and read with the typed getters and alert_decode before a
    byte is printed. `ok: false` prints the broker's error sentence as
    "lilac CMD: ..." and exits 1. --json prints the relevant part of the
    reply as rendered by json_text_from_msgpack (json.h; a list is a JSON
    array).
*/
#include <assert.h>
#include <czmq.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "alert.h"
#include "bus.h"
#include "ctl.h"
#include "cli.h"
#include "control.h"
#include "json.h"
#include "mem.h"
#include "timespec.h"
#include "wire.h"

#define S_MAX_COLUMN       40      //  widest SOURCE / ID column in a list

//  Options a command may take (bits), beyond -C, -t and -h.
enum {
    S_JSON = 1 << 0, S_STATE = 1 << 1, S_SOURCE = 1 << 2, S_ID = 1 << 3,
    S_LIMIT = 1 << 4, S_UNTIL = 1 << 5, S_BY = 1 << 6, S_NOTE = 1 << 7, S_BEFORE = 1 << 8,
    S_ALL = 1 << 9, S_UTC = 1 << 10
};

//  getopt codes of the long-only options.
enum {
    S_OPTION_JSON = 1000, S_OPTION_STATE, S_OPTION_SOURCE, S_OPTION_ID,
    S_OPTION_LIMIT, S_OPTION_UNTIL, S_OPTION_BY, S_OPTION_NOTE, S_OPTION_BEFORE,
    S_OPTION_ALL, S_OPTION_UTC
};

//  What `lilac list` shows without --state or --all: what needs attention.
#define S_OPEN_STATES  "raised,acked,pending"

const char cli_list_usage[] =
    "usage: lilac [-C EP] [-t SECS] list [--state S[,S...]] [--all] [--source GLOB]\n"
    "                                  [--id GLOB] [--limit N] [--utc] [--json]\n"
    "\n"
    "Lists the open alerts (raised, acked, pending), raised first, then by\n"
    "level and the oldest first: STATE LEVEL SOURCE ID SUBJECT SINCE ACKED-BY\n"
    "SUMMARY, times in local time ($TZ).\n"
    "  --state S,...   only these: pending, raised, acked, cleared\n"
    "  --all           every alert, cleared ones too\n"
    "  --utc           times in UTC\n"
    "  --source GLOB   only these sources\n"
    "  --id GLOB       only these ids\n"
    "  --limit N       at most N alerts (default 1000, at most 10000)\n"
    "  --json          a JSON array of alerts\n"
    "  -C EP           control endpoint (default $LILAC_CONTROL, else "
    "tcp://127.0.0.1:32743)\n"
    "  -t SECS         deadline for the reply (default 5)\n";

const char cli_get_usage[] =
    "usage: lilac [-C EP] [-t SECS] get SOURCE ID [--utc] [--json]\n"
    "\n"
    "Shows one alert, one field a line (times in local time, $TZ; --utc for\n"
    "UTC), or as one JSON object with --json.\n";

const char cli_history_usage[] =
    "usage: lilac [-C EP] [-t SECS] history SOURCE ID [--limit N] [--before SEQ] [--json]\n"
    "\n"
    "One alert's changes, newest first: SEQ TIME EVENT STATE SUMMARY.\n"
    "  --limit N       at most N changes (default 100, at most 1000)\n"
    "  --before SEQ    only changes older than SEQ (the next page: stderr says which)\n"
    "  --json          a JSON array of change bodies\n";

const char cli_ack_usage[] =
    "usage: lilac [-C EP] [-t SECS] ack SOURCE ID [--until TIME] [--by NAME] [--note TEXT]\n"
    "\n"
    "Acknowledges a raised alert, for ever or until TIME (now, +5m, +2h, +1d,\n"
    "epoch seconds). --by defaults to $USER; a secured broker records the act\n"
    "under the certificate's name instead (except a gateway's: README \"Security\").\n";

const char cli_unack_usage[] =
    "usage: lilac [-C EP] [-t SECS] unack SOURCE ID [--by NAME]\n"
    "\n"
    "Drops the acknowledgement: the alert is raised again.\n";

const char cli_clear_usage[] =
    "usage: lilac [-C EP] [-t SECS] clear SOURCE ID [--by NAME]\n"
    "\n"
    "Clears an alert now.\n";

const char cli_delete_usage[] =
    "usage: lilac [-C EP] [-t SECS] delete SOURCE ID [--by NAME]\n"
    "\n"
    "Deletes a cleared alert now, instead of at the end of the retention (an\n"
    "admin's act): its row goes and a `deleted` change is published, so mirrors\n"
    "drop it; its history rows go with the retention. A raised, acked or\n"
    "pending alert is refused: clear it first.\n";

const char cli_suppress_usage[] =
    "usage: lilac [-C EP] [-t SECS] suppress SOURCE ID TIME\n"
    "\n"
    "No notifications for the alert until TIME (+2h, epoch seconds...);\n"
    "`now` lifts the suppression.\n";

const char cli_ping_usage[] =
    "usage: lilac [-C EP] [-t SECS] ping [--json]\n"
    "\n"
    "Asks the broker (or an agent's submit endpoint) whether it is there:\n"
    "`pong from EP in N ms: seq N`. Exit 0 when it answers and is healthy; 1\n"
    "when it does not answer within -t, or answers that it is degraded (its\n"
    "writes fail), with the reason.\n";

const char cli_stats_usage[] =
    "usage: lilac [-C EP] [-t SECS] stats [--json]\n"
    "\n"
    "The broker's counters, one `name value` a line, or one JSON object.\n";

//  What a command takes.
struct control_command {
    const char *name;              //  subcommand
    const char *usage;             //  its usage text
    unsigned options;              //  S_* bits
    int positionals;               //  exact count of positional arguments
};

static const control_command_t s_list = { "list", cli_list_usage,
                                          S_JSON | S_STATE | S_SOURCE | S_ID | S_LIMIT
                                          | S_ALL | S_UTC, 0 };
static const control_command_t s_get = { "get", cli_get_usage, S_JSON | S_UTC, 2 };
static const control_command_t s_history = { "history", cli_history_usage,
                                             S_JSON | S_LIMIT | S_BEFORE, 2 };
static const control_command_t s_ack = { "ack", cli_ack_usage, S_UNTIL | S_BY | S_NOTE, 2 };
static const control_command_t s_unack = { "unack", cli_unack_usage, S_BY, 2 };
static const control_command_t s_clear = { "clear", cli_clear_usage, S_BY, 2 };
static const control_command_t s_suppress = { "suppress", cli_suppress_usage, 0, 3 };
static const control_command_t s_delete = { "delete", cli_delete_usage, S_BY, 2 };
static const control_command_t s_stats = { "stats", cli_stats_usage, S_JSON, 0 };
static const control_command_t s_ping = { "ping", cli_ping_usage, S_JSON, 0 };

//  The table, for control_args_parse to find a command by name.
static const control_command_t *const s_commands [] = {
    &s_list, &s_get, &s_history, &s_ack, &s_unack, &s_clear, &s_suppress, &s_stats, &s_ping,
    &s_delete
};

//  --state: state names, comma-separated (or the option repeated), sent in
//  the canonical form ("acknowledged" is "acked"), each once.
static int
s_check_state (control_args_t *self, const char *text, char *error, size_t error_size)
{
    unsigned states;
    char why [128];
    if (alert_states_parse (text, &states, why, sizeof why)) {
        snprintf (error, error_size, "--state: %s", why);
        return -1;
    }
    for (alert_state_t state = ALERT_PENDING; state <= ALERT_CLEARED; state++) {
        const char *name = alert_state_name (state);
        if ((states & (1u << state)) && !strstr (self->state, name)) {
            size_t used = strlen (self->state);
            snprintf (self->state + used, sizeof self->state - used, "%s%s",
                      used ? "," : "", name);
        }
    }
    return 0;
}

//  One option. Returns 0, or -1 with a reason in error.
static int
s_take_option (control_args_t *self, int option, char *error, size_t error_size)
{
    switch (option) {
        case 'C': self->endpoint = optarg; return 0;
        case 't': return cli_parse_timeout ("-t", optarg, &self->timeout_ms, error, error_size);
        case S_OPTION_JSON: self->json = true; return 0;
        case S_OPTION_ALL: self->all = true; return 0;
        case S_OPTION_UTC: self->utc = true; return 0;
        case S_OPTION_STATE: return s_check_state (self, optarg, error, error_size);
        case S_OPTION_SOURCE:
            self->source_glob = optarg;
            return cli_check_text ("--source", optarg, WIRE_MAX_NAME, error, error_size);
        case S_OPTION_ID:
            self->id_glob = optarg;
            return cli_check_text ("--id", optarg, WIRE_MAX_NAME, error, error_size);
        case S_OPTION_LIMIT:
            return cli_parse_count ("--limit", optarg, 1, 10000, &self->limit,
                                    error, error_size);
        case S_OPTION_UNTIL:
            self->until = optarg;
            return cli_check_time ("--until", optarg, error, error_size);
        case S_OPTION_BY:
            self->by = optarg;
            return cli_check_name ("--by", optarg, error, error_size);
        case S_OPTION_NOTE:
            self->note = optarg;
            return cli_check_text ("--note", optarg, WIRE_MAX_NOTE, error, error_size);
        case S_OPTION_BEFORE:
            return cli_parse_count ("--before", optarg, 1, LONG_MAX, &self->before,
                                    error, error_size);
        default:
            snprintf (error, error_size, "unknown option");
            return -1;
    }
}

static bool
s_option_allowed (const control_command_t *command, int option)
{
    static const int bits [] = { S_JSON, S_STATE, S_SOURCE, S_ID, S_LIMIT,
                                 S_UNTIL, S_BY, S_NOTE, S_BEFORE, S_ALL, S_UTC };
    if (option < S_OPTION_JSON || option > S_OPTION_UTC)
        return true;               //  -C, -t
    return (command->options & (unsigned) bits [option - S_OPTION_JSON]) != 0;
}

//  The positional arguments: SOURCE ID [TIME].
static int
s_take_positionals (control_args_t *self, int argc, char **argv, char *error, size_t error_size)
{
    const control_command_t *command = self->command;
    if (argc - optind != command->positionals) {
        snprintf (error, error_size, "expected %s, got %d argument%s",
                  command->positionals == 0 ? "no arguments"
                  : command->positionals == 2 ? "SOURCE ID" : "SOURCE ID TIME",
                  argc - optind, argc - optind == 1 ? "" : "s");
        return -1;
    }
    for (int index = 0; index < command->positionals; index++)
        self->positional [index] = argv [optind + index];
    if (command->positionals >= 2
    &&  (cli_check_name ("SOURCE", self->positional [0], error, error_size)
    ||   cli_check_name ("ID", self->positional [1], error, error_size)))
        return -1;
    if (command->positionals == 3)
        return cli_check_time ("TIME", self->positional [2], error, error_size);
    return 0;
}

//  Parses argv (argv[0] is the command) into self, zeroed first. Returns
//  -1 to go on, else an exit status (0 after --help, 2 on wrong usage).
static int
s_args_parse (control_args_t *self, const control_command_t *command, const cli_t *cli,
              int argc, char **argv)
{
    static const struct option long_options [] = {
        { "control", required_argument, NULL, 'C' },
        { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { "json", no_argument, NULL, S_OPTION_JSON },
        { "state", required_argument, NULL, S_OPTION_STATE },
        { "source", required_argument, NULL, S_OPTION_SOURCE },
        { "id", required_argument, NULL, S_OPTION_ID },
        { "limit", required_argument, NULL, S_OPTION_LIMIT },
        { "until", required_argument, NULL, S_OPTION_UNTIL },
        { "by", required_argument, NULL, S_OPTION_BY },
        { "note", required_argument, NULL, S_OPTION_NOTE },
        { "before", required_argument, NULL, S_OPTION_BEFORE },
        { "all", no_argument, NULL, S_OPTION_ALL },
        { "utc", no_argument, NULL, S_OPTION_UTC },
        { NULL, 0, NULL, 0 }
    };
    memset (self, 0, sizeof *self);
    self->command = command;
    self->endpoint = cli->control;
    self->timeout_ms = cli_timeout_ms (cli);
    char error [512];
    opterr = 0;
    int option;
    while ((option = getopt_long (argc, argv, ":C:t:h", long_options, NULL)) != -1) {
        if (option == 'h') {
            fputs (command->usage, stdout);
            return CLI_EXIT_OK;
        }
        if (option == '?' || option == ':')
            return cli_option_error (command->name, command->usage, option, argc, argv);
        if (!s_option_allowed (command, option))
            return cli_usage_error (command->name, command->usage,
                                    "unknown option '%s'", argv [optind - 1]);
        if (s_take_option (self, option, error, sizeof error))
            return cli_usage_error (command->name, command->usage, "%s", error);
    }
    if (s_take_positionals (self, argc, argv, error, sizeof error))
        return cli_usage_error (command->name, command->usage, "%s", error);
    self->endpoint = cli_endpoint (self->endpoint, "LILAC_CONTROL", BUS_DEFAULT_CONTROL);
    if (!self->by)
        self->by = cli_user_name ();
    if ((command->options & S_BY) && cli_check_name ("--by", self->by, error, sizeof error))
        return cli_usage_error (command->name, command->usage,
                                "%s: give --by NAME", error);
    return -1;
}

int
control_args_parse (control_args_t *self, const char *name, const cli_t *cli,
                    int argc, char **argv)
{
    const control_command_t *command = NULL;
    for (size_t index = 0; index < sizeof s_commands / sizeof s_commands [0]; index++)
        if (streq (s_commands [index]->name, name))
            command = s_commands [index];
    assert (command);              //  a name from the table, never user input
    return s_args_parse (self, command, cli, argc, argv);
}

//  --- request and reply -----------------------------------------------------

//  The command's request through the typed client.
static wire_doc_t *
s_request (const control_args_t *self, ctl_t *ctl, ctl_failure_t *failure,
           char *error, size_t error_size)
{
    const control_command_t *command = self->command;
    if (command == &s_list) {
        const char *states = *self->state ? self->state : self->all ? NULL : S_OPEN_STATES;
        ctl_list_filter_t filter = { .state = states, .source = self->source_glob,
                                     .id = self->id_glob, .limit = self->limit };
        return ctl_list (ctl, &filter, failure, error, error_size);
    }
    if (command == &s_stats)
        return ctl_stats (ctl, failure, error, error_size);
    if (command == &s_ping)
        return ctl_ping (ctl, failure, error, error_size);
    if (command == &s_get)
        return ctl_get (ctl, self->positional [0], self->positional [1],
                        failure, error, error_size);
    if (command == &s_history)
        return ctl_history (ctl, self->positional [0], self->positional [1], self->limit,
                            (uint64_t) self->before, failure, error, error_size);
    ctl_act_t act = { .source = self->positional [0], .id = self->positional [1] };
    if (command->options & S_BY)
        act.by = self->by;
    if (command == &s_ack) {
        act.until = self->until;
        act.note = self->note;
    }
    if (command == &s_suppress)
        act.until = self->positional [2];
    return ctl_act (ctl, command->name, &act, failure, error, error_size);
}

//  Sends the request and checks the reply. Returns the reply's document
//  (caller destroys) when it says ok; else NULL after printing why.
static wire_doc_t *
s_call (const control_args_t *self)
{
    const char *name = self->command->name;
    char error [WIRE_ERROR_SIZE + 256] = "";
    ctl_failure_t failure = CTL_NO_REPLY;
    wire_doc_t *doc = NULL;
    ctl_t *ctl = cli_ctl_open (self->endpoint, self->timeout_ms, error, sizeof error);
    if (ctl)
        doc = s_request (self, ctl, &failure, error, sizeof error);
    ctl_destroy (&ctl);
    if (!doc && failure == CTL_REFUSED) {
        fprintf (stderr, "lilac %s: ", name);
        cli_print_plain (stderr, error);        //  the broker's words: outside input
        fputc ('\n', stderr);
    }
    else
    if (!doc)
        cli_fail (name, "%s", *error ? error : "no reply");
    return doc;
}

//  Prints object as one line of JSON. Returns an exit status.
static int
s_print_json (const char *name, const msgpack_object *object)
{
    char *json = json_text_from_msgpack (object);
    if (!json)
        return cli_fail (name, "cannot render the reply as JSON");
    puts (json);
    free (json);
    return CLI_EXIT_OK;
}

//  --- list --------------------------------------------------------------------

//  A time as people read it: local ("2026-12-06 10:09:28 CET", $TZ) or,
//  with utc, ISO 8601 UTC with milliseconds.
static char *
s_time_text (int64_t ms, bool utc, char *buffer, size_t size)
{
    time_t seconds = (time_t) (ms / 1000);
    struct tm local;
    if (utc || !localtime_r (&seconds, &local)
    ||  strftime (buffer, size, "%Y-%m-%d %H:%M:%S %Z", &local) == 0)
        return time_format (ms, buffer, (int) size);
    return buffer;
}

//  Raised first, then acked, pending, cleared; urgent before normal before
//  low; the oldest change first (it has waited longest).
static int
s_by_attention (const void *left, const void *right)
{
    static const int state_rank [] = { [ALERT_RAISED] = 0, [ALERT_ACKED] = 1,
                                       [ALERT_PENDING] = 2, [ALERT_CLEARED] = 3 };
    const alert_t *a = left, *b = right;
    if (state_rank [a->state] != state_rank [b->state])
        return state_rank [a->state] - state_rank [b->state];
    if (a->level != b->level)
        return (int) b->level - (int) a->level;          //  urgent is the highest
    return a->changed_at < b->changed_at ? -1 : a->changed_at > b->changed_at;
}

//  A column as wide as its widest text, up to S_MAX_COLUMN.
static void
s_widen (int *width, const char *text)
{
    int size = text ? (int) strlen (text) : 1;
    if (size > *width)
        *width = size < S_MAX_COLUMN ? size : S_MAX_COLUMN;
}

static void
s_print_table (alert_t *alerts, size_t count, bool utc)
{
    qsort (alerts, count, sizeof (alert_t), s_by_attention);
    int source_width = 6, id_width = 2, subject_width = 7, acked_width = 8;
    for (size_t index = 0; index < count; index++) {
        s_widen (&source_width, alerts [index].source);
        s_widen (&id_width, alerts [index].id);
        s_widen (&subject_width, alerts [index].subject);
        s_widen (&acked_width, alerts [index].acked_by);
    }
    printf ("%-9s %-6s %-*s %-*s %-*s %-23s %-*s %s\n", "STATE", "LEVEL",
            source_width, "SOURCE", id_width, "ID", subject_width, "SUBJECT", "SINCE",
            acked_width, "ACKED-BY", "SUMMARY");
    for (size_t index = 0; index < count; index++) {
        const alert_t *alert = &alerts [index];
        char since [64];
        printf ("%-9s %-6s %-*s %-*s %-*s %-23s %-*s ", alert_state_name (alert->state),
                alert_level_name (alert->level), source_width, alert->source,
                id_width, alert->id, subject_width, alert->subject ? alert->subject : alert->source,
                s_time_text (alert->changed_at, utc, since, sizeof since),
                acked_width, alert->acked_by ? alert->acked_by : "-");
        cli_print_plain (stdout, alert->summary ? alert->summary : "-");
        putchar ('\n');
    }
}

//  Decodes every alert of the array; returns 0 or -1 after printing why.
static int
s_decode_alerts (const char *name, const msgpack_object *array,
                 alert_t **alerts_p, size_t *count_p)
{
    if (!array || array->type != MSGPACK_OBJECT_ARRAY) {
        cli_fail (name, "malformed reply: 'alerts' is not an array");
        return -1;
    }
    size_t count = array->via.array.size;
    alert_t *alerts = mem_alloc ((count ? count : 1) * sizeof (alert_t));
    char error [WIRE_ERROR_SIZE];
    for (size_t index = 0; index < count; index++)
        if (alert_decode (&array->via.array.ptr [index], &alerts [index],
                          error, sizeof error) != 0) {
            cli_fail (name, "malformed reply: alerts[%zu]: %s", index, error);
            for (size_t done = 0; done < index; done++)
                alert_clear_fields (&alerts [done]);
            mem_free (alerts);
            return -1;
        }
    *alerts_p = alerts;
    *count_p = count;
    return 0;
}

static int
s_show_list (const control_args_t *self, const msgpack_object *root)
{
    const msgpack_object *array = wire_get (root, "alerts");
    alert_t *alerts = NULL;
    size_t count = 0;
    if (s_decode_alerts ("list", array, &alerts, &count))
        return CLI_EXIT_FAILURE;
    char error [WIRE_ERROR_SIZE];
    bool has_total = false, truncated = false, has_truncated = false;
    int64_t total = 0;
    int status = CLI_EXIT_OK;
    if (wire_get_int (root, "count", &has_total, &total, error, sizeof error)
    ||  wire_get_bool (root, "truncated", &has_truncated, &truncated, error, sizeof error))
        status = cli_fail ("list", "malformed reply: %s", error);
    else {
        if (self->json)
            status = s_print_json ("list", array);
        else
            s_print_table (alerts, count, self->utc);
        if (truncated)
            fprintf (stderr, "lilac list: showing %zu of %" PRId64 " alerts "
                     "(--limit to see more)\n", count, has_total ? total : (int64_t) count);
    }
    for (size_t index = 0; index < count; index++)
        alert_clear_fields (&alerts [index]);
    mem_free (alerts);
    return status;
}

//  --- get and the human acts ---------------------------------------------------

static void
s_print_field (const char *key, const char *value)
{
    if (!value)
        return;
    printf ("%s: ", key);
    for (const char *at = value; *at; at++) {
        unsigned char byte = (unsigned char) *at;
        if (byte == '\n')
            fputs ("\n  ", stdout);    //  continuation lines are indented
        else
            putchar (byte < 0x20 || byte == 0x7f ? ' ' : byte);
    }
    putchar ('\n');
}

static void
s_print_time (const char *key, int64_t ms, bool utc)
{
    char when [64];
    if (ms)
        printf ("%s: %s\n", key, s_time_text (ms, utc, when, sizeof when));
}

static void
s_print_alert (const alert_t *alert, bool utc)
{
    s_print_field ("source", alert->source);
    s_print_field ("id", alert->id);
    s_print_field ("subject", alert->subject);
    s_print_field ("summary", alert->summary);
    s_print_field ("level", alert_level_name (alert->level));
    s_print_field ("state", alert_state_name (alert->state));
    s_print_time ("raise_at", alert->raise_at, utc);
    s_print_time ("clear_at", alert->clear_at, utc);
    s_print_time ("suppress_until", alert->suppress_until, utc);
    s_print_time ("acked_at", alert->acked_at, utc);
    s_print_time ("ack_until", alert->ack_until, utc);
    s_print_field ("acked_by", alert->acked_by);
    s_print_field ("ack_note", alert->ack_note);
    printf ("notify_count: %" PRId64 "\n", alert->notify_count);
    s_print_time ("notified_at", alert->notified_at, utc);
    s_print_time ("created_at", alert->created_at, utc);
    s_print_time ("updated_at", alert->updated_at, utc);
    s_print_time ("changed_at", alert->changed_at, utc);
    printf ("seq: %" PRIu64 "\n", alert->seq);
    for (size_t index = 0; index < alert->label_count; index++) {
        printf ("label ");
        cli_print_plain (stdout, alert->labels [index].key);
        s_print_field ("", alert->labels [index].value);
    }
    s_print_field ("detail", alert->detail);
}

//  Replies that carry one alert: get, ack, unack, clear, suppress.
static int
s_show_alert (const control_args_t *self, const msgpack_object *root)
{
    const char *name = self->command->name;
    const msgpack_object *map = wire_get (root, "alert");
    alert_t alert;
    memset (&alert, 0, sizeof alert);
    char error [WIRE_ERROR_SIZE];
    if (!map)
        return cli_fail (name, "malformed reply: no 'alert'");
    if (alert_decode (map, &alert, error, sizeof error) != 0)
        return cli_fail (name, "malformed reply: alert: %s", error);
    int status = CLI_EXIT_OK;
    if (self->json)
        status = s_print_json (name, map);
    else
    if (self->command == &s_get)
        s_print_alert (&alert, self->utc);
    else
        printf ("%s %s is %s\n", alert.source, alert.id, alert_state_name (alert.state));
    alert_clear_fields (&alert);
    return status;
}

//  --- ping -----------------------------------------------------------------------------

//  The broker's ping answer: there, and healthy or degraded (its reason
//  said; exit 1).
static int
s_show_ping (const control_args_t *self, const msgpack_object *root, int64_t round_trip_ms)
{
    char error [WIRE_ERROR_SIZE];
    bool has_seq = false;
    int64_t seq = 0;
    char *degraded = NULL;
    if (wire_get_int (root, "seq", &has_seq, &seq, error, sizeof error)
    ||  wire_get_string (root, "degraded", WIRE_MAX_SUMMARY, &degraded, error, sizeof error))
        return cli_fail ("ping", "malformed reply: %s", error);
    int status = degraded ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
    if (self->json) {
        if (s_print_json ("ping", root) != CLI_EXIT_OK)
            status = CLI_EXIT_FAILURE;
    }
    else {
        printf ("pong from %s in %" PRId64 " ms: seq %" PRId64 "%s", self->endpoint,
                round_trip_ms, seq, degraded ? ", DEGRADED: " : "");
        if (degraded)
            cli_print_plain (stdout, degraded);
        putchar ('\n');
    }
    mem_free (degraded);
    return status;
}

//  --- history ---------------------------------------------------------------------

static int
s_show_history (const control_args_t *self, const msgpack_object *root)
{
    const msgpack_object *array = wire_get (root, "changes");
    char error [WIRE_ERROR_SIZE];
    bool more = false, present = false;
    int64_t before = 0;
    if (!array || array->type != MSGPACK_OBJECT_ARRAY)
        return cli_fail ("history", "malformed reply: 'changes' is not an array");
    if (wire_get_bool (root, "more", &present, &more, error, sizeof error)
    ||  wire_get_int (root, "before", &present, &before, error, sizeof error))
        return cli_fail ("history", "malformed reply: %s", error);
    for (uint32_t index = 0; index < array->via.array.size; index++) {
        alert_change_t change;
        if (alert_change_decode (&array->via.array.ptr [index], &change, error, sizeof error))
            return cli_fail ("history", "malformed reply: changes[%u]: %s", index, error);
        if (!self->json) {
            char when [64];
            printf ("%" PRIu64 " %s %s %s ", change.seq, time_format (change.at, when, sizeof when),
                    change.event, alert_state_name (change.alert.state));
            cli_print_plain (stdout, change.alert.summary ? change.alert.summary : "-");
            putchar ('\n');
        }
        alert_change_free (&change);
    }
    int status = self->json ? s_print_json ("history", array) : CLI_EXIT_OK;
    if (more)
        fprintf (stderr, "lilac history: older changes with --before %" PRId64 "\n", before);
    return status;
}

//  --- stats ---------------------------------------------------------------------

static int
s_show_stats (const control_args_t *self, const msgpack_object *root)
{
    const msgpack_object *map = wire_get (root, "stats");
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return cli_fail ("stats", "malformed reply: 'stats' is not a map");
    for (uint32_t index = 0; index < map->via.map.size; index++) {
        const msgpack_object_kv *entry = &map->via.map.ptr [index];
        msgpack_object_type type = entry->val.type;
        if (entry->key.type != MSGPACK_OBJECT_STR
        ||  (type != MSGPACK_OBJECT_POSITIVE_INTEGER && type != MSGPACK_OBJECT_NEGATIVE_INTEGER
        &&   type != MSGPACK_OBJECT_FLOAT64 && type != MSGPACK_OBJECT_FLOAT32))
            return cli_fail ("stats", "malformed reply: stats[%u] is not name: number", index);
    }
    if (self->json)
        return s_print_json ("stats", map);
    for (uint32_t index = 0; index < map->via.map.size; index++) {
        const msgpack_object_kv *entry = &map->via.map.ptr [index];
        char name [WIRE_MAX_NAME + 1];
        size_t size = entry->key.via.str.size < WIRE_MAX_NAME
                    ? entry->key.via.str.size : WIRE_MAX_NAME;
        memcpy (name, entry->key.via.str.ptr, size);
        name [size] = '\0';
        cli_print_plain (stdout, name);
        if (entry->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            printf (" %" PRIu64 "\n", entry->val.via.u64);
        else
        if (entry->val.type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            printf (" %" PRId64 "\n", entry->val.via.i64);
        else
            printf (" %g\n", entry->val.via.f64);
    }
    return CLI_EXIT_OK;
}

//  --- entry points --------------------------------------------------------------

static int
s_run (const control_command_t *command, cli_t *cli, int argc, char **argv)
{
    control_args_t args;
    int status = s_args_parse (&args, command, cli, argc, argv);
    if (status >= 0)
        return status;
    int64_t asked = zclock_mono ();
    wire_doc_t *doc = s_call (&args);
    if (!doc)
        return CLI_EXIT_FAILURE;
    const msgpack_object *root = wire_doc_root (doc);
    if (command == &s_ping)
        status = s_show_ping (&args, root, zclock_mono () - asked);
    else
    if (command == &s_delete) {
        printf ("%s %s deleted\n", args.positional [0], args.positional [1]);
        status = CLI_EXIT_OK;
    }
    else
    if (command == &s_list)
        status = s_show_list (&args, root);
    else
    if (command == &s_stats)
        status = s_show_stats (&args, root);
    else
    if (command == &s_history)
        status = s_show_history (&args, root);
    else
        status = s_show_alert (&args, root);
    fflush (stdout);
    wire_doc_destroy (&doc);
    return status;
}

int
cli_delete (cli_t *cli, int argc, char **argv)
{
    return s_run (&s_delete, cli, argc, argv);
}

int
cli_ping (cli_t *cli, int argc, char **argv)
{
    return s_run (&s_ping, cli, argc, argv);
}

int
cli_list (cli_t *cli, int argc, char **argv)
{
    return s_run (&s_list, cli, argc, argv);
}

int
cli_get (cli_t *cli, int argc, char **argv)
{
    return s_run (&s_get, cli, argc, argv);
}

int
cli_ack (cli_t *cli, int argc, char **argv)
{
    return s_run (&s_ack, cli, argc, argv);
}

int
cli_unack (cli_t *cli, int argc, char **argv)
{
    return s_run (&s_unack, cli, argc, argv);
}

int
cli_clear (cli_t *cli, int argc, char **argv)
{
    return s_run (&s_clear, cli, argc, argv);
}

int
cli_suppress (cli_t *cli, int argc, char **argv)
{
    return s_run (&s_suppress, cli, argc, argv);
}

int
cli_history (cli_t *cli, int argc, char **argv)
{
    return s_run (&s_history, cli, argc, argv);
}

int
cli_stats (cli_t *cli, int argc, char **argv)
{
    return s_run (&s_stats, cli, argc, argv);
}
