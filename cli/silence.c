/*  silence.c — `lilac silence add|list|expire`: the broker's silences.

    One request and one reply each, through the typed control client
    (ctl_silence_*). Matchers are checked here only for their shape (a
    label matcher has a name and an operator; at least one matcher); the
    broker compiles the regexes and refuses a bad one with regerror's words,
    which are printed as its answer. Times go out as typed (+2h, epoch
    seconds), checked with cli_check_time, for the broker to resolve.

    The reply is outside input: checked with wire_doc_new, decoded with
    silence_decode before anything is printed; --json prints the silences
    as JSON (json_text_from_msgpack).
*/
#include <czmq.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "bus.h"
#include "cli.h"
#include "ctl.h"
#include "json.h"
#include "silence.h"
#include "timespec.h"
#include "wire.h"

const char cli_silence_usage[] =
    "usage: lilac [-C EP] [-t SECS] silence add [--source GLOB] [--id GLOB] [--subject GLOB]\n"
    "                                   [--label 'K=V'|'K!=V'|'K=~RE'|'K!~RE' ...]\n"
    "                                   --ends TIME [--starts TIME] [--note TEXT] [--by NAME]\n"
    "       lilac [-C EP] [-t SECS] silence list [--json]\n"
    "       lilac [-C EP] [-t SECS] silence expire ID [--by NAME]\n"
    "\n"
    "A silence stops notifications for every alert all its matchers match,\n"
    "from --starts (default now) until --ends (+2h, or epoch seconds). Regexes\n"
    "are POSIX extended and must match the whole value. `add` prints the id.\n";

//  getopt codes of the long-only options.
enum {
    S_OPTION_SOURCE = 1000, S_OPTION_ID, S_OPTION_SUBJECT, S_OPTION_LABEL, S_OPTION_STARTS,
    S_OPTION_ENDS, S_OPTION_NOTE, S_OPTION_BY, S_OPTION_JSON
};

//  A parsed command line.
typedef struct {
    const char *endpoint;          //  -C, $LILAC_CONTROL or the default
    int timeout_ms;                //  -t
    ctl_silence_t silence;         //  add's matchers and times
    const char *labels [SILENCE_MAX_LABELS];   //  --label, as typed
    bool json;                     //  list --json
    const char *by;                //  --by, else $USER
    const char *id;                //  expire's ID
} s_args_t;

//  Takes one option into args. 0, or -1 with a sentence in error.
static int
s_take (s_args_t *args, int option, char *error, size_t error_size)
{
    ctl_silence_t *silence = &args->silence;
    switch (option) {
        case 'C': args->endpoint = optarg; return 0;
        case 't': return cli_parse_timeout ("-t", optarg, &args->timeout_ms, error, error_size);
        case S_OPTION_SOURCE: silence->source = optarg; return 0;
        case S_OPTION_ID: silence->id = optarg; return 0;
        case S_OPTION_SUBJECT: silence->subject = optarg; return 0;
        case S_OPTION_STARTS: silence->starts = optarg;
            return cli_check_time ("--starts", optarg, error, error_size);
        case S_OPTION_ENDS: silence->ends = optarg;
            return cli_check_time ("--ends", optarg, error, error_size);
        case S_OPTION_NOTE: silence->note = optarg;
            return cli_check_text ("--note", optarg, WIRE_MAX_NOTE, error, error_size);
        case S_OPTION_BY: args->by = optarg; return 0;
        case S_OPTION_JSON: args->json = true; return 0;
        case S_OPTION_LABEL:
            if (silence->label_count == SILENCE_MAX_LABELS)
                return snprintf (error, error_size, "--label: at most %d", SILENCE_MAX_LABELS),
                       -1;
            if (strcspn (optarg, "=!") == 0 || !optarg [strcspn (optarg, "=!")])
                return snprintf (error, error_size, "--label: '%s' is not K=V, K!=V, K=~RE "
                                 "or K!~RE", optarg), -1;
            args->labels [silence->label_count++] = optarg;
            return 0;
    }
    return 0;
}

