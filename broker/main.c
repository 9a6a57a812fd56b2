/*  main.c — lilac-broker: parse options, load the config, run.

    Options override the config file, and the loopback rule (broker.h) is
    checked after them. -n checks the config and exits. Errors
    before the loop starts are fatal (exit 1); usage errors exit 2.
*/
#include <czmq.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include "version.h"
#include "broker.h"
#include "config.h"
#include "log.h"
#include "mem.h"

static void
s_usage (FILE *stream)
{
    fprintf (stream,
        "usage: lilac-broker [-c FILE] [--db PATH] [--ingest EP] [--publish EP]\n"
        "                    [--control EP] [-n] [-v]\n"
        "  -c, --config FILE  ZPL config file (section 'broker'; see README)\n"
        "      --db PATH      SQLite database file (default var/lilac.db)\n"
        "      --ingest EP    PULL endpoint for events (default tcp://127.0.0.1:32741)\n"
        "      --publish EP   PUB endpoint for changes (default tcp://127.0.0.1:32742)\n"
        "      --control EP   ROUTER endpoint for control (default tcp://127.0.0.1:32743)\n"
        "  -n                 check the configuration and exit\n"
        "  -v                 log every change\n");
}

typedef struct {
    const char *config_file;       //  -c
    const char *database;          //  --db
    const char *ingest;            //  --ingest
    const char *publish;           //  --publish
    const char *control;           //  --control
    bool check_only;               //  -n
    bool verbose;                  //  -v
} options_t;

static void
s_parse_options (int argc, char *argv [], options_t *options)
{
    enum { OPT_DB = 256, OPT_INGEST, OPT_PUBLISH, OPT_CONTROL };
    static const struct option long_options [] = {
        { "config", required_argument, NULL, 'c' },
        { "db", required_argument, NULL, OPT_DB },
        { "ingest", required_argument, NULL, OPT_INGEST },
        { "publish", required_argument, NULL, OPT_PUBLISH },
        { "control", required_argument, NULL, OPT_CONTROL },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int option;
    while ((option = getopt_long (argc, argv, "c:nvh", long_options, NULL)) != -1)
        switch (option) {
            case 'V': printf ("lilac-broker %s\n", LILAC_VERSION); exit (0);
            case 'c': options->config_file = optarg; break;
            case OPT_DB: options->database = optarg; break;
            case OPT_INGEST: options->ingest = optarg; break;
            case OPT_PUBLISH: options->publish = optarg; break;
            case OPT_CONTROL: options->control = optarg; break;
            case 'n': options->check_only = true; break;
            case 'v': options->verbose = true; break;
            case 'h': s_usage (stdout); exit (0);
            default: s_usage (stderr); exit (2);
        }
    if (optind != argc) {
        fprintf (stderr, "lilac-broker: unexpected argument '%s'\n", argv [optind]);
        s_usage (stderr);
        exit (2);
    }
}

static void
s_apply_overrides (broker_config_t *config, const options_t *options)
{
    if (options->database) {
        mem_replace (&config->database, options->database);
        mem_replace (&config->database_at, "--db");
    }
    if (options->ingest) {
        mem_replace (&config->ingest, options->ingest);
        mem_replace (&config->origins [0], "--ingest");
    }
    if (options->publish) {
        mem_replace (&config->publish, options->publish);
        mem_replace (&config->origins [1], "--publish");
    }
    if (options->control) {
        mem_replace (&config->control, options->control);
        mem_replace (&config->origins [2], "--control");
    }
}

int
main (int argc, char *argv [])
{
    options_t options = { 0 };
    s_parse_options (argc, argv, &options);
    log_init ("lilac-broker", options.verbose);

    broker_config_t config;
    config_report_t report = { 0 };
    broker_config_load (&config, options.config_file, &report);
    s_apply_overrides (&config, &options);
    bool exposed = false;
    broker_config_verify (&config, &exposed, &report);
    if (exposed && !config.security_cert)
        config_report_add (&report, true, "INSECURE: listening beyond loopback without a "
                           "security section (insecure = yes): anybody who can reach %s, %s "
                           "or %s may send, read and acknowledge anything", config.ingest,
                           config.publish, config.control);
    config_report_conclude (&report, options.check_only);
    if (options.check_only) {
        if (report.warnings)
            printf ("configuration OK, with %zu warning%s\n", report.warnings,
                    report.warnings == 1 ? "" : "s");
        else
            printf ("configuration OK\n");
        broker_config_free (&config);
        return 0;
    }
    char error [CONFIG_ERROR_SIZE];
    zsys_handler_set (NULL);        //  signals come through the broker's signalfd
    //  A file grown past RLIMIT_FSIZE must fail its write (EFBIG: a failed
    //  commit, retried and reported like a full disk), not kill the broker.
    signal (SIGXFSZ, SIG_IGN);
    broker_t *broker = broker_new (&config, error, sizeof error);
    broker_config_free (&config);
    if (!broker)
        log_fatal ("%s", error);
    int rc = broker_run (broker);
    broker_destroy (&broker);
    zsys_shutdown ();
    return rc ? 1 : 0;
}
