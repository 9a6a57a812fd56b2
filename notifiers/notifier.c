/*  notifier.c — the program every lilac notifier is: options, config, the
    change feed, the rules, the loop. See notifier.h.

    For each change, in seq order, the rules are asked once what to do (they
    keep state: reminders thinned, flood windows) and the answer is kept as
    the change "in flight" with one done-flag per action. A destination that
    asks to retry gets only its unfinished actions again, so a change is
    never told twice to a destination that already had it — unless the
    process dies in between, which at-least-once delivery allows.

    SIGHUP reloads the rules from the config file. A file that does not
    load is logged ("SIGHUP: FILE:LINE: why") and the running rules stay.
    A good one replaces the rules, whose memory (reminders thinned, flood
    windows, escalations) starts afresh; the change in flight keeps the
    actions it was given, so the old rules and their config are kept
    ("retired") until it is done. The notifier and destination sections
    are bound to open sockets and destination state (Pushover receipts,
    runs being retried): a change to either is logged as taking effect
    after a restart.

    The loop polls the feed's two sockets (its SUB and its control
    DEALER: change_feed_poll_items) and the signalfd. The feed never waits
    on the broker (its requests are in flight, their replies read when the
    DEALER is readable), so an idle notifier is always in that poll.

    Signals: SIGHUP, SIGINT and SIGTERM are blocked and read from a
    signalfd that the loop polls. While a turn runs, SIGINT and SIGTERM are
    unblocked to a handler that only sets a flag, for the destinations'
    synchronous calls: Pushover asks the broker (get, ack: up to 3 s each
    while it is away) and Pushover's API from its work and deliver; a call
    waiting on zmq_poll sees EINTR and gives up at once, so SIGTERM is never
    held up by a broker that does not answer. The feed's SUB is closed with
    linger 0 (a SUB has nothing worth sending; its DEALER is closed so by
    ctl_destroy), so exit does not wait for a broker that is gone either.
*/
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "version.h"
#include "bus.h"
#include "log.h"
#include "mem.h"
#include "signals.h"
#include "broker_watch.h"
#include "notifier.h"

#define NOTIFIER_MAX_SLEEP_MS 1000

static const char *const s_notifier_keys [] = {
    "events", "control", "state_dir", "cert", "server_key", "broker_silence", NULL
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
    const char *config_file;           //  the -c path, for SIGHUP (argv's)
    config_t *retired_config;          //  a reloaded config the change in flight uses
    rules_t *retired_rules;            //  and its rules, or NULL
    int signal_fd;                     //  SIGINT, SIGTERM, SIGHUP
    bool stopping;                     //  a signal arrived
    uint64_t inflight_seq;             //  the change whose actions are below, 0 none
    rule_action_t actions [RULES_MAX_ACTIONS];  //  what the rules said for it
    bool done [RULES_MAX_ACTIONS];     //  which of them are done
    size_t action_count;
    broker_watch_t *watch;             //  broker_silence: our own word about the broker
    alert_change_t health;             //  that word, while being delivered
    bool health_pending;               //  health holds a message not yet delivered everywhere
    rule_action_t health_actions [RULES_MAX_ACTIONS];   //  one per destination
    bool health_done [RULES_MAX_ACTIONS];
    size_t health_count;
    int64_t health_retry_at;           //  mono ms: next attempt at what is not done
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
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int option;
    while ((option = getopt_long (argc, argv, "c:nvh", long_options, NULL)) != -1)
        if (option == 'V') {
            printf ("%s %s\n", program, LILAC_VERSION);
            exit (0);
        }
        else
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
//  A bad certificate or key is added to errors, at the key's line.
static void
s_secure (config_t *section, config_report_t *errors)
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
        return;
    char error [CONFIG_ERROR_SIZE];
    if (!has_cert || !has_key)
        snprintf (error, sizeof error, "%s given without %s: CURVE needs both (notifier/cert "
                  "and notifier/server_key, or $LILAC_CERT and $LILAC_SERVER_KEY)",
                  has_cert ? "a certificate" : "a server key",
                  has_cert ? "a server key" : "a certificate");
    else
    if (bus_secure_client (cert, server_key, error, sizeof error) == 0)
        return;
    config_t *node = section ? config_locate (section, "cert") : NULL;
    if (!node && section)
        node = config_locate (section, "server_key");
    if (node)
        config_report_at (errors, node, "%s", error);
    else
        config_report_error (errors, error);
}

