/*  web_config.c — lilac-web's settings. See web_config.h.
*/
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include "bus.h"
#include "config.h"
#include "http.h"
#include "ingest_map.h"
#include "mem.h"
#include "session.h"
#include "timespec.h"
#include "web_config.h"

static const char *const s_top_keys [] = { "web", NULL };
static const char *const s_web_keys [] = {
    "listen", "control", "events", "state_dir", "tls_cert", "tls_key", "insecure", "users",
    "tokens", "admins", "readers", "senders", "source_label", "cert", "server_key",
    "trusted_proxies", "severity_levels", "session_lifetime", "max_connections", "server_names",
    "own_source", "own_name", "heartbeat", NULL
};

static void
s_defaults (web_config_t *config)
{
    *config = (web_config_t) {
        .listen = mem_strdup (WEB_DEFAULT_LISTEN),
        .control = mem_strdup (BUS_DEFAULT_CONTROL),
        .events = mem_strdup (BUS_DEFAULT_PUBLISH),
        .state_dir = mem_strdup ("var/web"),
        .source_label = mem_strdup (WEB_DEFAULT_SOURCE_LABEL),
        .session_lifetime_ms = SESSION_DEFAULT_LIFETIME_MS,
        .max_connections = WEB_DEFAULT_MAX_CONNECTIONS,
    };
    config_report_t *none = config_report_new ();     //  the defaults have no problem
    own_settings_read (NULL, "lilac-web", NULL, &config->own, none);
    config_report_destroy (&none);
}

//  A string key: set when present, an error when empty.
static void
s_string (config_t *section, const char *key, char **setting, char **origin,
          config_report_t *report)
{
    config_t *node = config_locate (section, key);
    if (!node)
        return;
    if (!*config_value (node)) {
        config_report_at (report, node, "%s: empty", key);
        return;
    }
    mem_replace (setting, config_value (node));
    if (origin) {
        char where [600];
        snprintf (where, sizeof where, "%s:%d", config_file (node), config_line (node));
        mem_replace (origin, where);
    }
}

//  session_lifetime: a duration from a minute to a year.
static void
s_session_lifetime (config_t *section, web_config_t *config, config_report_t *report)
{
    config_t *node = config_locate (section, "session_lifetime");
    if (!node)
        return;
    int64_t ms;
    if (duration_parse (config_value (node), &ms) || ms < 60 * 1000
    ||  ms > INT64_C (366) * 24 * 3600 * 1000)
        config_report_at (report, node, "session_lifetime: '%s' is not a duration from 1m to "
                          "365d (like 12h)", config_value (node));
    else
        config->session_lifetime_ms = ms;
}

int
web_config_load (web_config_t *config, const char *path, config_report_t *report)
{
    s_defaults (config);
    if (!path)
        return 0;
    config->config_file = mem_strdup (path);
    char error [CONFIG_ERROR_SIZE];
    config_t *root = config_load (path, error, sizeof error);
    if (!root) {
        config_report_error (report, error);
        return -1;
    }
    size_t errors = report->errors;
    config_report_check_keys (report, root, s_top_keys);
    config_t *section = config_locate (root, "web");
    if (section) {
        config_report_check_keys (report, section, s_web_keys);
        s_string (section, "listen", &config->listen, &config->listen_at, report);
        s_string (section, "control", &config->control, NULL, report);
        s_string (section, "events", &config->events, NULL, report);
        s_string (section, "state_dir", &config->state_dir, NULL, report);
        s_string (section, "tls_cert", &config->tls_cert, NULL, report);
        s_string (section, "tls_key", &config->tls_key, NULL, report);
        s_string (section, "cert", &config->cert, NULL, report);
        s_string (section, "server_key", &config->server_key, NULL, report);
        s_string (section, "users", &config->users_file, NULL, report);
        s_string (section, "tokens", &config->tokens_file, NULL, report);
        s_string (section, "admins", &config->admins, NULL, report);
        s_string (section, "readers", &config->readers, NULL, report);
        s_string (section, "senders", &config->senders, NULL, report);
        s_string (section, "source_label", &config->source_label, NULL, report);
        s_string (section, "trusted_proxies", &config->trusted_proxies, NULL, report);
        s_string (section, "severity_levels", &config->severity_levels, NULL, report);
        s_string (section, "server_names", &config->server_names, NULL, report);
        if (config_boolean (section, "insecure", false, &config->insecure, error, sizeof error))
            config_report_error (report, error);
        s_session_lifetime (section, config, report);
        if (config_integer (section, "max_connections", config->max_connections, 16, 1000000,
                            &config->max_connections, error, sizeof error))
            config_report_error (report, error);
        own_settings_read (section, "lilac-web", config->cert, &config->own, report);
    }
    config_destroy (&root);
    return report->errors > errors ? -1 : 0;
}

