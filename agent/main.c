/*  main.c — lilac-agent: parse options, load the config, run.

    Options override the config file. The config, the options and what the
    agent needs at start (endpoints, keys, the certificate's source, the
    state directory, check commands) are checked in one pass and every
    problem is printed with its file:line; any error exits 1. -n runs the
    same checks, prints what it understood, and exits. CURVE for the
    connections to the broker is set up by that pass (bus_secure_client);
    the local listen endpoint stays plain (bus.h). Usage errors exit 2.
*/
#include <czmq.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include "version.h"
#include "agent.h"
#include "bus.h"
#include "config.h"
#include "log.h"
#include "mem.h"
#include "timespec.h"

static void
s_usage (FILE *stream)
{
    fprintf (stream,
        "usage: lilac-agent [-c FILE] [--broker EP] [--events EP] [--listen EP]\n"
        "                   [--source NAME] [--cert FILE --server-key KEY|FILE] [-n] [-v]\n"
        "  -c, --config FILE  ZPL config file (sections agent, heartbeat, check = NAME)\n"
        "      --broker EP    the broker's ingest endpoint (default tcp://127.0.0.1:32741)\n"
        "      --events EP    the broker's publish endpoint, for hugz (default :32742)\n"
        "      --listen EP    local endpoint for `lilac send -b` (default an ipc:// path)\n"
        "      --source NAME  the source of this server's alerts (default the host name)\n"
        "      --cert FILE    CURVE: this agent's secret certificate (agent/cert, else\n"
        "                     $LILAC_CERT)\n"
        "      --server-key K the broker's public key, or its public certificate file\n"
        "                     (agent/server_key, else $LILAC_SERVER_KEY)\n"
        "  -n                 check the configuration, print it, and exit\n"
        "  -v                 log every check result and send\n");
}

typedef struct {
    const char *config_file;       //  -c
    const char *overrides [6];     //  --broker --events --listen --source --cert --server-key
    bool check_only;               //  -n
    bool verbose;                  //  -v
} options_t;

static void
s_parse_options (int argc, char *argv [], options_t *options)
{
    static const struct option long_options [] = {
        { "config", required_argument, NULL, 'c' },
        { "broker", required_argument, NULL, 256 },
        { "events", required_argument, NULL, 257 },
        { "listen", required_argument, NULL, 258 },
        { "source", required_argument, NULL, 259 },
        { "cert", required_argument, NULL, 260 },
        { "server-key", required_argument, NULL, 261 },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int option;
    while ((option = getopt_long (argc, argv, "c:nvh", long_options, NULL)) != -1)
        if (option >= 256 && option <= 261)
            options->overrides [option - 256] = optarg;
        else
        if (option == 'c')
            options->config_file = optarg;
        else
        if (option == 'n')
            options->check_only = true;
        else
        if (option == 'v')
            options->verbose = true;
        else
        if (option == 'h') {
            s_usage (stdout);
            exit (0);
        }
        else
        if (option == 'V') {
            printf ("lilac-agent %s\n", LILAC_VERSION);
            exit (0);
        }
        else {
            s_usage (stderr);
            exit (2);
        }
    if (optind != argc) {
        fprintf (stderr, "lilac-agent: unexpected argument '%s'\n", argv [optind]);
        s_usage (stderr);
        exit (2);
    }
}

static void
s_apply_overrides (agent_config_t *config, const options_t *options, config_report_t *report)
{
    char **settings [6] = { &config->broker, &config->events, &config->listen, &config->source,
                            &config->cert, &config->server_key };
    char **wheres [6] = { &config->broker_at, &config->events_at, &config->listen_at,
                          &config->source_at, &config->cert_at, &config->server_key_at };
    const char *names [6] = { "--broker", "--events", "--listen", "--source", "--cert",
                              "--server-key" };
    for (int index = 0; index < 6; index++)
        if (options->overrides [index]) {
            mem_free (*settings [index]);
            *settings [index] = mem_strdup (options->overrides [index]);
            mem_free (*wheres [index]);
            *wheres [index] = mem_strdup (names [index]);
        }
    if (options->overrides [3] && !wire_name_valid (config->source))
        config_report_add (report, false, "--source: '%s' is not a valid name", config->source);
    const char *variables [2] = { "LILAC_CERT", "LILAC_SERVER_KEY" };
    char **keys [2] = { &config->cert, &config->server_key };
    char **key_wheres [2] = { &config->cert_at, &config->server_key_at };
    for (int index = 0; index < 2; index++) {
        const char *value = getenv (variables [index]);
        if (!*keys [index] && value && *value) {
            *keys [index] = mem_strdup (value);
            mem_free (*key_wheres [index]);
            *key_wheres [index] = mem_strdup (index ? "$LILAC_SERVER_KEY" : "$LILAC_CERT");
        }
    }
}

static void
s_print_config (const agent_config_t *config, size_t warnings)
{
    char interval [32], raise [32], timeout [32];
    printf ("source %s, broker %s, hugz from %s, listening on %s\n", config->source,
            config->broker, config->events, config->listen);
    printf ("held alerts kept in %s (at most %lld)\n", config->state_dir,
            (long long) config->max_alerts);
    if (config->cert)
        printf ("CURVE with certificate %s (source %s%s)\n", config->cert, config->source,
                config->source_at ? "" : ", from the certificate");
    if (config->heartbeat)
        printf ("heartbeat every %s, raises %s after the last\n",
                duration_format (config->heartbeat_interval, interval, sizeof interval),
                duration_format (config->heartbeat_raise, raise, sizeof raise));
    for (size_t index = 0; index < config->check_count; index++) {
        const check_config_t *check = &config->checks [index];
        printf ("check %s every %s, timeout %s: %s\n", check->name,
                duration_format (check->interval, interval, sizeof interval),
                duration_format (check->timeout, timeout, sizeof timeout), check->command);
    }
    if (warnings)
        printf ("configuration OK, with %zu warning%s (above)\n", warnings, warnings == 1 ? "" : "s");
    else
        printf ("configuration OK\n");
}

int
main (int argc, char *argv [])
{
    options_t options = { 0 };
    s_parse_options (argc, argv, &options);
    log_init ("lilac-agent", options.verbose);
    agent_config_t config;
    config_report_t report = { 0 };
    agent_config_load (&config, options.config_file, &report);
    s_apply_overrides (&config, &options, &report);
    agent_config_verify_bound (&config, &report);
    agent_config_verify_checks (&config, &report);
    config_report_conclude (&report, options.check_only);
    if (options.check_only) {
        s_print_config (&config, report.warnings);
        agent_config_free (&config);
        return 0;
    }
    char error [CONFIG_ERROR_SIZE];
    zsys_handler_set (NULL);        //  signals come through the agent's signalfd
    agent_t *agent = agent_new (&config, error, sizeof error);
    if (!agent)
        log_fatal ("%s", error);
    int rc = agent_run (agent);
    agent_destroy (&agent);
    zsys_shutdown ();
    return rc ? 1 : 0;
}
