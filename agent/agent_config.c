/*  agent_config.c — defaults, then the ZPL file. See agent_config.h.

    Each section has its list of known keys, so a typo is an error with
    file:line. A `check = NAME` section needs a command; its name must be a
    valid alert id and unique.
*/
#include <czmq.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "agent_config.h"
#include "bus.h"
#include "config.h"
#include "error_text.h"
#include "log.h"
#include "mem.h"
#include "timespec.h"

#define AGENT_MIN_INTERVAL_MS 100

static const char *const s_top_keys [] = { "agent", "heartbeat", "check", NULL };
static const char *const s_agent_keys [] = {
    "broker", "control", "events", "listen", "submit", "source", "allow_other_sources",
    "max_alerts",
    "resync", "max_running", "cert", "server_key", "state_dir", NULL
};
static const char *const s_heartbeat_keys [] = {
    "enabled", "interval", "raise", "summary", "detail", "level", NULL
};
static const char *const s_check_keys [] = {
    "command", "interval", "timeout", "warning_level", "critical_level", NULL
};

char *
agent_default_listen (void)
{
    char path [512];
    const char *runtime = getenv ("XDG_RUNTIME_DIR");
    if (geteuid () == 0)
        snprintf (path, sizeof path, "ipc:///run/lilac/agent.sock");
    else
    if (runtime && *runtime)
        snprintf (path, sizeof path, "ipc://%s/lilac/agent.sock", runtime);
    else
        snprintf (path, sizeof path, "ipc:///tmp/lilac-%u/agent.sock", (unsigned) geteuid ());
    return mem_strdup (path);
}

char *
agent_submit_endpoint (const agent_config_t *config)
{
    if (config->submit && *config->submit)
        return mem_strdup (config->submit);
    const char *listen = config->listen;
    if (!listen || strncmp (listen, "ipc://", 6) != 0)
        return NULL;
    size_t length = strlen (listen);
    size_t stem = length > 5 && streq (listen + length - 5, ".sock") ? length - 5 : length;
    char *endpoint = mem_alloc (stem + sizeof "-submit.sock");
    memcpy (endpoint, listen, stem);
    memcpy (endpoint + stem, "-submit.sock", sizeof "-submit.sock");
    return endpoint;
}

char *
agent_default_state_dir (void)
{
    char path [512];
    const char *state = getenv ("XDG_STATE_HOME"), *home = getenv ("HOME");
    if (geteuid () == 0)
        snprintf (path, sizeof path, "/var/lib/lilac-agent");
    else
    if (state && *state == '/')
        snprintf (path, sizeof path, "%s/lilac/agent", state);
    else
    if (home && *home == '/')
        snprintf (path, sizeof path, "%s/.local/state/lilac/agent", home);
    else
        snprintf (path, sizeof path, "/tmp/lilac-%u/agent", (unsigned) geteuid ());
    return mem_strdup (path);
}

static void
s_defaults (agent_config_t *config)
{
    char host [256] = "localhost";
    if (gethostname (host, sizeof host) != 0)
        snprintf (host, sizeof host, "localhost");
    host [sizeof host - 1] = 0;
    *config = (agent_config_t) {
        .broker = mem_strdup (BUS_DEFAULT_INGEST),
        .control = mem_strdup (BUS_DEFAULT_CONTROL),
        .submit = mem_strdup (""),
        .events = mem_strdup (BUS_DEFAULT_PUBLISH),
        .listen = agent_default_listen (),
        .state_dir = agent_default_state_dir (),
        .source = mem_strdup (host),
        .max_alerts = 100000,
        .resync = 10 * 60 * 1000,
        .max_running = 4,
        .heartbeat = true,
        .heartbeat_interval = 60 * 1000,
        .heartbeat_raise = 5 * 60 * 1000,
        .heartbeat_summary = mem_strdup ("no heartbeat from the agent: the server or lilac-agent is down"),
        .heartbeat_level = LEVEL_URGENT,
    };
}

//  Replaces *setting with the value at key, if the key is there.
static void
s_string (config_t *section, const char *key, char **setting)
{
    const char *value = NULL;
    config_string (section, key, NULL, &value);
    if (value) {
        mem_free (*setting);
        *setting = mem_strdup (value);
    }
}

