/*  broker_config.c — the broker's settings: defaults, then the `broker`
    section of a ZPL file, then command-line overrides (in main.c). Every
    key is listed in s_known_keys so a typo is an error with file:line.

    The `security` section (cert, clients) turns CURVE on. Without it the
    broker may only listen on loopback, unless `broker/insecure = yes`:
    broker_config_check_exposure() says so with the file:line of the
    endpoint, checked after the command-line overrides.
*/
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <stdio.h>
#include "broker.h"
#include "bus.h"
#include "config.h"
#include "config_report.h"
#include "mem.h"
#include "store.h"

#define BROKER_MIN_INTERVAL_MS  100
#define BROKER_MAX_DURATION_MS  (3650LL * 24 * 3600 * 1000)    //  ten years: no overflow ahead

static const char *const s_known_keys [] = {
    "ingest", "publish", "control", "database", "reminder_interval", "grace",
    "retention", "checkpoint", "batch", "insecure", "durability", "standbys", NULL
};
static const char *const s_security_keys [] = { "cert", "clients", NULL };

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

static void
s_read_string (config_t *section, const char *key, char **setting, config_report_t *report)
{
    const char *value = NULL;
    if (config_string (section, key, NULL, &value))
        return;                     //  only for a NULL value pointer
    if (value && !*value) {
        config_t *node = config_locate (section, key);
        config_report_add (report, false, "%s:%d: %s: empty", config_file (node),
                           config_line (node), key);
        return;
    }
    if (value)
        mem_replace (setting, value);
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
    mem_replace (origin, text);
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

//  Without a security section every endpoint must be loopback, unless
//  insecure; *exposed says whether any endpoint is not.
static void
s_check_exposure (const broker_config_t *config, bool *exposed, config_report_t *report)
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
        config_report_add (report, false,
                  "%s: %s: '%s' is not a loopback address, and there is no security section:"
                  " add one (README \"Security\"), or set broker/insecure = yes to accept "
                  "anybody who can reach it", config->origins [index] ? config->origins [index]
                  : "default", names [index], values [index]);
    }
}

void
broker_config_verify (broker_config_t *config, bool *exposed, config_report_t *report)
{
    const char *names [3] = { "ingest", "publish", "control" };
    const char *values [3] = { config->ingest, config->publish, config->control };
    for (int index = 0; index < 3; index++) {
        char where [700];
        snprintf (where, sizeof where, "%s: %s", config->origins [index]
                  ? config->origins [index] : "default", names [index]);
        config_check_endpoints (values [index], where, report);
    }
    s_check_exposure (config, exposed, report);
    char where [700];
    snprintf (where, sizeof where, "%s: database", config->database_at
              ? config->database_at : "default");
    if (!store_is_postgresql (config->database))
        config_check_parent_dir (config->database, where, report);  //  a file's directory
    if (config->standbys && !store_is_postgresql (config->database))
        config_report_add (report, false, "%s: standbys: %" PRId64 " standby brokers need a "
                           "postgresql:// database they share (README \"Two brokers on "
                           "PostgreSQL\"); an SQLite file has one broker", config->standbys_at
                           ? config->standbys_at : "broker", config->standbys);
    if (config->security_cert) {
        char error [CONFIG_ERROR_SIZE];
        if (bus_secure_server (config->security_cert, error, sizeof error))
            config_report_add (report, false, "%s: cert: %s", config->security_cert_at
                               ? config->security_cert_at : "security", error);
        bus_secure_reset ();        //  a check only: the broker secures its sockets itself
    }
}

static void
s_read_security (broker_config_t *config, config_t *section, config_report_t *report)
{
    config_report_check_keys (report, section, s_security_keys);
    s_read_string (section, "cert", &config->security_cert, report);
    s_read_string (section, "clients", &config->security_clients, report);
    s_note_origin (section, "cert", &config->security_cert_at);
    const char *missing = !config->security_cert ? "cert" : !config->security_clients
                        ? "clients" : NULL;
    if (missing) {
        config_report_add (report, false, "%s:%d: security: '%s' is required (%s)",
                           config_file (section), config_line (section), missing,
                           !config->security_cert ? "the broker's secret certificate file"
                                                  : "the directory of allowed client certificates");
        return;
    }
    struct stat info;
    if (stat (config->security_clients, &info) != 0 || !S_ISDIR (info.st_mode)) {
        config_t *node = config_locate (section, "clients");
        config_report_add (report, false, "%s:%d: clients: '%s' is not a directory",
                           config_file (node), config_line (node), config->security_clients);
    }
}