//  The notifier section: its keys, its endpoints, and (secure: at start
//  and -n, not on SIGHUP) its CURVE files, which it then applies.
static void
s_check_notifier_section (config_t *section, config_report_t *errors, bool secure)
{
    config_report_check_keys (errors, section, s_notifier_keys);
    const char *const endpoints [] = { "events", "control" };
    for (size_t index = 0; section && index < 2; index++) {
        config_t *node = config_locate (section, endpoints [index]);
        char why [CONFIG_ERROR_SIZE];
        if (node && bus_endpoint_check (config_value (node), why, sizeof why))
            config_report_at (errors, node, "notifier/%s: %s", endpoints [index], why);
    }
    int64_t silence;
    char error [CONFIG_ERROR_SIZE];
    if (section && config_duration (section, "broker_silence", BROKER_WATCH_DEFAULT_MS, &silence,
                                    error, sizeof error))
        config_report_error (errors, error);
    else
    if (section && silence < 0)
        config_report_at (errors, config_locate (section, "broker_silence"),
                          "notifier/broker_silence: must not be negative (0 turns it off)");
    if (secure)
        s_secure (section, errors);
}

//  broker_silence, checked already.
static int64_t
s_broker_silence (config_t *root)
{
    int64_t silence = BROKER_WATCH_DEFAULT_MS;
    config_t *section = config_locate (root, "notifier");
    char error [CONFIG_ERROR_SIZE];
    if (section && config_duration (section, "broker_silence", BROKER_WATCH_DEFAULT_MS, &silence,
                                    error, sizeof error))
        silence = BROKER_WATCH_DEFAULT_MS;
    return silence;
}

static void
s_read_notifier_section (notifier_t *self)
{
    config_t *section = config_locate (self->config, "notifier");
    char state_dir [256];
    snprintf (state_dir, sizeof state_dir, "var/notify-%s", self->class->section);
    self->events = s_setting (section, "events", BUS_DEFAULT_PUBLISH);
    self->control = s_setting (section, "control", BUS_DEFAULT_CONTROL);
    self->state_dir = s_setting (section, "state_dir", state_dir);
    self->env.control = self->control;
    self->env.state_dir = self->state_dir;
    self->env.program = self->class->program;
}

//  Reads and checks path as a whole: the sections known, the notifier's
//  section, the destination's (its class's check), every rule. 0 with
//  *config_p and *rules_p, or -1 with every problem in errors (nothing
//  kept).
static int
s_config_read (const destination_class_t *class, const char *path, bool secure,
               config_t **config_p, rules_t **rules_p, config_report_t *errors)
{
    *rules_p = NULL;
    char error [CONFIG_ERROR_SIZE];
    *config_p = config_load (path, error, sizeof error);
    if (!*config_p) {
        config_report_error (errors, error);
        return -1;
    }
    const char *const top [] = { "notifier", class->section, "rule", NULL };
    config_report_check_keys (errors, *config_p, top);
    s_check_notifier_section (config_locate (*config_p, "notifier"), errors, secure);
    config_report_check_keys (errors, config_locate (*config_p, class->section),
                              class->section_keys);
    if (class->check)
        class->check (*config_p, errors);
    *rules_p = rules_load_all (*config_p, class->rule_keys, class->destination_key, errors);
    if (config_report_count (errors) == 0)
        return 0;
    rules_destroy (rules_p);
    config_destroy (config_p);
    return -1;
}

//  Logs every error, each after prefix, and how many there were.
static void
s_log_errors (config_report_t *errors, const char *prefix)
{
    for (size_t index = 0; config_report_get (errors, index); index++)
        log_error ("%s%s", prefix, config_report_get (errors, index));
    size_t count = config_report_count (errors);
    for (size_t index = 0; config_report_get (errors, index); index++)
        count--;
    if (count)
        log_error ("%s%zu more errors not shown", prefix, count);
}

//  The config file at start: every error is logged, then exit 1.
static void
s_load_config (notifier_t *self, const char *path)
{
    config_report_t *errors = config_report_new ();
    if (s_config_read (self->class, path, true, &self->config, &self->rules, errors)) {
        s_log_errors (errors, "");
        size_t count = config_report_count (errors);
        config_report_destroy (&errors);
        log_fatal ("%s: %zu error%s", path, count, count == 1 ? "" : "s");
    }
    config_report_destroy (&errors);
    s_read_notifier_section (self);
}

//  --- broker_silence ---------------------------------------------------------------------

//  The health message's actions: one per destination any rule names, all
//  to do again.
static void
s_health_actions (notifier_t *self)
{
    self->health_count = rules_destinations (self->rules, self->health_actions,
                                             RULES_MAX_ACTIONS);
    for (size_t index = 0; index < self->health_count; index++)
        self->health_actions [index].rule = "broker_silence";
    memset (self->health_done, 0, sizeof self->health_done);
    self->health_retry_at = 0;
}

static void
s_health_drop (notifier_t *self)
{
    if (self->health_pending)
        alert_change_free (&self->health);
    self->health_pending = false;
}