int
web_listen_address (const char *listen, struct sockaddr_storage *address,
                    char *error, size_t error_size)
{
    char host [256];
    const char *colon = strrchr (listen, ':');
    if (!colon || colon == listen || (size_t) (colon - listen) >= sizeof host) {
        snprintf (error, error_size, "'%s' is not ADDR:PORT (like 127.0.0.1:32744)", listen);
        return -1;
    }
    char *end = NULL;
    long port = strtol (colon + 1, &end, 10);
    if (!colon [1] || *end || port < 1 || port > 65535) {
        snprintf (error, error_size, "'%s': port must be 1-65535", listen);
        return -1;
    }
    memcpy (host, listen, (size_t) (colon - listen));
    host [colon - listen] = 0;
    memset (address, 0, sizeof *address);
    struct sockaddr_in *v4 = (struct sockaddr_in *) address;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *) address;
    size_t length = strlen (host);
    if (host [0] == '[' && length > 2 && host [length - 1] == ']') {
        host [length - 1] = 0;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons ((uint16_t) port);
        if (inet_pton (AF_INET6, host + 1, &v6->sin6_addr) == 1)
            return 0;
    }
    else {
        if (strcmp (host, "localhost") == 0)
            snprintf (host, sizeof host, "127.0.0.1");
        v4->sin_family = AF_INET;
        v4->sin_port = htons ((uint16_t) port);
        if (inet_pton (AF_INET, host, &v4->sin_addr) == 1)
            return 0;
    }
    snprintf (error, error_size, "'%s': not a numeric IPv4 or [IPv6] address", listen);
    return -1;
}

//  Every entry of trusted_proxies must be a numeric address.
static void
s_check_proxies (const char *list, config_report_t *report)
{
    char entry [INET6_ADDRSTRLEN + 1];
    for (const char *next = list; next && (next = config_list_next (next, entry,
                                                                     sizeof entry)); )
        if (!http_address_valid (entry))
            config_report_add (report, false, "web: trusted_proxies: '%s' is not a numeric "
                               "IPv4 or IPv6 address (no names, no ranges)", entry);
}

static bool
s_is_loopback (const struct sockaddr_storage *address)
{
    if (address->ss_family == AF_INET)
        return (ntohl (((const struct sockaddr_in *) address)->sin_addr.s_addr) >> 24) == 127;
    return IN6_IS_ADDR_LOOPBACK (&((const struct sockaddr_in6 *) address)->sin6_addr);
}

static void
s_check_readable (const char *path, const char *what, config_report_t *report)
{
    if (path && access (path, R_OK) != 0)
        config_report_add (report, false, "%s: cannot read %s", what, path);
}

//  The certificate and key as the HTTPS server will load them (GnuTLS,
//  PEM): a key that is not PEM or not the certificate's is an error here,
//  at -n and before the start, with GnuTLS's reason.
static void
s_check_tls_pair (const char *cert, const char *key, config_report_t *report)
{
    if (!cert || !key || access (cert, R_OK) != 0 || access (key, R_OK) != 0)
        return;                     //  reported already
    gnutls_certificate_credentials_t credentials;
    if (gnutls_certificate_allocate_credentials (&credentials) != GNUTLS_E_SUCCESS) {
        config_report_add (report, false, "web: tls_cert: GnuTLS cannot allocate credentials");
        return;
    }
    int rc = gnutls_certificate_set_x509_key_file (credentials, cert, key, GNUTLS_X509_FMT_PEM);
    if (rc < 0)
        config_report_add (report, false, "web: tls_cert %s with tls_key %s: %s (they must be "
                           "a PEM certificate and its unencrypted PEM private key)", cert, key,
                           gnutls_strerror (rc));
    gnutls_certificate_free_credentials (credentials);
}