//  Parses argv (argv[0] is the verb). -1 when ready, else an exit status.
static int
s_parse (s_args_t *args, const cli_t *cli, int argc, char **argv)
{
    static const struct option long_options [] = {
        { "control", required_argument, NULL, 'C' }, { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' }, { "source", required_argument, NULL, S_OPTION_SOURCE },
        { "id", required_argument, NULL, S_OPTION_ID },
        { "subject", required_argument, NULL, S_OPTION_SUBJECT },
        { "label", required_argument, NULL, S_OPTION_LABEL },
        { "starts", required_argument, NULL, S_OPTION_STARTS },
        { "ends", required_argument, NULL, S_OPTION_ENDS },
        { "note", required_argument, NULL, S_OPTION_NOTE },
        { "by", required_argument, NULL, S_OPTION_BY },
        { "json", no_argument, NULL, S_OPTION_JSON }, { NULL, 0, NULL, 0 }
    };
    memset (args, 0, sizeof *args);
    args->endpoint = cli->control;
    args->timeout_ms = cli_timeout_ms (cli);
    args->silence.labels = args->labels;
    char error [512];
    opterr = 0;
    optind = 0;
    int option;
    while ((option = getopt_long (argc, argv, ":C:t:h", long_options, NULL)) != -1) {
        if (option == 'h') {
            fputs (cli_silence_usage, stdout);
            return CLI_EXIT_OK;
        }
        if (option == '?' || option == ':')
            return cli_option_error ("silence", cli_silence_usage, option, argc, argv);
        if (s_take (args, option, error, sizeof error))
            return cli_usage_error ("silence", cli_silence_usage, "%s", error);
    }
    args->endpoint = cli_endpoint (args->endpoint, "LILAC_CONTROL", BUS_DEFAULT_CONTROL);
    args->by = args->by ? args->by : cli_user_name ();
    if (cli_check_name ("--by", args->by, error, sizeof error))
        return cli_usage_error ("silence", cli_silence_usage, "%s: give --by NAME", error);
    args->silence.by = args->by;
    return -1;
}

//  Prints the broker's refusal or the failure. NULL.
static wire_doc_t *
s_failed (ctl_failure_t failure, const char *error)
{
    if (failure == CTL_REFUSED) {
        fprintf (stderr, "lilac silence: ");
        cli_print_plain (stderr, error);        //  the broker's words: outside input
        fputc ('\n', stderr);
    }
    else
        cli_fail ("silence", "%s", *error ? error : "no reply");
    return NULL;
}

//  Runs verb's request. The ok reply (caller destroys), or NULL after printing why.
static wire_doc_t *
s_request (const char *verb, const s_args_t *args)
{
    char error [WIRE_ERROR_SIZE + 256] = "";
    ctl_failure_t failure = CTL_NO_REPLY;
    wire_doc_t *reply = NULL;
    ctl_t *ctl = cli_ctl_open (args->endpoint, args->timeout_ms, error, sizeof error);
    if (ctl && streq (verb, "add"))
        reply = ctl_silence_add (ctl, &args->silence, &failure, error, sizeof error);
    else
    if (ctl && streq (verb, "list"))
        reply = ctl_silence_list (ctl, &failure, error, sizeof error);
    else
    if (ctl)
        reply = ctl_silence_expire (ctl, args->id, args->by, &failure, error, sizeof error);
    ctl_destroy (&ctl);
    return reply ? reply : s_failed (failure, error);
}

static void
s_print_silence (const silence_t *silence)
{
    char starts [40], ends [40];
    printf ("%s  %-7s  %s .. %s  by ", silence->id, silence->announced,
            time_format (silence->starts, starts, sizeof starts),
            time_format (silence->ends, ends, sizeof ends));
    cli_print_plain (stdout, silence->by);
    const char *names [] = { "source", "id", "subject" };
    const char *globs [] = { silence->source, silence->alert_id, silence->subject };
    for (size_t index = 0; index < 3; index++)
        if (globs [index]) {
            printf ("  %s=", names [index]);
            cli_print_plain (stdout, globs [index]);
        }
    for (size_t index = 0; index < silence->label_count; index++) {
        char text [WIRE_MAX_LABEL_KEY + WIRE_MAX_LABEL_VALUE + 4];
        silence_label_format (&silence->labels [index], text, sizeof text);
        printf ("  label ");
        cli_print_plain (stdout, text);
    }
    if (silence->note) {
        printf ("  # ");
        cli_print_plain (stdout, silence->note);
    }
    putchar ('\n');
}

//  Prints the reply's `silences`. An exit status.
static int
s_show_list (const s_args_t *args, const msgpack_object *root)
{
    const msgpack_object *array = wire_get (root, "silences");
    if (!array || array->type != MSGPACK_OBJECT_ARRAY)
        return cli_fail ("silence", "malformed reply: no silences");
    if (args->json) {
        char *json = json_text_from_msgpack (array);
        if (!json)
            return cli_fail ("silence", "cannot render the reply as JSON");
        puts (json);
        free (json);
        return CLI_EXIT_OK;
    }
    for (uint32_t index = 0; index < array->via.array.size; index++) {
        char error [WIRE_ERROR_SIZE];
        silence_t *silence = silence_decode (&array->via.array.ptr [index], error, sizeof error);
        if (!silence)
            return cli_fail ("silence", "malformed reply: silences[%u]: %s", index, error);
        s_print_silence (silence);
        silence_destroy (&silence);
    }
    return CLI_EXIT_OK;
}

int
cli_silence (cli_t *cli, int argc, char **argv)
{
    const char *verb = argc > 1 ? argv [1] : "";
    if (streq (verb, "-h") || streq (verb, "--help")) {
        fputs (cli_silence_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (!streq (verb, "add") && !streq (verb, "list") && !streq (verb, "expire"))
        return cli_usage_error ("silence", cli_silence_usage, "add, list or expire?");
    s_args_t args;
    int status = s_parse (&args, cli, argc - 1, argv + 1);
    if (status >= 0)
        return status;
    int positionals = argc - 1 - optind;
    if (positionals != streq (verb, "expire"))
        return cli_usage_error ("silence", cli_silence_usage, "silence %s takes %s", verb,
                                streq (verb, "expire") ? "one ID" : "no arguments");
    args.id = argv [1 + optind];
    if (streq (verb, "add") && !args.silence.ends)
        return cli_usage_error ("silence", cli_silence_usage, "add: --ends TIME is required");
    wire_doc_t *reply = s_request (verb, &args);
    if (!reply)
        return CLI_EXIT_FAILURE;
    status = CLI_EXIT_OK;
    if (streq (verb, "list"))
        status = s_show_list (&args, wire_doc_root (reply));
    else {
        char error [WIRE_ERROR_SIZE];
        silence_t *silence = silence_decode (wire_get (wire_doc_root (reply), "silence"),
                                             error, sizeof error);
        if (silence)
            puts (silence->id);
        else
            status = cli_fail ("silence", "malformed reply: %s", error);
        silence_destroy (&silence);
    }
    wire_doc_destroy (&reply);
    return status;
}