static int
s_fail_at (config_t *node, char *error, size_t error_size, const char *format, const char *detail)
{
    char reason [256];
    snprintf (reason, sizeof reason, format, detail);
    return error_text (error, error_size, -1, "%s:%d: %s: %s", config_file (node),
                       config_line (node), config_name (node), reason);
}

static int
s_level (config_t *section, const char *key, alert_level_t *level, char *error, size_t error_size)
{
    config_t *node = config_locate (section, key);
    if (node && alert_level_parse (config_value (node), level))
        return s_fail_at (node, error, error_size, "'%s' is not urgent, normal or low",
                          config_value (node));
    return 0;
}

static int
s_minimum (config_t *section, const char *key, int64_t value, char *error, size_t error_size)
{
    config_t *node = config_locate (section, key);
    if (node && value < AGENT_MIN_INTERVAL_MS)
        return s_fail_at (node, error, error_size, "must be at least %s", "100ms");
    return 0;
}

//  Adds error to report when rc says the call failed.
static void
s_note (config_report_t *report, int rc, const char *error)
{
    if (rc)
        config_report_add (report, false, "%s", error);
}

//  "FILE:LINE" of key in section, or NULL when the key is not there.
static char *
s_where (config_t *section, const char *key)
{
    config_t *node = config_locate (section, key);
    if (!node)
        return NULL;
    char where [CONFIG_ERROR_SIZE];
    snprintf (where, sizeof where, "%s:%d", config_file (node), config_line (node));
    return mem_strdup (where);
}

static void
s_read_agent (agent_config_t *config, config_t *section, config_report_t *report)
{
    char error [CONFIG_ERROR_SIZE];
    config_report_check_keys (report, section, s_agent_keys);
    const char *keys [] = { "broker", "events", "listen", "source", "state_dir", "cert",
                            "server_key", "control", "submit" };
    char **settings [] = { &config->broker, &config->events, &config->listen, &config->source,
                           &config->state_dir, &config->cert, &config->server_key,
                           &config->control, &config->submit };
    char **wheres [] = { &config->broker_at, &config->events_at, &config->listen_at,
                         &config->source_at, &config->state_dir_at, &config->cert_at,
                         &config->server_key_at, &config->control_at, &config->submit_at };
    for (size_t index = 0; index < sizeof keys / sizeof keys [0]; index++) {
        s_string (section, keys [index], settings [index]);
        mem_free (*wheres [index]);
        *wheres [index] = s_where (section, keys [index]);
    }
    config_t *state_dir = config_locate (section, "state_dir");
    if (state_dir && !*config->state_dir)
        s_note (report, s_fail_at (state_dir, error, sizeof error, "%s", "must name a directory"),
                error);
    config_t *source = config_locate (section, "source");
    if (source && !wire_name_valid (config->source))
        s_note (report, s_fail_at (source, error, sizeof error, "'%s' is not a valid name",
                                   config->source), error);
    s_note (report, config_boolean (section, "allow_other_sources", false,
                                    &config->allow_other_sources, error, sizeof error), error);
    s_note (report, config_integer (section, "max_alerts", config->max_alerts, 1, 10000000,
                                    &config->max_alerts, error, sizeof error), error);
    s_note (report, config_duration (section, "resync", config->resync, &config->resync,
                                     error, sizeof error)
                 || s_minimum (section, "resync", config->resync, error, sizeof error), error);
    s_note (report, config_integer (section, "max_running", config->max_running, 1, 1000,
                                    &config->max_running, error, sizeof error), error);
}

static void
s_read_heartbeat (agent_config_t *config, config_t *section, config_report_t *report)
{
    char error [CONFIG_ERROR_SIZE];
    config_report_check_keys (report, section, s_heartbeat_keys);
    s_note (report, config_boolean (section, "enabled", true, &config->heartbeat,
                                    error, sizeof error), error);
    s_note (report, config_duration (section, "interval", config->heartbeat_interval,
                                     &config->heartbeat_interval, error, sizeof error)
                 || s_minimum (section, "interval", config->heartbeat_interval,
                               error, sizeof error), error);
    s_note (report, s_level (section, "level", &config->heartbeat_level, error, sizeof error),
            error);
    s_string (section, "summary", &config->heartbeat_summary);
    s_string (section, "detail", &config->heartbeat_detail);
    mem_free (config->heartbeat_at);
    config->heartbeat_at = s_where (section, "interval");
    if (!config->heartbeat_at)
        config->heartbeat_at = s_where (section, "raise");
    config_t *raise = config_locate (section, "raise");
    if (raise) {
        const int64_t base = 1000000000000LL;     //  any "now": only the offset matters
        int64_t when;
        const char *text = config_value (raise);
        if (text [0] != '+' || time_spec_parse (text, base, &when) != 0 || when <= base)
            s_note (report, s_fail_at (raise, error, sizeof error,
                                       "'%s' is not a time after now (try +5m)", text), error);
        else
            config->heartbeat_raise = when - base;
    }
}

