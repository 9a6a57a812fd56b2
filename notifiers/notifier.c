/*  notifier.c — the program every lilac notifier is: options, config, the
    change feed, the rules, the loop. See notifier.h.

    For each change, in seq order, the rules are asked once what to do (they
    keep state: reminders thinned, flood windows) and the answer is kept as
    the change "in flight" with one done-flag per action. A destination that
    asks to retry gets only its unfinished actions again, so a change is
    never told twice to a destination that already had it — unless the
    process dies in between, which at-least-once delivery allows.
*/
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "bus.h"
#include "log.h"
#include "mem.h"
#include "signals.h"
#include "notifier.h"

#define NOTIFIER_MAX_SLEEP_MS 1000

static const char *const s_notifier_keys [] = {
    "events", "control", "state_dir", "cert", "server_key", NULL
};

typedef struct {
    const destination_class_t *class;  //  the destination's functions
    void *destination;                 //  its state
    config_t *config;                  //  the whole file; rules borrow from it
    rules_t *rules;                    //  what to act on
    change_feed_t *feed;               //  the broker's changes, in order
    notifier_env_t env;                //  what destinations may ask for
    char *events;                      //  the broker's PUB endpoint
    char *control;                     //  the broker's control endpoint (env borrows it)
    char *state_dir;                   //  where the cursor lives (env borrows it)
    char *cursor_file;                 //  state_dir/cursor
    int signal_fd;                     //  SIGINT, SIGTERM
    bool stopping;                     //  a signal arrived
    uint64_t inflight_seq;             //  the change whose actions are below, 0 none
    rule_action_t actions [RULES_MAX_ACTIONS];  //  what the rules said for it
    bool done [RULES_MAX_ACTIONS];     //  which of them are done
    size_t action_count;
} notifier_t;

//  --- options and config --------------------------------------------------------

typedef struct {
    const char *config_file;           //  -c
    bool check_only;                   //  -n
    bool verbose;                      //  -v
} options_t;

static void
s_usage (FILE *stream, const char *program)
{
    fprintf (stream,
        "usage: %s -c FILE [-n] [-v]\n"
        "  -c, --config FILE  ZPL config: sections notifier, the destination's own, rule = NAME\n"
        "  -n                 check the configuration, print the rules understood, exit\n"
        "  -v                 log every change and what the rules decided\n", program);
}