//  Delivers what is not done of the health message; a retry waits.
static void
s_health_deliver (notifier_t *self, int64_t mono_now)
{
    if (!self->health_pending || mono_now < self->health_retry_at)
        return;
    for (size_t index = 0; index < self->health_count; index++) {
        if (self->health_done [index])
            continue;
        int64_t retry_at = 0;
        if (self->class->deliver (self->destination, &self->health,
                                  &self->health_actions [index], &retry_at) == FEED_RETRY) {
            self->health_retry_at = retry_at > mono_now ? retry_at : mono_now + 1;
            return;
        }
        self->health_done [index] = true;
    }
    s_health_drop (self);
}

//  Asks the watch whether the broker's condition changed; a new message
//  replaces one not yet delivered everywhere.
static void
s_watch_broker (notifier_t *self, int64_t mono_now)
{
    change_feed_health_t health = change_feed_health (self->feed);
    bool pending = (zsock_events (change_feed_socket (self->feed)) & ZMQ_POLLIN) != 0;
    alert_change_t change;
    if (broker_watch_update (self->watch, &health, pending, mono_now, zclock_time (), &change)) {
        s_health_drop (self);
        self->health = change;
        self->health_pending = true;
        s_health_actions (self);
        log_info ("broker_silence: telling %zu destination%s", self->health_count,
                  self->health_count == 1 ? "" : "s");
    }
    s_health_deliver (self, mono_now);
}

//  --- SIGHUP ----------------------------------------------------------------------------

//  Appends node's children as text ("name=value" lines, children indented)
//  to text, to tell whether a reload changed a section.
static void
s_section_text (config_t *node, int depth, zchunk_t *text)
{
    for (config_t *child = config_child (node); child; child = config_next (child)) {
        if (depth == 0 && streq (config_name (child), "broker_silence"))
            continue;                   //  reloaded, not bound
        char *line = zsys_sprintf ("%*s%s=%s\n", depth * 4, "", config_name (child),
                                   config_value (child));
        if (line) {
            zchunk_extend (text, line, strlen (line));
            zstr_free (&line);
        }
        s_section_text (child, depth + 1, text);
    }
}

static bool
s_section_changed (config_t *old_root, config_t *new_root, const char *path)
{
    zchunk_t *before = zchunk_new (NULL, 0), *after = zchunk_new (NULL, 0);
    config_t *old_section = config_locate (old_root, path);
    config_t *new_section = config_locate (new_root, path);
    if (old_section)
        s_section_text (old_section, 0, before);
    if (new_section)
        s_section_text (new_section, 0, after);
    bool changed = zchunk_size (before) != zchunk_size (after)
                || (zchunk_size (before) > 0
                    && memcmp (zchunk_data (before), zchunk_data (after), zchunk_size (before)));
    zchunk_destroy (&before);
    zchunk_destroy (&after);
    return changed;
}

//  The config and rules the change in flight was decided with, once it is
//  done (or at exit).
static void
s_retired_free (notifier_t *self)
{
    rules_destroy (&self->retired_rules);
    config_destroy (&self->retired_config);
}

static void
s_reload (notifier_t *self)
{
    config_t *config;
    rules_t *rules;
    config_report_t *errors = config_report_new ();
    if (s_config_read (self->class, self->config_file, false, &config, &rules, errors)) {
        s_log_errors (errors, "SIGHUP: ");
        log_error ("SIGHUP: %zu error%s in %s — keeping the running rules",
                   config_report_count (errors), config_report_count (errors) == 1 ? "" : "s",
                   self->config_file);
        config_report_destroy (&errors);
        return;
    }
    config_report_destroy (&errors);
    const char *const bound [] = { "notifier", self->class->section };
    for (size_t index = 0; index < 2; index++)
        if (s_section_changed (self->config, config, bound [index]))
            log_warn ("SIGHUP: section %s changed: that takes effect after a restart",
                      bound [index]);
    if (self->inflight_seq && !self->retired_rules) {
        self->retired_rules = self->rules;          //  the change in flight uses them
        self->retired_config = self->config;
    }
    else {
        rules_destroy (&self->rules);
        config_destroy (&self->config);
    }
    self->rules = rules;
    self->config = config;
    broker_watch_set_silence (self->watch, s_broker_silence (config));
    if (self->health_pending)
        s_health_actions (self);        //  the old ones borrowed the old rules
    log_info ("SIGHUP: reloaded %s: %zu rules", self->config_file, rules_count (rules));
}

//  Set by the handler SIGINT and SIGTERM have while a turn runs.
static volatile sig_atomic_t s_stop_signal;

static void
s_on_stop_signal (int signal_number)
{
    s_stop_signal = signal_number;
}