static void
s_read_check (agent_config_t *config, config_t *section, config_report_t *report)
{
    char error [CONFIG_ERROR_SIZE];
    const char *name = config_value (section);
    if (!wire_name_valid (name)) {
        s_note (report, s_fail_at (section, error, sizeof error,
                                   "'%s' is not a valid alert id (check = NAME)", name), error);
        return;
    }
    if (agent_config_check (config, name)) {
        s_note (report, s_fail_at (section, error, sizeof error,
                                   "a check called '%s' is already defined", name), error);
        return;
    }
    config->checks = mem_realloc (config->checks, (config->check_count + 1) * sizeof (check_config_t));
    check_config_t *check = &config->checks [config->check_count++];
    *check = (check_config_t) { .name = mem_strdup (name), .interval = 60 * 1000,
                                .timeout = 30 * 1000, .warning_level = LEVEL_NORMAL,
                                .critical_level = LEVEL_URGENT };
    s_string (section, "command", &check->command);
    check->command_at = s_where (section, "command");
    if (!check->command || !*check->command)
        s_note (report, s_fail_at (section, error, sizeof error, "check '%s' has no command",
                                   name), error);
    config_report_check_keys (report, section, s_check_keys);
    s_note (report, config_duration (section, "interval", check->interval, &check->interval,
                                     error, sizeof error)
                 || s_minimum (section, "interval", check->interval, error, sizeof error), error);
    s_note (report, config_duration (section, "timeout", check->timeout, &check->timeout,
                                     error, sizeof error)
                 || s_minimum (section, "timeout", check->timeout, error, sizeof error), error);
    s_note (report, s_level (section, "warning_level", &check->warning_level,
                             error, sizeof error), error);
    s_note (report, s_level (section, "critical_level", &check->critical_level,
                             error, sizeof error), error);
}

static void
s_read_sections (agent_config_t *config, config_t *root, config_report_t *report)
{
    char error [CONFIG_ERROR_SIZE];
    if (config_check_keys (root, s_top_keys, error, sizeof error)) {
        s_note (report, -1, error);
        return;
    }
    for (config_t *section = config_child (root); section; section = config_next (section)) {
        const char *name = config_name (section);
        if (strcmp (name, "agent") == 0)
            s_read_agent (config, section, report);
        else
        if (strcmp (name, "heartbeat") == 0)
            s_read_heartbeat (config, section, report);
        else
            s_read_check (config, section, report);
    }
}

int
agent_config_load (agent_config_t *config, const char *path, config_report_t *report)
{
    s_defaults (config);
    if (!path)
        return 0;
    config->config_file = mem_strdup (path);
    char error [CONFIG_ERROR_SIZE];
    config_t *root = config_load (path, error, sizeof error);
    if (!root) {
        s_note (report, -1, error);
        return -1;
    }
    size_t errors = report->errors;
    s_read_sections (config, root, report);
    config_destroy (&root);
    return report->errors == errors ? 0 : -1;
}

//  --- the report ----------------------------------------------------------------------

//  --- checks at start and at -n -------------------------------------------------------

//  Where a setting came from, for messages.
static const char *
s_at (const char *where, const char *key)
{
    return where ? where : key;
}

//  dir exists and is writable, or its nearest existing parent is; the
//  state file in it, if there, can be read and written.
static void
s_state_dir_check (const char *dir, const char *where, config_report_t *report)
{
    char what [600];
    snprintf (what, sizeof what, "%s: state_dir", where);
    config_check_dir (dir, what, report);
    char file [1100];
    snprintf (file, sizeof file, "%s/latest.db", dir);
    if (access (file, F_OK) == 0 && access (file, R_OK | W_OK) != 0)
        config_report_add (report, false, "%s: state_dir: cannot read and write %s (%s)", where,
                          file, strerror (errno));
}

