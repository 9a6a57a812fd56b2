/*  main.c — `lilac`: the command-line client of lilac-broker.

    A thin dispatcher. It reads the global options that come before the
    subcommand (-C control endpoint, -t deadline, --cert and
    --server-key for CURVE, -h), then hands the rest of
    argv, starting at the subcommand's name, to that subcommand's function
    (send.c, tap.c, control.c). Each subcommand parses its own options with
    getopt_long and accepts -C and -t again, so both `lilac -C EP list` and
    `lilac list -C EP` work. czmq's own SIGINT/SIGTERM handler is switched
    off here: `lilac tap` installs its own, and the other subcommands are
    short-lived and bounded by their deadline.
*/
#include <czmq.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "version.h"
#include "bus.h"
#include "cli.h"

static const char s_usage[] =
    "usage: lilac [-C EP] [-t SECONDS] COMMAND [ARGS...]\n"
    "\n"
    "  send      send events to the broker (lilac send --help)\n"
    "  tap       print changes published by the broker as they happen\n"
    "  list      list alerts\n"
    "  get       show one alert\n"
    "  ack       acknowledge an alert\n"
    "  unack     drop an acknowledgement\n"
    "  clear     clear an alert\n"
    "  suppress  suppress notifications for an alert until a time\n"
    "  stats     the broker's counters\n"
    "  ping      is the broker there, and healthy?\n"
    "  delete    delete a cleared alert now (admin)\n"
    "  history   one alert's changes, newest first\n"
    "  silence   add, list or expire silences (lilac silence --help)\n"
    "  keygen    write a CURVE certificate (lilac keygen --help)\n"
    "  help      this text, or a command's: lilac help COMMAND (man lilac for more)\n"
    "\n"
    "  -C, --control EP     control endpoint (default $LILAC_CONTROL, else "
    "tcp://127.0.0.1:32743)\n"
    "  -t, --timeout SECS   deadline for the broker's answer (default 5)\n"
    "  -b, --broker EP      send's PUSH endpoint (lilac send --help)\n"
    "      --cert FILE      this client's secret certificate (default $LILAC_CERT)\n"
    "      --server-key KEY the broker's public key: 40 Z85 characters or its\n"
    "                       public certificate file (default $LILAC_SERVER_KEY)\n"
    "  -h, --help           this text; `lilac COMMAND --help` for a command\n"
    "      --version        lilac's version\n";

typedef struct {
    const char *name;              //  as typed after `lilac`
    cli_command_fn *run;           //  its entry point
} s_command_t;

static const s_command_t s_commands [] = {
    { "send", cli_send },
    { "tap", cli_tap },
    { "list", cli_list },
    { "get", cli_get },
    { "ack", cli_ack },
    { "unack", cli_unack },
    { "clear", cli_clear },
    { "suppress", cli_suppress },
    { "stats", cli_stats },
    { "ping", cli_ping },
    { "delete", cli_delete },
    { "history", cli_history },
    { "silence", cli_silence },
    { "keygen", cli_keygen },
};

//  --cert and --server-key: global options only, applied once in main
static const char *s_cert;
static const char *s_server_key;

static const s_command_t *
s_command_find (const char *name)
{
    for (size_t index = 0; index < sizeof s_commands / sizeof s_commands [0]; index++)
        if (streq (s_commands [index].name, name))
            return &s_commands [index];
    return NULL;
}