//  durability = full (fsync at every commit: what was acknowledged survives
//  a power loss) or normal (fsync at checkpoints only).
static void
s_read_durability (broker_config_t *config, config_t *section, config_report_t *report)
{
    const char *value = NULL;
    if (config_string (section, "durability", NULL, &value) || !value)
        return;
    if (streq (value, "full") || streq (value, "normal")) {
        config->durability_full = streq (value, "full");
        return;
    }
    config_t *node = config_locate (section, "durability");
    config_report_add (report, false, "%s:%d: durability: '%s' is not full or normal",
                       config_file (node), config_line (node), value);
}

//  Values out of range can only come from the file: defaults are in range.
static void
s_check_range (config_t *section, const char *key, int64_t value, config_report_t *report)
{
    if (value >= BROKER_MIN_INTERVAL_MS && value <= BROKER_MAX_DURATION_MS)
        return;
    config_t *node = config_locate (section, key);
    config_report_add (report, false, "%s:%d: %s: must be from 100ms to 3650d",
                       node ? config_file (node) : "?", node ? config_line (node) : 0, key);
}

//  One of config.c's readers: its error, if any, goes to the report.
static void
s_note (int rc, const char *error, config_report_t *report)
{
    if (rc)
        config_report_add (report, false, "%s", error);
}

static void
s_read_section (broker_config_t *config, config_t *section, config_report_t *report)
{
    char error [CONFIG_ERROR_SIZE];
    config_report_check_keys (report, section, s_known_keys);
    s_read_string (section, "ingest", &config->ingest, report);
    s_read_string (section, "publish", &config->publish, report);
    s_read_string (section, "control", &config->control, report);
    s_read_string (section, "database", &config->database, report);
    s_note (config_duration (section, "reminder_interval", config->reminder_interval,
                             &config->reminder_interval, error, sizeof error), error, report);
    s_note (config_duration (section, "grace", config->grace, &config->grace,
                             error, sizeof error), error, report);
    s_note (config_duration (section, "retention", config->retention, &config->retention,
                             error, sizeof error), error, report);
    s_note (config_duration (section, "checkpoint", config->checkpoint, &config->checkpoint,
                             error, sizeof error), error, report);
    s_note (config_integer (section, "batch", config->batch, 1, 100000, &config->batch,
                            error, sizeof error), error, report);
    s_note (config_integer (section, "standbys", config->standbys, 0, 64, &config->standbys,
                            error, sizeof error), error, report);
    s_note_origin (section, "standbys", &config->standbys_at);
    s_note (config_boolean (section, "insecure", false, &config->insecure,
                            error, sizeof error), error, report);
    s_read_durability (config, section, report);
    s_note_origin (section, "ingest", &config->origins [0]);
    s_note_origin (section, "publish", &config->origins [1]);
    s_note_origin (section, "control", &config->origins [2]);
    s_note_origin (section, "database", &config->database_at);
    s_check_range (section, "reminder_interval", config->reminder_interval, report);
    s_check_range (section, "checkpoint", config->checkpoint, report);
    s_check_range (section, "retention", config->retention, report);
    if (config->grace)
        s_check_range (section, "grace", config->grace, report);
}

int
broker_config_load (broker_config_t *config, const char *path, config_report_t *report)
{
    s_defaults (config);
    if (!path)
        return 0;
    config->config_file = mem_strdup (path);
    char error [CONFIG_ERROR_SIZE];
    config_t *root = config_load (path, error, sizeof error);
    if (!root) {
        config_report_add (report, false, "%s", error);
        return -1;
    }
    size_t errors = report->errors;
    static const char *const top_keys [] = { "broker", "security", NULL };
    config_report_check_keys (report, root, top_keys);
    config_t *section = config_locate (root, "broker");
    if (section)
        s_read_section (config, section, report);
    config_t *security = config_locate (root, "security");
    if (security)
        s_read_security (config, security, report);
    config_destroy (&root);
    return report->errors > errors ? -1 : 0;
}

void
broker_config_copy (broker_config_t *to, const broker_config_t *from)
{
    *to = *from;
    to->config_file = mem_strdup (from->config_file);
    to->ingest = mem_strdup (from->ingest);
    to->publish = mem_strdup (from->publish);
    to->control = mem_strdup (from->control);
    to->database = mem_strdup (from->database);
    to->security_cert = mem_strdup (from->security_cert);
    to->security_clients = mem_strdup (from->security_clients);
    to->security_cert_at = mem_strdup (from->security_cert_at);
    to->database_at = mem_strdup (from->database_at);
    to->standbys_at = mem_strdup (from->standbys_at);
    for (int index = 0; index < 3; index++)
        to->origins [index] = mem_strdup (from->origins [index]);
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
    mem_free (config->security_cert_at);
    mem_free (config->database_at);
    mem_free (config->standbys_at);
    for (int index = 0; index < 3; index++)
        mem_free (config->origins [index]);
    *config = (broker_config_t) { 0 };
}