//  CURVE: both keys or neither; readable, well formed; the source rule.
static void
s_curve_check (agent_config_t *config, config_report_t *report)
{
    if (!config->cert && !config->server_key)
        return;
    const char *cert_at = s_at (config->cert_at, "agent/cert");
    const char *key_at = s_at (config->server_key_at, "agent/server_key");
    if (!config->cert || !config->server_key) {
        config_report_add (report, false, "%s: %s given without %s: CURVE needs both (agent/cert"
                          " and agent/server_key, --cert and --server-key, or $LILAC_CERT and"
                          " $LILAC_SERVER_KEY)", config->cert ? cert_at : key_at,
                          config->cert ? "a certificate" : "a server key",
                          config->cert ? "a server key" : "a certificate");
        return;
    }
    char error [CONFIG_ERROR_SIZE];
    if (bus_secure_client (config->cert, config->server_key, error, sizeof error)) {
        config_report_add (report, false, "%s: %s",
                          strncmp (error, "server key", 10) == 0 ? key_at : cert_at, error);
        return;
    }
    if (agent_config_certificate_source (config, error, sizeof error))
        config_report_add (report, false, "%s", error);
    else
    if (config->allow_other_sources) {
        zcert_t *cert = zcert_load (config->cert);
        const char *role = cert ? zcert_meta (cert, "role") : NULL;
        if (!role || !streq (role, "relay"))
            config_report_add (report, true, "%s: allow_other_sources = yes, but certificate %s"
                              " is not a relay's: the broker refuses other sources from it",
                              cert_at, config->cert);
        zcert_destroy (&cert);
    }
}

void
agent_config_verify_bound (agent_config_t *config, config_report_t *report)
{
    config_check_endpoints (config->broker, s_at (config->broker_at, "agent/broker"), report);
    config_check_endpoints (config->events, s_at (config->events_at, "agent/events"), report);
    config_check_endpoints (config->listen, s_at (config->listen_at, "agent/listen"), report);
    config_check_endpoints (config->control, s_at (config->control_at, "agent/control"), report);
    if (*config->submit)
        config_check_endpoints (config->submit, s_at (config->submit_at, "agent/submit"), report);
    s_curve_check (config, report);
    s_state_dir_check (config->state_dir, s_at (config->state_dir_at, "agent/state_dir"), report);
}

//  Shell words a command may start with that are not files to look for.
static bool
s_shell_word (const char *word)
{
    static const char *const words [] = {
        "read", "echo", "test", "[", "exit", "cd", "true", "false", "printf", "if", "for",
        "while", "until", "case", "set", "export", "eval", "exec", "command", "type", ":",
        ".", "{", "!", "ulimit", "umask", "trap", "wait", "kill", "pwd", "local", "return",
        "shift", "unset", "times", "getopts", "hash", "readonly", "break", "continue", NULL
    };
    for (size_t index = 0; words [index]; index++)
        if (streq (word, words [index]))
            return true;
    return false;
}

//  An executable regular file?
static bool
s_executable (const char *path)
{
    struct stat info;
    return stat (path, &info) == 0 && S_ISREG (info.st_mode) && access (path, X_OK) == 0;
}