static void
s_parse_options (int argc, char *argv [], const char *program, options_t *options)
{
    static const struct option long_options [] = {
        { "config", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int option;
    while ((option = getopt_long (argc, argv, "c:nvh", long_options, NULL)) != -1)
        if (option == 'c')
            options->config_file = optarg;
        else
        if (option == 'n')
            options->check_only = true;
        else
        if (option == 'v')
            options->verbose = true;
        else {
            s_usage (option == 'h' ? stdout : stderr, program);
            exit (option == 'h' ? 0 : 2);
        }
    if (optind != argc || !options->config_file) {
        fprintf (stderr, "%s: %s\n", program, optind != argc ? "unexpected argument" : "-c FILE is required");
        s_usage (stderr, program);
        exit (2);
    }
}

//  A setting of the notifier section, or its default; a fresh string.
static char *
s_setting (config_t *section, const char *key, const char *fallback)
{
    const char *value = fallback;
    if (section)
        config_string (section, key, fallback, &value);
    return mem_strdup (value && *value ? value : fallback);
}

//  CURVE for every connection to the broker when notifier/cert and
//  notifier/server_key (else $LILAC_CERT and $LILAC_SERVER_KEY) are given.
static int
s_secure (config_t *section, char *error, size_t error_size)
{
    const char *cert = NULL, *server_key = NULL;
    if (section) {
        config_string (section, "cert", NULL, &cert);
        config_string (section, "server_key", NULL, &server_key);
    }
    if (!cert || !*cert)
        cert = getenv ("LILAC_CERT");
    if (!server_key || !*server_key)
        server_key = getenv ("LILAC_SERVER_KEY");
    bool has_cert = cert && *cert, has_key = server_key && *server_key;
    if (!has_cert && !has_key)
        return 0;
    if (!has_cert || !has_key) {
        snprintf (error, error_size, "%s given without %s: CURVE needs both (notifier/cert "
                  "and notifier/server_key, or $LILAC_CERT and $LILAC_SERVER_KEY)",
                  has_cert ? "a certificate" : "a server key",
                  has_cert ? "a server key" : "a certificate");
        return -1;
    }
    return bus_secure_client (cert, server_key, error, error_size);
}

static int
s_read_notifier_section (notifier_t *self, char *error, size_t error_size)
{
    config_t *section = config_locate (self->config, "notifier");
    if (section && config_check_keys (section, s_notifier_keys, error, error_size))
        return -1;
    char state_dir [256];
    snprintf (state_dir, sizeof state_dir, "var/notify-%s", self->class->section);
    self->events = s_setting (section, "events", BUS_DEFAULT_PUBLISH);
    self->control = s_setting (section, "control", BUS_DEFAULT_CONTROL);
    self->state_dir = s_setting (section, "state_dir", state_dir);
    self->env.control = self->control;
    self->env.state_dir = self->state_dir;
    self->env.program = self->class->program;
    return s_secure (section, error, error_size);
}

static int
s_load_config (notifier_t *self, const char *path, char *error, size_t error_size)
{
    self->config = config_load (path, error, error_size);
    if (!self->config)
        return -1;
    const char *const top [] = { "notifier", self->class->section, "rule", NULL };
    if (config_check_keys (self->config, top, error, error_size)
    ||  s_read_notifier_section (self, error, error_size))
        return -1;
    config_t *section = config_locate (self->config, self->class->section);
    if (section && config_check_keys (section, self->class->section_keys, error, error_size))
        return -1;
    self->rules = rules_load (self->config, self->class->rule_keys,
                              self->class->destination_key, error, error_size);
    return self->rules ? 0 : -1;
}

//  --- delivering ---------------------------------------------------------------------

//  The feed's callback: decide once per change, then deliver what is not
//  done yet; a retry keeps the change in flight.
static feed_result_t
s_deliver (const alert_change_t *change, void *arg, int64_t *retry_at)
{
    notifier_t *self = arg;
    if (self->inflight_seq != change->seq) {
        self->action_count = rules_decide (self->rules, change, change->at,
                                           self->actions, RULES_MAX_ACTIONS);
        memset (self->done, 0, sizeof self->done);
        self->inflight_seq = change->seq;
        log_debug ("seq %" PRIu64 " %s %s/%s: %zu actions", change->seq, change->event,
                   change->alert.source, change->alert.id, self->action_count);
    }
    for (size_t index = 0; index < self->action_count; index++) {
        if (self->done [index])
            continue;
        if (self->class->deliver (self->destination, change, &self->actions [index], retry_at)
            == FEED_RETRY)
            return FEED_RETRY;
        self->done [index] = true;
    }
    self->inflight_seq = 0;
    return FEED_DONE;
}

//  --- the loop --------------------------------------------------------------------------

static long
s_poll_timeout (notifier_t *self, int64_t mono_now)
{
    int64_t wait = change_feed_next_wakeup (self->feed, mono_now);
    if (self->class->next_wakeup) {
        int64_t destination = self->class->next_wakeup (self->destination, mono_now);
        if (destination >= 0 && destination < wait)
            wait = destination;
    }
    if (wait > NOTIFIER_MAX_SLEEP_MS)
        wait = NOTIFIER_MAX_SLEEP_MS;
    return wait < 0 ? 0 : (long) wait;
}

static void
s_run (notifier_t *self)
{
    log_info ("ready: changes from %s, control %s, %zu rules, cursor in %s",
              self->events, self->env.control, rules_count (self->rules), self->cursor_file);
    while (!self->stopping) {
        zmq_pollitem_t items [] = {
            { zsock_resolve (change_feed_socket (self->feed)), 0, ZMQ_POLLIN, 0 },
            { NULL, self->signal_fd, ZMQ_POLLIN, 0 },
        };
        if (zmq_poll (items, 2, s_poll_timeout (self, zclock_mono ())) < 0 && errno != EINTR)
            log_error ("poll failed: %s", zmq_strerror (errno));
        struct signalfd_siginfo info;
        while (read (self->signal_fd, &info, sizeof info) == sizeof info) {
            log_info ("%s: exiting at seq %" PRIu64, strsignal ((int) info.ssi_signo),
                      change_feed_cursor (self->feed));
            self->stopping = true;
        }
        if (self->stopping)
            break;
        int64_t mono_now = zclock_mono ();
        change_feed_work (self->feed, mono_now, s_deliver, self);
        if (self->class->work)
            self->class->work (self->destination, mono_now);
    }
}

//  --- start and stop ----------------------------------------------------------------------

static int
s_start (notifier_t *self, char *error, size_t error_size)
{
    if (paths_make_dirs (self->env.state_dir, error, error_size))
        return -1;
    char cursor_file [600];
    snprintf (cursor_file, sizeof cursor_file, "%s/cursor", self->env.state_dir);
    self->cursor_file = mem_strdup (cursor_file);
    self->destination = self->class->open (config_locate (self->config, self->class->section),
                                           &self->env, error, error_size);
    if (!self->destination)
        return -1;
    change_feed_config_t feed = { .events = self->events, .control = self->env.control,
                                  .cursor_file = self->cursor_file };
    self->feed = change_feed_new (&feed, error, error_size);
    if (!self->feed)
        return -1;
    self->signal_fd = signals_open_fd ((const int []) { SIGINT, SIGTERM }, 2);
    if (self->signal_fd < 0) {
        snprintf (error, error_size, "cannot set up signals: %s", strerror (errno));
        return -1;
    }
    return 0;
}

static void
s_destroy (notifier_t *self)
{
    change_feed_destroy (&self->feed);
    if (self->destination)
        self->class->close (&self->destination);
    rules_destroy (&self->rules);
    config_destroy (&self->config);
    if (self->signal_fd >= 0)
        close (self->signal_fd);
    mem_free (self->events);
    mem_free (self->control);
    mem_free (self->state_dir);
    mem_free (self->cursor_file);
}

int
notifier_main (int argc, char *argv [], const destination_class_t *destination)
{
    options_t options = { 0 };
    s_parse_options (argc, argv, destination->program, &options);
    log_init (destination->program, options.verbose);
    notifier_t self = { .class = destination, .signal_fd = -1 };
    char error [CONFIG_ERROR_SIZE];
    if (s_load_config (&self, options.config_file, error, sizeof error)) {
        s_destroy (&self);
        log_fatal ("%s", error);
    }
    if (options.check_only) {
        //  The destination reads its own section when it opens: do that too
        self.destination = destination->open (config_locate (self.config, destination->section),
                                              &self.env, error, sizeof error);
        if (!self.destination) {
            s_destroy (&self);
            log_fatal ("%s", error);
        }
        rules_describe (self.rules, stdout, destination->destination_is_secret);
        printf ("configuration OK\n");
        s_destroy (&self);
        return 0;
    }
    signal (SIGPIPE, SIG_IGN);          //  a command that exits early must not kill us
    zsys_handler_set (NULL);            //  signals come through the signalfd
    if (s_start (&self, error, sizeof error)) {
        s_destroy (&self);
        log_fatal ("%s", error);
    }
    s_run (&self);
    s_destroy (&self);
    zsys_shutdown ();
    return 0;
}