//  Unblocks (during a turn) or blocks again SIGINT and SIGTERM.
static void
s_stop_signals_unblocked (bool unblocked)
{
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGINT);
    sigaddset (&set, SIGTERM);
    if (sigprocmask (unblocked ? SIG_UNBLOCK : SIG_BLOCK, &set, NULL))
        log_error ("sigprocmask failed: %s", strerror (errno));
}

static void
s_stop (notifier_t *self, int signal_number)
{
    log_info ("%s: exiting at seq %" PRIu64, strsignal (signal_number),
              change_feed_cursor (self->feed));
    self->stopping = true;
}

static void
s_read_signals (notifier_t *self)
{
    struct signalfd_siginfo info;
    while (read (self->signal_fd, &info, sizeof info) == sizeof info)
        if (info.ssi_signo == SIGHUP)
            s_reload (self);
        else
            s_stop (self, (int) info.ssi_signo);
}

//  --- delivering ---------------------------------------------------------------------

//  The feed's callback: decide once per change, then deliver what is not
//  done yet; a retry keeps the change in flight.
static feed_result_t
s_deliver (const alert_change_t *change, void *arg, int64_t *retry_at)
{
    notifier_t *self = arg;
    if (s_stop_signal) {                //  SIGTERM during the turn: no more
        *retry_at = zclock_mono () + 1;
        return FEED_RETRY;
    }
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
    s_retired_free (self);
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
    change_feed_health_t health = change_feed_health (self->feed);
    int64_t watch = broker_watch_next_wakeup (self->watch, &health, mono_now);
    if (watch >= 0 && watch < wait)
        wait = watch;
    if (self->health_pending && self->health_retry_at - mono_now < wait)
        wait = self->health_retry_at - mono_now;
    if (wait > NOTIFIER_MAX_SLEEP_MS)
        wait = NOTIFIER_MAX_SLEEP_MS;
    return wait < 0 ? 0 : (long) wait;
}

//  One turn: the feed's work and the destination's, with SIGINT and
//  SIGTERM able to cut a destination's waiting control call short.
static void
s_turn (notifier_t *self)
{
    s_stop_signals_unblocked (true);
    int64_t mono_now = zclock_mono ();
    if (!s_stop_signal)
        change_feed_work (self->feed, mono_now, s_deliver, self);
    if (self->class->work && !s_stop_signal)
        self->class->work (self->destination, mono_now);
    if (!s_stop_signal)
        s_watch_broker (self, zclock_mono ());
    s_stop_signals_unblocked (false);
    if (s_stop_signal)
        s_stop (self, s_stop_signal);
}

static void
s_run (notifier_t *self)
{
    log_info ("ready: changes from %s, control %s, %zu rules, cursor in %s",
              self->events, self->env.control, rules_count (self->rules), self->cursor_file);
    while (!self->stopping) {
        zmq_pollitem_t items [FEED_POLL_ITEMS + 1];
        int count = change_feed_poll_items (self->feed, items, FEED_POLL_ITEMS);
        assert (count == FEED_POLL_ITEMS);
        items [count] = (zmq_pollitem_t) { NULL, self->signal_fd, ZMQ_POLLIN, 0 };
        if (zmq_poll (items, count + 1, s_poll_timeout (self, zclock_mono ())) < 0
        &&  errno != EINTR)
            log_error ("poll failed: %s", zmq_strerror (errno));
        s_read_signals (self);
        if (!self->stopping)
            s_turn (self);
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
    self->watch = broker_watch_new (s_broker_silence (self->config));
    self->signal_fd = signals_open_fd ((const int []) { SIGINT, SIGTERM, SIGHUP }, 3);
    if (self->signal_fd < 0 || signals_on_stop (s_on_stop_signal)) {
        snprintf (error, error_size, "cannot set up signals: %s", strerror (errno));
        return -1;
    }
    return 0;
}

static void
s_destroy (notifier_t *self)
{
    if (self->feed) {                   //  see the file comment: no linger
        int linger = 0;
        if (zmq_setsockopt (zsock_resolve (change_feed_socket (self->feed)), ZMQ_LINGER,
                            &linger, sizeof linger))
            log_warn ("cannot drop the SUB's linger: %s", zmq_strerror (zmq_errno ()));
    }
    change_feed_destroy (&self->feed);
    s_health_drop (self);
    broker_watch_destroy (&self->watch);
    if (self->destination)
        self->class->close (&self->destination);
    rules_destroy (&self->rules);
    config_destroy (&self->config);
    s_retired_free (self);
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
    notifier_t self = { .class = destination, .signal_fd = -1,
                        .config_file = options.config_file };
    char error [CONFIG_ERROR_SIZE];
    s_load_config (&self, options.config_file);
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