//  The command's first word is a builtin, or a file that runs. A first word
//  that is shell syntax (a quote, $, an assignment) is not judged.
static void
s_command_check (const check_config_t *check, config_report_t *report)
{
    if (!check->command)
        return;
    const char *start = check->command + strspn (check->command, " \t");
    char word [512];
    size_t length = strcspn (start, " \t\n;&|<>()");
    snprintf (word, sizeof word, "%.*s", (int) length, start);
    const char *where = s_at (check->command_at, check->name);
    if (!*word || strpbrk (word, "\"'$`=*?\\") || s_shell_word (word))
        return;
    if (strchr (word, '/')) {
        if (!s_executable (word))
            config_report_add (report, true, "%s: check '%s': %s %s", where, check->name, word,
                              access (word, F_OK) == 0 ? "is not an executable file"
                                                       : "does not exist");
        return;
    }
    const char *path = getenv ("PATH");
    char directories [4096];
    snprintf (directories, sizeof directories, "%s", path && *path ? path
              : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    char *saved = NULL;
    for (char *directory = strtok_r (directories, ":", &saved); directory;
         directory = strtok_r (NULL, ":", &saved)) {
        char file [1024];
        snprintf (file, sizeof file, "%s/%s", directory, word);
        if (s_executable (file))
            return;
    }
    config_report_add (report, true, "%s: check '%s': '%s' is not an executable in PATH (%.200s):"
                      " the check will fail with exit code 127", where, check->name, word,
                      path && *path ? path : "default");
}

void
agent_config_verify_checks (const agent_config_t *config, config_report_t *report)
{
    if (config->heartbeat && config->heartbeat_interval > config->heartbeat_raise / 2) {
        char interval [32], raise [32];
        config_report_add (report, true, "%s: heartbeat interval %s is not well below its raise"
                          " +%s: one late heartbeat raises the alert (keep interval at most"
                          " half of raise)", s_at (config->heartbeat_at, "heartbeat"),
                          duration_format (config->heartbeat_interval, interval, sizeof interval),
                          duration_format (config->heartbeat_raise, raise, sizeof raise));
    }
    for (size_t index = 0; index < config->check_count; index++)
        s_command_check (&config->checks [index], report);
}

int
agent_config_certificate_source (agent_config_t *config, char *error, size_t error_size)
{
    if (!config->cert)
        return 0;
    //  zcert_load reads CERT_secret when it exists, as bus_secure_client does
    zcert_t *cert = access (config->cert, R_OK) == 0 ? zcert_load (config->cert) : NULL;
    if (!cert)
        return error_text (error, error_size, -1, "%s: certificate %s cannot be read as a"
                           " certificate (make one with `lilac keygen`)",
                           s_at (config->cert_at, "agent/cert"), config->cert);
    const char *named = zcert_meta (cert, "source"), *role = zcert_meta (cert, "role");
    bool relay = role && streq (role, "relay");
    int rc = 0;
    if (named && *named && !wire_name_valid (named))
        rc = error_text (error, error_size, -1, "%s: certificate %s names source '%s', which is"
                         " not a valid name (the broker skips it)",
                         s_at (config->cert_at, "agent/cert"), config->cert, named);
    else
    if ((!named || !*named) && !relay)
        rc = error_text (error, error_size, -1, "%s: certificate %s names no source and its role"
                         " is %s: the broker would refuse every event (make it with `lilac keygen"
                         " NAME --source %s`)", s_at (config->cert_at, "agent/cert"),
                         config->cert, role ? role : "agent", config->source);
    else
    if (named && *named && !config->source_at) {
        mem_free (config->source);
        config->source = mem_strdup (named);
    }
    else
    if (named && *named && !relay && !streq (named, config->source))
        rc = error_text (error, error_size, -1, "%s: source '%s' contradicts certificate %s,"
                         " which is for source '%s': the broker would refuse every event as"
                         " spoofed (remove the source setting, or use a certificate for '%s')",
                         config->source_at, config->source, config->cert, named, config->source);
    zcert_destroy (&cert);
    return rc;
}

const check_config_t *
agent_config_check (const agent_config_t *config, const char *name)
{
    for (size_t index = 0; index < config->check_count; index++)
        if (strcmp (config->checks [index].name, name) == 0)
            return &config->checks [index];
    return NULL;
}

void
agent_config_free (agent_config_t *config)
{
    for (size_t index = 0; index < config->check_count; index++) {
        mem_free (config->checks [index].name);
        mem_free (config->checks [index].command);
        mem_free (config->checks [index].command_at);
    }
    mem_free (config->checks);
    mem_free (config->config_file);
    mem_free (config->broker);
    mem_free (config->events);
    mem_free (config->listen);
    mem_free (config->control);
    mem_free (config->submit);
    mem_free (config->control_at);
    mem_free (config->submit_at);
    mem_free (config->source);
    mem_free (config->source_at);
    mem_free (config->broker_at);
    mem_free (config->events_at);
    mem_free (config->listen_at);
    mem_free (config->state_dir_at);
    mem_free (config->cert_at);
    mem_free (config->server_key_at);
    mem_free (config->heartbeat_at);
    mem_free (config->state_dir);
    mem_free (config->cert);
    mem_free (config->server_key);
    mem_free (config->heartbeat_summary);
    mem_free (config->heartbeat_detail);
    *config = (agent_config_t) { 0 };
}
