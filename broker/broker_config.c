/*  broker_config.c — the broker's settings: defaults, then the `broker`
    section of a ZPL file, then command-line overrides (in main.c). Every
    key is listed in s_known_keys so a typo is an error with file:line.
*/
#include <stdio.h>
#include "broker.h"
#include "bus.h"
#include "config.h"
#include "mem.h"

#define BROKER_MIN_INTERVAL_MS  100
#define BROKER_MAX_DURATION_MS  (3650LL * 24 * 3600 * 1000)    //  ten years: no overflow ahead

static const char *const s_known_keys [] = {
    "ingest", "publish", "control", "database", "reminder_interval", "grace",
    "retention", "checkpoint", "batch", NULL
};

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
                        error, error_size))
        return -1;
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
    static const char *const top_keys [] = { "broker", NULL };
    int rc = config_check_keys (root, top_keys, error, error_size);
    config_t *section = config_locate (root, "broker");
    if (rc == 0 && section)
        rc = s_read_section (config, section, error, error_size);
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
    *config = (broker_config_t) { 0 };
}
