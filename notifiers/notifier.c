/*  notifier.c — the program every lilac notifier is: options, config, the
    change feed, the rules, the loop. See notifier.h.

    For each change, in seq order, the destination may observe it, then
    the rules are asked once what to do (they keep state: reminders
    thinned, flood windows) and the actions go to the delivery core
    (delivery.h) with a copy of the change. The core runs them per
    destination, in order, without waiting, and retries what failed; the
    cursor file is held below the oldest change not finished everywhere
    (change_feed_hold), so a change is told at least once — twice only
    when the process dies in between.

    SIGHUP reloads the rules from the config file. A file that does not
    load is logged ("SIGHUP: FILE:LINE: why") and the running rules stay.
    A good one replaces the rules, whose memory (reminders thinned, flood
    windows, escalations) starts afresh. Changes in flight keep the
    actions they were given: each holds a reference to the rules and
    config they were decided with (ruleset_t), freed with the last. The
    notifier and destination sections are bound to open sockets and
    destination state (Pushover receipts, runs being retried): a change
    to either is logged as taking effect after a restart.

    The loop polls the feed's two sockets (its SUB and its control
    DEALER: change_feed_poll_items), the signalfd, and the fds the
    destination watches (loop.h). Nothing in a turn waits: the feed's
    requests, libcurl's transfers (http.h) and commands (exec) all end in
    this poll. So SIGTERM is read at the next turn, at once.

    The feed's SUB is closed with linger 0 (a SUB has nothing worth
    sending; its DEALER is closed so by ctl_destroy), so exit does not
    wait for a broker that is gone either.
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
#include "timespec.h"
#include "broker_watch.h"
#include "delivery_alarm.h"
#include "notifier.h"
#include "own_alerts.h"

#define NOTIFIER_MAX_SLEEP_MS 1000
#define NOTIFIER_RETRY_FOR_MS (60 * 60 * 1000)     //  unless the destination says

static const char *const s_notifier_keys [] = {
    "events", "control", "state_dir", "cert", "server_key", "broker_silence",
    "own_source", "own_name", "heartbeat", "delivery_alarm", NULL
};

//  A config and the rules read from it, shared by the changes decided
//  with them (refs); freed with the last once replaced.
typedef struct {
    config_t *config;
    rules_t *rules;
    int refs;
} ruleset_t;

typedef struct {
    const destination_class_t *class;  //  the destination's functions
    void *destination;                 //  its state
    ruleset_t *ruleset;                //  the running config and rules
    config_t *config;                  //  = ruleset->config
    rules_t *rules;                    //  = ruleset->rules
    change_feed_t *feed;               //  the broker's changes, in order
    loop_t *loop;                      //  fds the destination watches
    http_t *http;                      //  libcurl, in the loop
    deliveries_t *deliveries;          //  the delivery core
    notifier_env_t env;                //  what destinations may ask for
    char *events;                      //  the broker's PUB endpoint
    char *control;                     //  the broker's control endpoint (env borrows it)
    char *state_dir;                   //  where the cursor lives (env borrows it)
    char *cursor_file;                 //  state_dir/cursor
    const char *config_file;           //  the -c path, for SIGHUP (argv's)
    int signal_fd;                     //  SIGINT, SIGTERM, SIGHUP
    bool stopping;                     //  a signal arrived
    broker_watch_t *watch;             //  broker_silence: our own word about the broker
    own_settings_t own;                //  our own alerts at the broker (own_alerts.h)
    int64_t alarm_ms;                  //  delivery_alarm, 0: off
    own_alerts_t *own_alerts;          //  NULL when both are off
    delivery_alarm_t *alarm;           //  NULL when off
} notifier_t;

static ruleset_t *
s_ruleset_new (config_t *config, rules_t *rules)
{
    ruleset_t *ruleset = mem_alloc (sizeof *ruleset);
    ruleset->config = config;
    ruleset->rules = rules;
    ruleset->refs = 1;
    return ruleset;
}

static ruleset_t *
s_ruleset_take (ruleset_t *ruleset)
{
    ruleset->refs++;
    return ruleset;
}

static void
s_ruleset_release (void *hold)
{
    ruleset_t *ruleset = hold;
    if (ruleset && --ruleset->refs == 0) {
        rules_destroy (&ruleset->rules);
        config_destroy (&ruleset->config);
        mem_free (ruleset);
    }
}

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

//  The client certificate: notifier/cert, else $LILAC_CERT (s_secure's).
static const char *
s_cert_path (config_t *section)
{
    const char *cert = NULL;
    if (section)
        config_string (section, "cert", NULL, &cert);
    return cert && *cert ? cert : getenv ("LILAC_CERT");
}

//  delivery_alarm (delivery_alarm.h): a duration, 0 for off. Problems go
//  to errors.
static int64_t
s_delivery_alarm (config_t *section, config_report_t *errors)
{
    int64_t alarm = DELIVERY_ALARM_DEFAULT_MS;
    char error [CONFIG_ERROR_SIZE];
    if (section && config_duration (section, "delivery_alarm", DELIVERY_ALARM_DEFAULT_MS,
                                    &alarm, error, sizeof error)) {
        config_report_error (errors, error);
        alarm = DELIVERY_ALARM_DEFAULT_MS;
    }
    return alarm;
}

//  The own alerts' settings (own_alerts.h, delivery_alarm.h) into *own and
//  *alarm_ms, each problem in errors.
static void
s_own_settings (config_t *section, const char *program, own_settings_t *own,
                int64_t *alarm_ms, config_report_t *errors)
{
    own_settings_read (section, program, s_cert_path (section), own, errors);
    *alarm_ms = s_delivery_alarm (section, errors);
}

//  The notifier section: its keys, its endpoints, and (secure: at start
//  and -n, not on SIGHUP) its CURVE files, which it then applies.
static void
s_check_notifier_section (config_t *section, const char *program, config_report_t *errors,
                          bool secure)
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
    own_settings_t own;
    int64_t alarm;
    s_own_settings (section, program, &own, &alarm, errors);
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
    config_report_t *checked = config_report_new ();     //  checked already
    s_own_settings (section, self->class->program, &self->own, &self->alarm_ms, checked);
    config_report_destroy (&checked);
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
    s_check_notifier_section (config_locate (*config_p, "notifier"), class->program, errors,
                              secure);
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
    self->ruleset = s_ruleset_new (self->config, self->rules);
    s_read_notifier_section (self);
}

//  --- broker_silence ---------------------------------------------------------------------

//  Asks the watch whether the broker's condition changed; if so, the
//  message goes to every destination any rule names, through the core.
static void
s_watch_broker (notifier_t *self, int64_t mono_now)
{
    change_feed_health_t health = change_feed_health (self->feed);
    bool pending = (zsock_events (change_feed_socket (self->feed)) & ZMQ_POLLIN) != 0;
    alert_change_t change;
    if (!broker_watch_update (self->watch, &health, pending, mono_now, zclock_time (), &change))
        return;
    rule_action_t actions [RULES_MAX_ACTIONS];
    size_t count = rules_destinations (self->rules, actions, RULES_MAX_ACTIONS);
    for (size_t index = 0; index < count; index++)
        actions [index].rule = "broker_silence";
    log_info ("broker_silence: telling %zu destination%s", count, count == 1 ? "" : "s");
    if (count && deliveries_add (self->deliveries, &change, actions, count, false,
                                 s_ruleset_take (self->ruleset))) {
        s_ruleset_release (self->ruleset);
        log_error ("broker_silence: %zu changes in flight: the message about the broker "
                   "is dropped", deliveries_count (self->deliveries));
    }
    alert_change_free (&change);
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
    s_ruleset_release (self->ruleset);              //  changes in flight may keep it
    self->ruleset = s_ruleset_new (config, rules);
    self->rules = rules;
    self->config = config;
    broker_watch_set_silence (self->watch, s_broker_silence (config));
    log_info ("SIGHUP: reloaded %s: %zu rules", self->config_file, rules_count (rules));
}

static void
s_stop (notifier_t *self, int signal_number)
{
    log_info ("%s: exiting at seq %" PRIu64, strsignal (signal_number),
              change_feed_cursor (self->feed));
    if (self->own_alerts)
        own_alerts_stopping (self->own_alerts);
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

static void s_hold_cursor (notifier_t *self);

//  The feed's callback: the destination observes the change, the rules
//  decide once, and the actions go to the core with the change. The
//  cursor file is held below what is unfinished before DONE lets the feed
//  save it, so it never passes a change taken but not yet delivered.
static feed_result_t
s_take (const alert_change_t *change, void *arg, int64_t *retry_at)
{
    notifier_t *self = arg;
    if (deliveries_full (self->deliveries)) {
        *retry_at = zclock_mono () + 100;           //  settling frees room first
        return FEED_RETRY;
    }
    if (self->class->observe)
        self->class->observe (self->destination, change);
    rule_action_t actions [RULES_MAX_ACTIONS];
    size_t count = rules_decide (self->rules, change, change->at, actions, RULES_MAX_ACTIONS);
    log_debug ("seq %" PRIu64 " %s %s/%s: %zu actions", change->seq, change->event,
               change->alert.source, change->alert.id, count);
    if (count && deliveries_add (self->deliveries, change, actions, count, true,
                                 s_ruleset_take (self->ruleset))) {
        //  Full was checked above: the change could not be copied. It is
        //  decided already (observed, counted by the rules): deciding it
        //  again would count twice, and it would fail again.
        s_ruleset_release (self->ruleset);
        log_error ("seq %" PRIu64 " %s %s/%s: cannot be kept for delivery (out of memory?):"
                   " dropped", change->seq, change->event, change->alert.source,
                   change->alert.id);
    }
    s_hold_cursor (self);
    return FEED_DONE;
}

//  The cursor file may not pass the oldest change of the feed's epoch not
//  finished (changes of an epoch the broker left are not the cursor's:
//  the feed rewound past them).
static void
s_hold_cursor (notifier_t *self)
{
    uint64_t oldest = deliveries_oldest (self->deliveries, change_feed_epoch (self->feed));
    change_feed_hold (self->feed, oldest ? oldest - 1 : UINT64_MAX);
}

//  --- the loop --------------------------------------------------------------------------

//  What our own alerts are, for the log and -n.
static void
s_describe_own (notifier_t *self, char *out, size_t size)
{
    char heartbeat [500], delivery [500];
    own_alerts_describe (&self->own, heartbeat, sizeof heartbeat);
    delivery_alarm_describe (&self->own, self->alarm_ms, delivery, sizeof delivery);
    snprintf (out, size, "%s; %s", heartbeat, delivery);
}

static int64_t
s_sooner (int64_t wait, int64_t other)
{
    return other >= 0 && other < wait ? other : wait;
}

static long
s_poll_timeout (notifier_t *self, int64_t mono_now)
{
    int64_t wait = change_feed_next_wakeup (self->feed, mono_now);
    if (self->class->next_wakeup)
        wait = s_sooner (wait, self->class->next_wakeup (self->destination, mono_now));
    wait = s_sooner (wait, http_next_wakeup (self->http, mono_now));
    wait = s_sooner (wait, deliveries_next_wakeup (self->deliveries, mono_now));
    change_feed_health_t health = change_feed_health (self->feed);
    wait = s_sooner (wait, broker_watch_next_wakeup (self->watch, &health, mono_now));
    if (self->own_alerts)
        wait = s_sooner (wait, own_alerts_next_wakeup (self->own_alerts, mono_now));
    if (self->alarm)
        wait = s_sooner (wait, delivery_alarm_next_wakeup (self->alarm, mono_now));
    if (wait > NOTIFIER_MAX_SLEEP_MS)
        wait = NOTIFIER_MAX_SLEEP_MS;
    return wait < 0 ? 0 : (long) wait;
}

//  One turn: libcurl, the destination's own work, the feed, the core.
static void
s_turn (notifier_t *self)
{
    int64_t mono_now = zclock_mono ();
    http_work (self->http, mono_now);
    if (self->class->work)
        self->class->work (self->destination, mono_now);
    change_feed_work (self->feed, mono_now, s_take, self);
    s_watch_broker (self, zclock_mono ());
    deliveries_work (self->deliveries, zclock_mono ());
    s_hold_cursor (self);
    if (self->alarm)
        delivery_alarm_update (self->alarm, zclock_mono ());
    if (self->own_alerts)
        own_alerts_work (self->own_alerts, zclock_mono ());
}

#define S_POLL_ITEMS (FEED_POLL_ITEMS + 2 + LOOP_MAX_WATCHES)

static void
s_run (notifier_t *self)
{
    log_info ("ready: changes from %s, control %s, %zu rules, cursor in %s",
              self->events, self->env.control, rules_count (self->rules), self->cursor_file);
    char own [1024];
    s_describe_own (self, own, sizeof own);
    log_info ("own alerts: %s", own);
    while (!self->stopping) {
        zmq_pollitem_t items [S_POLL_ITEMS];
        int count = change_feed_poll_items (self->feed, items, FEED_POLL_ITEMS);
        assert (count == FEED_POLL_ITEMS);
        items [count++] = (zmq_pollitem_t) { NULL, self->signal_fd, ZMQ_POLLIN, 0 };
        if (self->own_alerts)
            items [count++] = (zmq_pollitem_t) {
                zsock_resolve (own_alerts_socket (self->own_alerts)), 0, ZMQ_POLLIN, 0 };
        int first_watch = count;
        count += loop_items (self->loop, items + count, S_POLL_ITEMS - count);
        if (zmq_poll (items, count, s_poll_timeout (self, zclock_mono ())) < 0
        &&  errno != EINTR)
            log_error ("poll failed: %s", zmq_strerror (errno));
        s_read_signals (self);
        if (self->stopping)
            break;
        loop_dispatch (self->loop, items + first_watch, count - first_watch);
        s_turn (self);
    }
}

//  --- start and stop ----------------------------------------------------------------------

//  The loop, libcurl, the destination and the core behind it.
static int
s_open_destination (notifier_t *self, char *error, size_t error_size)
{
    self->loop = loop_new ();
    self->http = http_new (self->loop, error, error_size);
    if (!self->http)
        return -1;
    self->env.loop = self->loop;
    self->env.http = self->http;
    self->env.retry_for_ms = NOTIFIER_RETRY_FOR_MS;
    self->env.lane_window = 1;
    self->destination = self->class->open (config_locate (self->config, self->class->section),
                                           &self->env, error, error_size);
    if (!self->destination)
        return -1;
    deliveries_config_t config = {
        .start = self->class->start, .destination = self->destination,
        .retry_for_ms = self->env.retry_for_ms,
        .lane_window = self->env.lane_window ? self->env.lane_window : 1,
        .lane_shown = self->class->destination_shown,
        .release = s_ruleset_release
    };
    self->deliveries = deliveries_new (&config);
    return 0;
}

static int
s_start (notifier_t *self, char *error, size_t error_size)
{
    if (paths_make_dirs (self->env.state_dir, error, error_size))
        return -1;
    char cursor_file [600];
    snprintf (cursor_file, sizeof cursor_file, "%s/cursor", self->env.state_dir);
    self->cursor_file = mem_strdup (cursor_file);
    if (s_open_destination (self, error, error_size))
        return -1;
    change_feed_config_t feed = { .events = self->events, .control = self->env.control,
                                  .cursor_file = self->cursor_file };
    self->feed = change_feed_new (&feed, error, error_size);
    if (!self->feed)
        return -1;
    self->watch = broker_watch_new (s_broker_silence (self->config));
    if (self->own.heartbeat_ms > 0 || self->alarm_ms > 0) {
        own_alerts_config_t own = {
            .program = self->class->program, .settings = &self->own, .control = self->control,
            .trouble = self->alarm_ms > 0 ? DELIVERY_ALARM_ID : NULL };
        self->own_alerts = own_alerts_new (&own, error, error_size);
        if (!self->own_alerts)
            return -1;
        if (self->alarm_ms > 0)
            self->alarm = delivery_alarm_new (self->class->program, self->alarm_ms,
                                              self->deliveries, self->own_alerts);
    }
    self->signal_fd = signals_open_fd ((const int []) { SIGINT, SIGTERM, SIGHUP }, 3);
    if (self->signal_fd < 0) {
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
    broker_watch_destroy (&self->watch);
    delivery_alarm_destroy (&self->alarm);
    own_alerts_destroy (&self->own_alerts);
    if (self->destination)
        self->class->close (&self->destination);    //  cancels what it started
    deliveries_destroy (&self->deliveries);         //  then what was in flight
    http_destroy (&self->http);
    loop_destroy (&self->loop);
    s_ruleset_release (self->ruleset);
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
        if (s_open_destination (&self, error, sizeof error)) {
            s_destroy (&self);
            log_fatal ("%s", error);
        }
        rules_describe (self.rules, stdout, destination->destination_shown);
        char own [1024];
        s_describe_own (&self, own, sizeof own);
        printf ("own alerts: %s\n", own);
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
