/*  agent_config.c — defaults, then the ZPL file. See agent_config.h.

    Each section has its list of known keys, so a typo is an error with
    file:line. A `check = NAME` section needs a command; its name must be a
    valid alert id and unique.
*/
#include <czmq.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "agent_config.h"
#include "bus.h"
#include "config.h"
#include "error_text.h"
#include "mem.h"
#include "timespec.h"

#define AGENT_MIN_INTERVAL_MS 100

static const char *const s_top_keys [] = { "agent", "heartbeat", "check", NULL };
static const char *const s_agent_keys [] = {
    "broker", "events", "listen", "source", "allow_other_sources", "max_alerts",
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

static int
s_read_agent (agent_config_t *config, config_t *section, char *error, size_t error_size)
{
    if (config_check_keys (section, s_agent_keys, error, error_size))
        return -1;
    s_string (section, "broker", &config->broker);
    s_string (section, "events", &config->events);
    s_string (section, "listen", &config->listen);
    s_string (section, "source", &config->source);
    s_string (section, "state_dir", &config->state_dir);
    s_string (section, "cert", &config->cert);
    s_string (section, "server_key", &config->server_key);
    config_t *state_dir = config_locate (section, "state_dir");
    if (state_dir && !*config->state_dir)
        return s_fail_at (state_dir, error, error_size, "%s", "must name a directory");
    config_t *source = config_locate (section, "source");
    if (source && !wire_name_valid (config->source))
        return s_fail_at (source, error, error_size, "'%s' is not a valid name", config->source);
    if (source) {
        char where [CONFIG_ERROR_SIZE];
        snprintf (where, sizeof where, "%s:%d", config_file (source), config_line (source));
        config->source_at = mem_strdup (where);
    }
    return config_boolean (section, "allow_other_sources", false,
                           &config->allow_other_sources, error, error_size)
        || config_integer (section, "max_alerts", config->max_alerts, 1, 10000000,
                           &config->max_alerts, error, error_size)
        || config_duration (section, "resync", config->resync, &config->resync, error, error_size)
        || s_minimum (section, "resync", config->resync, error, error_size)
        || config_integer (section, "max_running", config->max_running, 1, 1000,
                           &config->max_running, error, error_size) ? -1 : 0;
}

static int
s_read_heartbeat (agent_config_t *config, config_t *section, char *error, size_t error_size)
{
    if (config_check_keys (section, s_heartbeat_keys, error, error_size)
    ||  config_boolean (section, "enabled", true, &config->heartbeat, error, error_size)
    ||  config_duration (section, "interval", config->heartbeat_interval,
                         &config->heartbeat_interval, error, error_size)
    ||  s_minimum (section, "interval", config->heartbeat_interval, error, error_size)
    ||  s_level (section, "level", &config->heartbeat_level, error, error_size))
        return -1;
    s_string (section, "summary", &config->heartbeat_summary);
    s_string (section, "detail", &config->heartbeat_detail);
    config_t *raise = config_locate (section, "raise");
    if (raise) {
        const int64_t base = 1000000000000LL;     //  any "now": only the offset matters
        int64_t when;
        const char *text = config_value (raise);
        if (text [0] != '+' || time_spec_parse (text, base, &when) != 0 || when <= base)
            return s_fail_at (raise, error, error_size,
                              "'%s' is not a time after now (try +5m)", text);
        config->heartbeat_raise = when - base;
    }
    return 0;
}

static int
s_read_check (agent_config_t *config, config_t *section, char *error, size_t error_size)
{
    const char *name = config_value (section);
    if (!wire_name_valid (name))
        return s_fail_at (section, error, error_size, "'%s' is not a valid alert id (check = NAME)",
                          name);
    if (agent_config_check (config, name))
        return s_fail_at (section, error, error_size, "a check called '%s' is already defined", name);
    config->checks = mem_realloc (config->checks, (config->check_count + 1) * sizeof (check_config_t));
    check_config_t *check = &config->checks [config->check_count++];
    *check = (check_config_t) { .name = mem_strdup (name), .interval = 60 * 1000,
                                .timeout = 30 * 1000, .warning_level = LEVEL_NORMAL,
                                .critical_level = LEVEL_URGENT };
    s_string (section, "command", &check->command);
    if (!check->command || !*check->command)
        return s_fail_at (section, error, error_size, "check '%s' has no command", name);
    return config_check_keys (section, s_check_keys, error, error_size)
        || config_duration (section, "interval", check->interval, &check->interval, error, error_size)
        || s_minimum (section, "interval", check->interval, error, error_size)
        || config_duration (section, "timeout", check->timeout, &check->timeout, error, error_size)
        || s_minimum (section, "timeout", check->timeout, error, error_size)
        || s_level (section, "warning_level", &check->warning_level, error, error_size)
        || s_level (section, "critical_level", &check->critical_level, error, error_size) ? -1 : 0;
}

static int
s_read_sections (agent_config_t *config, config_t *root, char *error, size_t error_size)
{
    if (config_check_keys (root, s_top_keys, error, error_size))
        return -1;
    for (config_t *section = config_child (root); section; section = config_next (section)) {
        const char *name = config_name (section);
        int rc = strcmp (name, "agent") == 0 ? s_read_agent (config, section, error, error_size)
               : strcmp (name, "heartbeat") == 0 ? s_read_heartbeat (config, section, error, error_size)
               : s_read_check (config, section, error, error_size);
        if (rc)
            return -1;
    }
    return 0;
}

int
agent_config_load (agent_config_t *config, const char *path, char *error, size_t error_size)
{
    s_defaults (config);
    if (!path)
        return 0;
    config->config_file = mem_strdup (path);
    config_t *root = config_load (path, error, error_size);
    if (!root) {
        agent_config_free (config);
        return -1;
    }
    int rc = s_read_sections (config, root, error, error_size);
    config_destroy (&root);
    if (rc)
        agent_config_free (config);
    return rc;
}

int
agent_config_certificate_source (agent_config_t *config, char *error, size_t error_size)
{
    if (!config->cert)
        return 0;
    //  zcert_load reads CERT_secret when it exists, as bus_secure_client does
    zcert_t *cert = access (config->cert, R_OK) == 0 ? zcert_load (config->cert) : NULL;
    if (!cert)
        return error_text (error, error_size, -1, "certificate %s cannot be read as a"
                           " certificate (make one with `lilac keygen`)", config->cert);
    const char *named = zcert_meta (cert, "source"), *role = zcert_meta (cert, "role");
    bool relay = role && streq (role, "relay");
    int rc = 0;
    if (named && *named && !wire_name_valid (named))
        rc = error_text (error, error_size, -1, "certificate %s names source '%s', which is not"
                         " a valid name (the broker skips it)", config->cert, named);
    else
    if ((!named || !*named) && !relay)
        rc = error_text (error, error_size, -1, "certificate %s names no source and its role is"
                         " %s: the broker would refuse every event (make it with `lilac keygen"
                         " NAME --source %s`)", config->cert, role ? role : "agent", config->source);
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
    }
    mem_free (config->checks);
    mem_free (config->config_file);
    mem_free (config->broker);
    mem_free (config->events);
    mem_free (config->listen);
    mem_free (config->source);
    mem_free (config->source_at);
    mem_free (config->state_dir);
    mem_free (config->cert);
    mem_free (config->server_key);
    mem_free (config->heartbeat_summary);
    mem_free (config->heartbeat_detail);
    *config = (agent_config_t) { 0 };
}
