/*  main.c — lilac-web: parse options, load the config, run.

    `lilac-web [-c FILE] [--listen ADDR:PORT] [-n] [-v]`. -n runs every check
    a start runs and reports every problem; errors before the loop exit 1,
    usage errors 2.
*/
#include <czmq.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "version.h"
#include "auth.h"
#include "config_report.h"
#include "log.h"
#include "mem.h"
#include "web.h"
#include "web_config.h"

static void
s_usage (FILE *stream)
{
    fprintf (stream,
        "usage: lilac-web [-c FILE] [--listen ADDR:PORT] [-n] [-v]\n"
        "       lilac-web [-c FILE] user add NAME   (the password on standard input)\n"
        "  -c, --config FILE     ZPL config file (section 'web'; see README)\n"
        "      --listen ADDR:PORT  where to serve HTTP (default " WEB_DEFAULT_LISTEN ")\n"
        "  -n                    check the configuration and exit\n"
        "  -v                    log every request\n");
}

typedef struct {
    const char *config_file;       //  -c
    const char *listen;            //  --listen
    bool check_only;               //  -n
    const char *user_add;          //  user add NAME
    bool verbose;                  //  -v
} options_t;

static void
s_parse_options (int argc, char *argv [], options_t *options)
{
    enum { OPT_LISTEN = 256 };
    static const struct option long_options [] = {
        { "config", required_argument, NULL, 'c' },
        { "listen", required_argument, NULL, OPT_LISTEN },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int option;
    while ((option = getopt_long (argc, argv, "c:nvh", long_options, NULL)) != -1)
        switch (option) {
            case 'c': options->config_file = optarg; break;
            case OPT_LISTEN: options->listen = optarg; break;
            case 'n': options->check_only = true; break;
            case 'v': options->verbose = true; break;
            case 'h': s_usage (stdout); exit (0);
            case 'V': printf ("lilac-web %s\n", LILAC_VERSION); exit (0);
            default: s_usage (stderr); exit (2);
        }
    if (optind + 3 == argc && strcmp (argv [optind], "user") == 0
    &&  strcmp (argv [optind + 1], "add") == 0) {
        options->user_add = argv [optind + 2];
        return;
    }
    if (optind != argc) {
        fprintf (stderr, "lilac-web: unexpected argument '%s'\n", argv [optind]);
        s_usage (stderr);
        exit (2);
    }
}

//  `lilac-web user add NAME`: the password is the first line of standard
//  input (so it is never on a command line), bcrypt'ed into the users file.
static int
s_user_add (const web_config_t *config, const char *name)
{
    if (!config->users_file) {
        fprintf (stderr, "lilac-web: no users file in the configuration (web/users)\n");
        return 1;
    }
    char password [256];
    if (!fgets (password, sizeof password, stdin) || !password [strcspn (password, "\r\n")]) {
        fprintf (stderr, "lilac-web: give the password on standard input\n");
        return 1;
    }
    password [strcspn (password, "\r\n")] = 0;
    char error [512];
    int rc = auth_user_add (config->users_file, name, password, error, sizeof error);
    explicit_bzero (password, sizeof password);
    if (rc) {
        fprintf (stderr, "lilac-web: %s\n", error);
        return 1;
    }
    printf ("user %s written to %s\n", name, config->users_file);
    return 0;
}

int
main (int argc, char *argv [])
{
    options_t options = { 0 };
    s_parse_options (argc, argv, &options);
    log_init ("lilac-web", options.verbose);
    web_config_t config;
    config_report_t report = { 0 };
    web_config_load (&config, options.config_file, &report);
    if (options.listen) {
        mem_replace (&config.listen, options.listen);
        mem_replace (&config.listen_at, "--listen");
    }
    if (options.user_add) {
        int rc = report.errors ? 1 : s_user_add (&config, options.user_add);
        if (report.errors)
            config_report_log (&report, "");
        web_config_free (&config);
        return rc;
    }
    bool exposed = false;
    web_config_verify (&config, &exposed, &report);
    auth_verify (&config, &report);
    if (exposed && !config.users_file && !config.tokens_file)
        config_report_add (&report, true, "no users or tokens: anybody who reaches %s may read "
                           "and act on every alert", config.listen);
    if (exposed && !config.tls_cert)
        config_report_add (&report, true, "INSECURE: serving plain HTTP on %s beyond loopback "
                           "(insecure = yes)", config.listen);
    config_report_conclude (&report, options.check_only);
    if (options.check_only) {
        char own [512];
        own_alerts_describe (&config.own, own, sizeof own);
        printf ("own alerts: %s\n", own);
        printf ("configuration OK\n");
        web_config_free (&config);
        return 0;
    }
    zsys_handler_set (NULL);        //  signals come through the loop's signalfd
    signal (SIGPIPE, SIG_IGN);      //  a client that hangs up must not kill us
    char error [CONFIG_ERROR_SIZE];
    web_t *web = web_new (&config, error, sizeof error);
    web_config_free (&config);
    if (!web)
        log_fatal ("%s", error);
    int rc = web_run (web);
    web_destroy (&web);
    zsys_shutdown ();
    return rc ? 1 : 0;
}