//  max_connections and lilac-web's other descriptors within the hard
//  RLIMIT_NOFILE (the start raises the soft one): a warning when they do
//  not fit, as the start then takes fewer connections.
static void
s_check_descriptors (int64_t max_connections, config_report_t *report)
{
    struct rlimit limit;
    rlim_t needed = (rlim_t) max_connections + WEB_FD_MARGIN;
    if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_max == RLIM_INFINITY
    ||  limit.rlim_max >= needed)
        return;
    config_report_add (report, true, "web: max_connections %" PRId64 " needs %lu descriptors; "
                       "the hard limit (LimitNOFILE=, ulimit -Hn) is %lu: at most %lu "
                       "connections", max_connections, (unsigned long) needed,
                       (unsigned long) limit.rlim_max, limit.rlim_max > WEB_FD_MARGIN
                       ? (unsigned long) (limit.rlim_max - WEB_FD_MARGIN) : 0UL);
}

void
web_config_verify (web_config_t *config, bool *exposed, config_report_t *report)
{
    const char *where = config->listen_at ? config->listen_at : "default";
    struct sockaddr_storage address;
    char error [CONFIG_ERROR_SIZE];
    *exposed = false;
    if (web_listen_address (config->listen, &address, error, sizeof error))
        config_report_add (report, false, "%s: listen: %s", where, error);
    else
    if (!s_is_loopback (&address)) {
        *exposed = true;
        if (!config->tls_cert && !config->insecure)
            config_report_add (report, false, "%s: listen: '%s' is not a loopback address: "
                               "set tls_cert and tls_key (HTTPS), or insecure = yes to "
                               "serve plain HTTP to anybody who can reach it",
                               where, config->listen);
    }
    if (!config->tls_cert != !config->tls_key)
        config_report_add (report, false, "web: tls_cert and tls_key go together");
    s_check_readable (config->tls_cert, "web: tls_cert", report);
    s_check_readable (config->tls_key, "web: tls_key", report);
    s_check_tls_pair (config->tls_cert, config->tls_key, report);
    s_check_descriptors (config->max_connections, report);
    if (!config->cert != !config->server_key)
        config_report_add (report, false, "web: cert and server_key go together (CURVE)");
    else
    if (config->cert) {
        if (bus_secure_client (config->cert, config->server_key, error, sizeof error))
            config_report_add (report, false, "web: cert: %s", error);
        bus_secure_reset ();        //  a check only: web_new secures the sockets
    }
    s_check_proxies (config->trusted_proxies, report);
    if (ingest_map_severity_levels_check (config->severity_levels, error, sizeof error))
        config_report_add (report, false, "web: severity_levels: %s", error);
    config_check_endpoints (config->control, "web: control", report);
    config_check_endpoints (config->events, "web: events", report);
    config_check_dir (config->state_dir, "web: state_dir", report);
}

void
web_config_free (web_config_t *config)
{
    mem_free (config->config_file);
    mem_free (config->listen);
    mem_free (config->listen_at);
    mem_free (config->control);
    mem_free (config->events);
    mem_free (config->state_dir);
    mem_free (config->tls_cert);
    mem_free (config->tls_key);
    mem_free (config->cert);
    mem_free (config->server_key);
    mem_free (config->users_file);
    mem_free (config->tokens_file);
    mem_free (config->admins);
    mem_free (config->readers);
    mem_free (config->senders);
    mem_free (config->source_label);
    mem_free (config->trusted_proxies);
    mem_free (config->severity_levels);
    mem_free (config->server_names);
    *config = (web_config_t) { 0 };
}
