/*  broker_config.c — the broker's settings: defaults, then the `broker`
    section of a ZPL file, then command-line overrides (in main.c). Every
    key is listed in s_known_keys so a typo is an error with file:line.

    The `security` section (cert, clients) turns CURVE on. Without it the
    broker may only listen on loopback, unless `broker/insecure = yes`:
    broker_config_check_exposure() says so with the file:line of the
    endpoint, checked after the command-line overrides.
*/
#include <string.h>
#include <sys/stat.h>
#include <stdio.h>
#include "broker.h"
#include "bus.h"
#include "config.h"
#include "mem.h"

#define BROKER_MIN_INTERVAL_MS  100
#define BROKER_MAX_DURATION_MS  (3650LL * 24 * 3600 * 1000)    //  ten years: no overflow ahead

static const char *const s_known_keys [] = {
    "ingest", "publish", "control", "database", "reminder_interval", "grace",
    "retention", "checkpoint", "batch", "insecure", "durability", NULL
};
static const char *const s_security_keys [] = { "cert", "clients", NULL };

void
broker_config_set (char **setting, const char *value)
{
    mem_free (*setting);
    *setting = mem_strdup (value);
}

static void
s_defaults (broker_config_t *config)
{
    *config = (broker_config_t) {
        .ingest = mem_strdup (BUS_DEFAULT_INGEST),
        .publish = mem_strdup (BUS_DEFAULT_PUBLISH),
        .control = mem_strdup (BUS_DEFAULT_CONTROL),
        .database = mem_strdup ("var/lilac.db"),
        .reminder_interval = 60 * 1000,
        .grace = 300 * 1000,
        .retention = 7 * 24 * 3600 * 1000LL,
        .checkpoint = 1000,
        .batch = 1000,
        .durability_full = true,
    };
}

static int
s_read_string (config_t *section, const char *key, char **setting,
               char *error, size_t error_size)
{
    const char *value;
    if (config_string (section, key, NULL, &value))
        return -1;
    if (value && !*value) {
        config_t *node = config_locate (section, key);
        snprintf (error, error_size, "%s:%d: %s: empty", config_file (node),
                  config_line (node), key);
        return -1;
    }
    if (value)
        broker_config_set (setting, value);
    return 0;
}

//  Where key was set, as "FILE:LINE", into *origin (kept if the key is absent).
static void
s_note_origin (config_t *section, const char *key, char **origin)
{
    config_t *node = config_locate (section, key);
    if (!node)
        return;
    char text [600];
    snprintf (text, sizeof text, "%s:%d", config_file (node), config_line (node));
    broker_config_set (origin, text);
}

static bool
s_host_is_local (const char *host, size_t size)
{
    char text [256];
    if (size == 0 || size >= sizeof text)
        return false;
    memcpy (text, host, size);
    text [size] = 0;
    if (streq (text, "localhost") || streq (text, "::1") || streq (text, "[::1]"))
        return true;
    //  127.0.0.0/8: four decimal parts, the first 127
    unsigned parts [4];
    char tail;
    return sscanf (text, "%u.%u.%u.%u%c", &parts [0], &parts [1], &parts [2], &parts [3],
                   &tail) == 4
        && parts [0] == 127 && parts [1] < 256 && parts [2] < 256 && parts [3] < 256;
}

static bool
s_one_endpoint_is_local (const char *endpoint, size_t size)
{
    if ((size >= 6 && strncmp (endpoint, "ipc://", 6) == 0)
    ||  (size >= 9 && strncmp (endpoint, "inproc://", 9) == 0))
        return true;
    if (size < 6 || strncmp (endpoint, "tcp://", 6) != 0)
        return false;               //  pgm, epgm, udp, ...: not loopback
    const char *host = endpoint + 6;
    size_t rest = size - 6;
    if (memchr (host, ';', rest))
        return false;               //  source;destination forms: not for binds
    const char *colon = NULL;
    for (size_t at = 0; at < rest; at++)
        if (host [at] == ':')
            colon = host + at;
    if (host [0] == '[') {
        const char *close = memchr (host, ']', rest);
        return close && s_host_is_local (host, (size_t) (close - host) + 1);
    }
    return colon && s_host_is_local (host, (size_t) (colon - host));
}

bool
broker_endpoint_is_local (const char *endpoints)
{
    if (!endpoints)
        return true;
    const char *cursor = endpoints, *start;
    size_t length;
    bool any = false;
    while ((start = bus_endpoint_next (&cursor, &length))) {
        if (!s_one_endpoint_is_local (start, length))
            return false;
        any = true;
    }
    return any;
}

int
broker_config_check_exposure (const broker_config_t *config, bool *exposed,
                              char *error, size_t error_size)
{
    const char *names [3] = { "ingest", "publish", "control" };
    const char *values [3] = { config->ingest, config->publish, config->control };
    *exposed = false;
    for (int index = 0; index < 3; index++) {
        if (broker_endpoint_is_local (values [index]))
            continue;
        *exposed = true;
        if (config->security_cert || config->insecure)
            continue;
        snprintf (error, error_size,
                  "%s: %s: '%s' is not a loopback address, and there is no security section:"
                  " add one (README \"Security\"), or set broker/insecure = yes to accept "
                  "anybody who can reach it", config->origins [index] ? config->origins [index]
                  : "default", names [index], values [index]);
        return -1;
    }
    return 0;
}