//  Parses the options before the subcommand; returns -1 to go on, else an
//  exit status.
static int
s_parse_globals (cli_t *cli, int argc, char **argv)
{
    enum { OPT_CERT = 1000, OPT_SERVER_KEY };
    static const struct option long_options [] = {
        { "cert", required_argument, NULL, OPT_CERT },
        { "server-key", required_argument, NULL, OPT_SERVER_KEY },
        { "control", required_argument, NULL, 'C' },
        { "timeout", required_argument, NULL, 't' },
        { "broker", required_argument, NULL, 'b' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    char error [256];
    opterr = 0;
    int option;
    while ((option = getopt_long (argc, argv, "+:C:t:b:h", long_options, NULL)) != -1) {
        switch (option) {
            case 'C':
                cli->control = optarg;
                break;
            case 'b':
                cli->broker = optarg;
                break;
            case 't':
                if (cli_parse_timeout ("-t", optarg, &cli->timeout_ms, error, sizeof error))
                    return cli_usage_error (NULL, s_usage, "%s", error);
                break;
            case OPT_CERT:
                s_cert = optarg;
                break;
            case OPT_SERVER_KEY:
                s_server_key = optarg;
                break;
            case 'h':
                fputs (s_usage, stdout);
                return CLI_EXIT_OK;
            case 'V':
                printf ("lilac %s\n", LILAC_VERSION);
                return CLI_EXIT_OK;
            default:
                return cli_option_error (NULL, s_usage, option, argc, argv);
        }
    }
    return -1;
}

//  --cert and --server-key may come anywhere on the line, after the command
//  too (`lilac ping --cert F --server-key K`): they are taken out of argv
//  (up to a "--") before the command reads its own options. Returns the
//  new argc, or -1 with a message printed (a value missing).
static int
s_take_security_anywhere (int argc, char **argv, int first)
{
    int kept = first;
    for (int index = first; index < argc; index++) {
        const char **target = NULL;
        const char *name = argv [index];
        if (streq (name, "--")) {
            while (index < argc)
                argv [kept++] = argv [index++];
            break;
        }
        if (strncmp (name, "--cert", 6) == 0 && (!name [6] || name [6] == '='))
            target = &s_cert;
        else
        if (strncmp (name, "--server-key", 12) == 0 && (!name [12] || name [12] == '='))
            target = &s_server_key;
        if (!target) {
            argv [kept++] = argv [index];
            continue;
        }
        const char *equals = strchr (name, '=');
        if (equals)
            *target = equals + 1;
        else
        if (index + 1 < argc)
            *target = argv [++index];
        else
            return cli_usage_error (NULL, s_usage, "option %s needs a value", name), -1;
    }
    argv [kept] = NULL;
    return kept;
}

//  With a certificate and the broker's key (options, else environment),
//  every socket the command connects is a CURVE client. -1 to go on, else
//  an exit status.
static int
s_secure (void)
{
    const char *cert = cli_endpoint (s_cert, "LILAC_CERT", NULL);
    const char *server_key = cli_endpoint (s_server_key, "LILAC_SERVER_KEY", NULL);
    if (!cert && !server_key)
        return -1;
    if (!cert || !server_key)
        return cli_usage_error (NULL, s_usage, "%s given without %s: CURVE needs both",
                                cert ? "--cert" : "--server-key",
                                cert ? "--server-key (or $LILAC_SERVER_KEY)"
                                     : "--cert (or $LILAC_CERT)");
    char error [512];
    if (bus_secure_client (cert, server_key, error, sizeof error))
        return cli_fail (NULL, "%s", error);
    return -1;
}

//  `lilac help`: the usage; `lilac help COMMAND`: what `lilac COMMAND
//  --help` prints, from the command itself, so the two cannot differ.
static int
s_help (cli_t *cli, int argc, char **argv)
{
    if (argc < 2) {
        fputs (s_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (argc > 2)
        return cli_usage_error (NULL, s_usage, "help takes one command, not '%s'", argv [2]);
    const s_command_t *command = s_command_find (argv [1]);
    if (!command)
        return cli_usage_error (NULL, s_usage, "help: unknown command '%s'", argv [1]);
    char *help_argv [] = { argv [1], (char *) "--help", NULL };
    optind = 0;
    return command->run (cli, 2, help_argv);
}

int
main (int argc, char **argv)
{
    zsys_handler_set (NULL);
    cli_t cli = { NULL, 0, NULL };
    int status = s_parse_globals (&cli, argc, argv);
    if (status >= 0)
        return status;
    if (optind >= argc)
        return cli_usage_error (NULL, s_usage, NULL);
    if (streq (argv [optind], "help"))
        return s_help (&cli, argc - optind, argv + optind);
    const s_command_t *command = s_command_find (argv [optind]);
    if (!command)
        return cli_usage_error (NULL, s_usage, "unknown command '%s'", argv [optind]);
    if (command->run != cli_keygen) {
        argc = s_take_security_anywhere (argc, argv, optind + 1);
        if (argc < 0)
            return CLI_EXIT_USAGE;
    }
    if (command->run != cli_keygen && (status = s_secure ()) >= 0)
        return status;
    int first = optind;
    optind = 0;                    //  a fresh getopt scan for the subcommand
    return command->run (&cli, argc - first, argv + first);
}