static int
s_read_security (broker_config_t *config, config_t *section, char *error, size_t error_size)
{
    if (config_check_keys (section, s_security_keys, error, error_size)
    ||  s_read_string (section, "cert", &config->security_cert, error, error_size)
    ||  s_read_string (section, "clients", &config->security_clients, error, error_size))
        return -1;
    const char *missing = !config->security_cert ? "cert" : !config->security_clients
                        ? "clients" : NULL;
    if (missing) {
        snprintf (error, error_size, "%s:%d: security: '%s' is required (%s)",
                  config_file (section), config_line (section), missing,
                  !config->security_cert ? "the broker's secret certificate file"
                                         : "the directory of allowed client certificates");
        return -1;
    }
    struct stat info;
    if (stat (config->security_clients, &info) != 0 || !S_ISDIR (info.st_mode)) {
        config_t *node = config_locate (section, "clients");
        snprintf (error, error_size, "%s:%d: clients: '%s' is not a directory",
                  config_file (node), config_line (node), config->security_clients);
        return -1;
    }
    return 0;
}

//  durability = full (fsync at every commit: what was acknowledged survives
//  a power loss) or normal (fsync at checkpoints only).
static int
s_read_durability (broker_config_t *config, config_t *section, char *error, size_t error_size)
{
    const char *value;
    if (config_string (section, "durability", NULL, &value))
        return -1;
    if (!value)
        return 0;
    if (streq (value, "full") || streq (value, "normal")) {
        config->durability_full = streq (value, "full");
        return 0;
    }
    config_t *node = config_locate (section, "durability");
    snprintf (error, error_size, "%s:%d: durability: '%s' is not full or normal",
              config_file (node), config_line (node), value);
    return -1;
}

//  Values out of range can only come from the file: defaults are in range.
static int
s_check_range (config_t *section, const char *key, int64_t value,
               char *error, size_t error_size)
{
    if (value >= BROKER_MIN_INTERVAL_MS && value <= BROKER_MAX_DURATION_MS)
        return 0;
    config_t *node = config_locate (section, key);
    snprintf (error, error_size, "%s:%d: %s: must be from 100ms to 3650d",
              node ? config_file (node) : "?", node ? config_line (node) : 0, key);
    return -1;
}

static int
s_read_section (broker_config_t *config, config_t *section, char *error, size_t error_size)
{
    if (config_check_keys (section, s_known_keys, error, error_size))
        return -1;
    if (s_read_string (section, "ingest", &config->ingest, error, error_size)
    ||  s_read_string (section, "publish", &config->publish, error, error_size)
    ||  s_read_string (section, "control", &config->control, error, error_size)
    ||  s_read_string (section, "database", &config->database, error, error_size))
        return -1;
    if (config_duration (section, "reminder_interval", config->reminder_interval,
                         &config->reminder_interval, error, error_size)
    ||  config_duration (section, "grace", config->grace, &config->grace, error, error_size)
    ||  config_duration (section, "retention", config->retention, &config->retention,
                         error, error_size)
    ||  config_duration (section, "checkpoint", config->checkpoint, &config->checkpoint,
                         error, error_size)
    ||  config_integer (section, "batch", config->batch, 1, 100000, &config->batch,
                        error, error_size)
    ||  config_boolean (section, "insecure", false, &config->insecure, error, error_size))
        return -1;
    if (s_read_durability (config, section, error, error_size))
        return -1;
    s_note_origin (section, "ingest", &config->origins [0]);
    s_note_origin (section, "publish", &config->origins [1]);
    s_note_origin (section, "control", &config->origins [2]);
    if (s_check_range (section, "reminder_interval", config->reminder_interval,
                       error, error_size)
    ||  s_check_range (section, "checkpoint", config->checkpoint, error, error_size)
    ||  s_check_range (section, "retention", config->retention, error, error_size)
    ||  (config->grace && s_check_range (section, "grace", config->grace, error, error_size)))
        return -1;
    return 0;
}

int
broker_config_load (broker_config_t *config, const char *path, char *error, size_t error_size)
{
    s_defaults (config);
    if (!path)
        return 0;
    config->config_file = mem_strdup (path);
    config_t *root = config_load (path, error, error_size);
    if (!root)
        return -1;
    static const char *const top_keys [] = { "broker", "security", NULL };
    int rc = config_check_keys (root, top_keys, error, error_size);
    config_t *section = config_locate (root, "broker");
    if (rc == 0 && section)
        rc = s_read_section (config, section, error, error_size);
    config_t *security = config_locate (root, "security");
    if (rc == 0 && security)
        rc = s_read_security (config, security, error, error_size);
    config_destroy (&root);
    return rc;
}

void
broker_config_free (broker_config_t *config)
{
    mem_free (config->config_file);
    mem_free (config->ingest);
    mem_free (config->publish);
    mem_free (config->control);
    mem_free (config->database);
    mem_free (config->security_cert);
    mem_free (config->security_clients);
    for (int index = 0; index < 3; index++)
        mem_free (config->origins [index]);
    *config = (broker_config_t) { 0 };
}
