/*  web.c — lilac-web's loop and its first routes. See web.h.

    The loop polls three things: libmicrohttpd's epoll descriptor, the
    control client's DEALER and a signalfd. Each turn runs MHD_run (which
    in external epoll mode handles what is ready and returns), reads the
    broker's answers, and sends the next ping or stats when due. The poll
    sleeps until the earliest of MHD's own timeout and the next request to
    the broker, never longer than WEB_PING_MS.

    Responses are built whole in memory and handed to MHD, which frees them:
    every page served so far is small. JSON goes through jansson.
*/
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include "bus.h"
#include "config.h"
#include "ctl.h"
#include "log.h"
#include "mem.h"
#include "ingest.h"
#include "signals.h"
#include "api_acts.h"
#include "api_session.h"
#include "api_ui.h"
#include "api_silences.h"
#include "auth.h"
#include "session.h"
#include "api_alerts.h"
#include "mirror.h"
#include "stream.h"
#include "web_internal.h"

//  An HTTP request waiting on the broker's answer to ticket.
typedef struct {
    uint64_t ticket;
    int64_t deadline;              //  mono ms: given up then
    http_request_t *request;
    web_done_fn *done;
    void *arg;
} web_pending_t;

struct _web_t {
    char *listen;                  //  ADDR:PORT, for logs
    char *control;                 //  the broker's control endpoint, for messages
    struct MHD_Daemon *daemon;     //  the HTTP server
    int epoll_fd;                  //  its epoll descriptor, in our poll
    ctl_t *ctl;                    //  the control client
    own_alerts_t *own;             //  our heartbeat at the broker, or NULL (heartbeat 0)
    own_settings_t own_settings;   //  ... as configured
    mirror_t *mirror;              //  every alert, live
    ingest_t *ingest;              //  the turn's submits (group commit)
    auth_t *auth;                  //  users, tokens, roles
    stream_t *stream;              //  the SSE clients
    int signal_fd;                 //  SIGINT, SIGTERM, SIGHUP
    char *config_file;             //  what SIGHUP reads again, or NULL
    bool stopping;                 //  a signal arrived
    uint64_t ping_ticket;          //  the ping in flight, 0 none
    int64_t ping_sent_at;          //  mono ms
    uint64_t stats_ticket;         //  the stats in flight, 0 none
    int64_t stats_sent_at;         //  mono ms
    int64_t next_ping;             //  mono ms
    int64_t next_stats;            //  mono ms
    int64_t last_pong;             //  mono ms of the last ping answer, 0 never
    char degraded [256];           //  the broker's last word on it, "" when well
    wire_doc_t *stats;             //  the last stats reply, or NULL
    http_counts_t counts;          //  answers by code, for /metrics
    web_pending_t *pending;        //  HTTP requests waiting on the broker
    size_t pending_count;
    size_t pending_capacity;
    char *tls_cert;                //  PEM text, or NULL
    char *tls_key;                 //  PEM text, or NULL
    char *source_label;            //  Alertmanager: the label naming the source
    char *trusted_proxies;         //  whose X-Forwarded-For counts, or NULL
    char *severity_levels;         //  Alertmanager: severity → level, or NULL (the default)
    char *server_names;            //  Host names accepted with authentication off, or NULL
};

//  --- the broker's health -----------------------------------------------------------

static bool
s_broker_up (web_t *self)
{
    return self->last_pong && zclock_mono () - self->last_pong < WEB_BROKER_SILENCE_MS;
}

static enum MHD_Result
s_healthz (web_t *self, http_request_t *request)
{
    char text [600];
    if (!s_broker_up (self)) {
        snprintf (text, sizeof text, "broker unreachable: no answer from %s for %d s\n",
                  self->control, WEB_BROKER_SILENCE_MS / 1000);
        return http_reply_text (request, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", text);
    }
    if (*self->degraded) {
        snprintf (text, sizeof text, "broker degraded: %s\n", self->degraded);
        return http_reply_text (request, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", text);
    }
    if (!mirror_live (self->mirror, WEB_BROKER_SILENCE_MS))
        return http_reply_text (request, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
                                mirror_ready (self->mirror)
                                ? "the change feed is silent: no hugz for 3 s\n"
                                : "the change feed has not synced yet\n");
    return http_reply_text (request, MHD_HTTP_OK, "text/plain", "ok\n");
}

//  Appends printf-style text to the growing buffer *text.
static void
s_append (char **text, size_t *size, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
static void
s_append (char **text, size_t *size, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char line [512];
    int length = vsnprintf (line, sizeof line, format, args);
    va_end (args);
    if (length < 0)
        return;
    if ((size_t) length >= sizeof line)
        length = sizeof line - 1;
    *text = mem_realloc (*text, *size + (size_t) length + 1);
    memcpy (*text + *size, line, (size_t) length + 1);
    *size += (size_t) length;
}

//  The broker's stats as one gauge each: lilac_broker_NAME.
static void
s_metrics_stats (web_t *self, char **text, size_t *size)
{
    const msgpack_object *stats = self->stats ? wire_get (wire_doc_root (self->stats), "stats")
                                              : NULL;
    if (!stats || stats->type != MSGPACK_OBJECT_MAP)
        return;
    for (uint32_t index = 0; index < stats->via.map.size; index++) {
        const msgpack_object_kv *pair = &stats->via.map.ptr [index];
        if (pair->key.type != MSGPACK_OBJECT_STR || pair->key.via.str.size > 64)
            continue;
        int64_t value;
        if (pair->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            value = (int64_t) pair->val.via.u64;
        else
        if (pair->val.type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            value = pair->val.via.i64;
        else
            continue;
        char name [80];
        snprintf (name, sizeof name, "lilac_broker_%.*s", (int) pair->key.via.str.size,
                  pair->key.via.str.ptr);
        if (strspn (name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen (name))
            continue;               //  not a Prometheus name: left out
        s_append (text, size, "# TYPE %s gauge\n%s %" PRId64 "\n", name, name, value);
    }
}

//  lilac_web_request_seconds: a histogram of the time from a request's
//  headers to its answer.
static void
s_metrics_latency (web_t *self, char **text, size_t *size)
{
    s_append (text, size, "# HELP lilac_web_request_seconds From a request's headers to its"
              " answer.\n# TYPE lilac_web_request_seconds histogram\n");
    uint64_t cumulative = 0;
    for (size_t index = 0; index < HTTP_BUCKETS; index++) {
        cumulative += self->counts.by_time [index];
        s_append (text, size, "lilac_web_request_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                  http_buckets_s [index], cumulative);
    }
    s_append (text, size, "lilac_web_request_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
              "lilac_web_request_seconds_sum %.6f\nlilac_web_request_seconds_count %" PRIu64 "\n",
              self->counts.count, self->counts.seconds, self->counts.count);
}

//  lilac_alerts{state, level}: the mirror's alerts, counted.
typedef struct {
    uint64_t by [4][3];            //  [alert_state_t][alert_level_t]
} s_alert_counts_t;

static void
s_count_alert (const alert_t *alert, void *arg)
{
    s_alert_counts_t *counts = arg;
    if ((unsigned) alert->state < 4 && (unsigned) alert->level < 3)
        counts->by [alert->state][alert->level]++;
}

static void
s_metrics_alerts (web_t *self, char **text, size_t *size)
{
    if (!mirror_ready (self->mirror))
        return;
    s_alert_counts_t counts = { { { 0 } } };
    mirror_each (self->mirror, s_count_alert, &counts);
    s_append (text, size, "# HELP lilac_alerts Live alerts by state and level (lilac-web's"
              " copy).\n# TYPE lilac_alerts gauge\n");
    for (int state = 0; state < 4; state++)
        for (int level = 0; level < 3; level++)
            s_append (text, size, "lilac_alerts{state=\"%s\",level=\"%s\"} %" PRIu64 "\n",
                      alert_state_name ((alert_state_t) state),
                      alert_level_name ((alert_level_t) level), counts.by [state][level]);
}

static enum MHD_Result
s_metrics (web_t *self, http_request_t *request)
{
    char *text = NULL;
    size_t size = 0;
    s_append (&text, &size, "# HELP lilac_broker_up 1 while the broker answers ping.\n"
              "# TYPE lilac_broker_up gauge\nlilac_broker_up %d\n", s_broker_up (self));
    s_append (&text, &size, "# HELP lilac_broker_degraded 1 while the broker says it is "
              "degraded (commits or reads failing, too few standbys).\n# TYPE lilac_broker_degraded gauge\nlilac_broker_degraded %d\n",
              *self->degraded != 0);
    s_metrics_stats (self, &text, &size);
    s_append (&text, &size, "# HELP lilac_web_requests_total HTTP requests answered, by code.\n"
              "# TYPE lilac_web_requests_total counter\n");
    for (size_t index = 0; index < HTTP_CODES_COUNTED; index++)
        s_append (&text, &size, "lilac_web_requests_total{code=\"%u\"} %" PRIu64 "\n",
                  http_counted_codes [index], self->counts.by_code [index]);
    s_append (&text, &size, "lilac_web_requests_total{code=\"other\"} %" PRIu64 "\n",
              self->counts.by_code [HTTP_CODES_COUNTED]);
    s_metrics_latency (self, &text, &size);
    s_metrics_alerts (self, &text, &size);
    s_append (&text, &size, "# HELP lilac_web_streams Open /api/stream clients.\n"
              "# TYPE lilac_web_streams gauge\nlilac_web_streams %zu\n",
              stream_clients (self->stream));
    enum MHD_Result rc = http_reply_text (request, MHD_HTTP_OK,
                                          "text/plain; version=0.0.4", text);
    mem_free (text);
    return rc;
}

static enum MHD_Result
s_stream (web_t *self, http_request_t *request)
{
    return stream_open (self->stream, request);
}

//  --- routing ----------------------------------------------------------------------------

typedef struct {
    const char *method;            //  GET also answers HEAD
    const char *path;              //  exact, or a prefix when it ends in '/'
    auth_need_t need;              //  what the caller's role must allow
    web_route_fn *run;
} web_route_t;

//  A path ending in '/' matches every path it begins ("/" itself only "/").
static const web_route_t s_routes [] = {
    { MHD_HTTP_METHOD_GET, "/", AUTH_OPEN, api_ui_index },
    { MHD_HTTP_METHOD_GET, "/alerts/", AUTH_OPEN, api_ui_index },
    { MHD_HTTP_METHOD_GET, "/silences", AUTH_OPEN, api_ui_index },
    { MHD_HTTP_METHOD_GET, "/ui/", AUTH_OPEN, api_ui_file },
    { MHD_HTTP_METHOD_GET, "/healthz", AUTH_OPEN, s_healthz },
    { MHD_HTTP_METHOD_GET, "/login", AUTH_OPEN, api_ui_login },
    { MHD_HTTP_METHOD_GET, "/api/session", AUTH_OPEN, api_session_who },
    { MHD_HTTP_METHOD_POST, "/api/session", AUTH_OPEN, api_session_login },
    { MHD_HTTP_METHOD_DELETE, "/api/session", AUTH_OPEN, api_session_logout },
    { MHD_HTTP_METHOD_GET, "/metrics", AUTH_READ, s_metrics },
    { MHD_HTTP_METHOD_GET, "/api/alerts", AUTH_READ, api_alerts_list },
    { MHD_HTTP_METHOD_GET, "/api/alerts/", AUTH_READ, api_alerts_one },
    { MHD_HTTP_METHOD_GET, "/api/stream", AUTH_READ, s_stream },
    { MHD_HTTP_METHOD_POST, "/api/alerts/", AUTH_ACT, api_acts_one },
    { MHD_HTTP_METHOD_POST, "/api/actions", AUTH_ACT, api_acts_many },
    { MHD_HTTP_METHOD_POST, "/api/events", AUTH_SEND, ingest_events },
    { MHD_HTTP_METHOD_POST, "/events", AUTH_SEND, ingest_purppura },
    { MHD_HTTP_METHOD_GET, INGEST_PING_PREFIX, AUTH_SEND, ingest_ping },
    { MHD_HTTP_METHOD_POST, INGEST_PING_PREFIX, AUTH_SEND, ingest_ping },
    { MHD_HTTP_METHOD_POST, "/api/v2/alerts", AUTH_SEND, ingest_alertmanager },
    { MHD_HTTP_METHOD_GET, "/api/silences", AUTH_READ, api_silences_list },
    { MHD_HTTP_METHOD_POST, "/api/silences", AUTH_ACT, api_silences_add },
    { MHD_HTTP_METHOD_POST, "/api/silences/", AUTH_ACT, api_silences_expire },
    { MHD_HTTP_METHOD_GET, "/api/v2/status", AUTH_READ, api_silences_am_status },
    { MHD_HTTP_METHOD_GET, "/api/v2/silences", AUTH_READ, api_silences_am_list },
    { MHD_HTTP_METHOD_POST, "/api/v2/silences", AUTH_ACT, api_silences_am_add },
    { MHD_HTTP_METHOD_GET, "/api/v2/silence/", AUTH_READ, api_silences_am_get },
    { MHD_HTTP_METHOD_DELETE, "/api/v2/silence/", AUTH_ACT, api_silences_am_delete },
};

static bool
s_path_matches (const web_route_t *route, const char *path)
{
    size_t length = strlen (route->path);
    return length > 1 && route->path [length - 1] == '/'
         ? strncmp (path, route->path, length) == 0 : strcmp (path, route->path) == 0;
}

//  The CSRF rule. A request that may change state (not GET or HEAD) and
//  carries an Origin must carry ours: a browser adds it, and a page of
//  another site must not act with the credentials the browser keeps for
//  us (a session cookie, or Basic ones it remembers). With a session it
//  must also carry an Origin at all and a JSON body (Content-Type
//  application/json, which another site cannot send without asking us
//  first, and we never say yes). Tools (curl, Prometheus, amtool) send no
//  Origin. True, with why, when the request must be refused.
static bool
s_cross_site (web_t *self, http_request_t *request, const auth_identity_t *who,
              char *why, size_t why_size)
{
    if (http_is (request, MHD_HTTP_METHOD_GET) || http_is (request, MHD_HTTP_METHOD_HEAD))
        return false;
    const char *origin = http_header (request, MHD_HTTP_HEADER_ORIGIN);
    const char *host = http_header (request, MHD_HTTP_HEADER_HOST);
    const char *type = http_header (request, MHD_HTTP_HEADER_CONTENT_TYPE);
    const char *scheme = web_https (self, request) ? "https://" : "http://";
    if (origin && !(host && strncasecmp (origin, scheme, strlen (scheme)) == 0
                    && strcasecmp (origin + strlen (scheme), host) == 0)) {
        snprintf (why, why_size, "cross-origin request refused: Origin %.100s is not %s%.100s",
                  origin, scheme, host ? host : "(no Host)");
        return true;
    }
    if (who->by_session && !origin) {
        snprintf (why, why_size, "a browser session's change needs an Origin header");
        return true;
    }
    if (who->by_session && (!type || strncasecmp (type, "application/json", 16)
                            || (type [16] && type [16] != ';' && type [16] != ' '))) {
        snprintf (why, why_size, "a browser session's change needs Content-Type: "
                  "application/json");
        return true;
    }
    return false;
}

//  The one GET that changes state (/ping, for cron) must not be one a page
//  elsewhere makes a browser send (an <img src>): browsers say where a
//  request comes from in Sec-Fetch-Site, tools send none. True with why
//  when refused.
static bool
s_cross_site_get (const web_route_t *route, http_request_t *request, char *why,
                  size_t why_size)
{
    if (route->need != AUTH_SEND || !(http_is (request, MHD_HTTP_METHOD_GET)
                                      || http_is (request, MHD_HTTP_METHOD_HEAD)))
        return false;
    const char *site = http_header (request, "Sec-Fetch-Site");
    if (!site || strcmp (site, "same-origin") == 0 || strcmp (site, "none") == 0)
        return false;
    snprintf (why, why_size, "a %.40s request may not send a heartbeat (Sec-Fetch-Site)", site);
    return true;
}

//  With authentication off, anyone who can reach lilac-web may act, so a
//  browser must not be led to it under a foreign name (DNS rebinding: a
//  page's name made to point at 127.0.0.1, whose Origin then matches its
//  Host). The Host must be an address, localhost, or a name in
//  server_names. With authentication on, the credentials are the guard.
static bool
s_host_refused (web_t *self, http_request_t *request, char *why, size_t why_size)
{
    if (auth_enabled (self->auth))
        return false;
    const char *host = http_header (request, MHD_HTTP_HEADER_HOST);
    if (!host)
        return false;                   //  HTTP/1.0 without Host: no browser
    char name [300];
    size_t length = *host == '[' ? strcspn (host, "]") + 1 : strcspn (host, ":");
    snprintf (name, sizeof name, "%.*s", (int) length, host);
    if (*name == '[' && length >= 2)
        snprintf (name, sizeof name, "%.*s", (int) length - 2, host + 1);
    if (http_address_valid (name) || strcasecmp (name, "localhost") == 0)
        return false;
    char listed [300];
    for (const char *at = self->server_names; at && (at = config_list_next (at, listed,
                                                                             sizeof listed)); )
        if (strcasecmp (listed, name) == 0)
            return false;
    snprintf (why, why_size, "Host %.100s is not one of lilac-web's names (an address, "
              "localhost, or server_names)", host);
    return true;
}

//  The route, if the caller may.
static enum MHD_Result
s_run_route (web_t *self, const web_route_t *route, http_request_t *request)
{
    auth_identity_t who;
    unsigned code = 0;
    char why [300];
    if (s_host_refused (self, request, why, sizeof why)) {
        log_warn ("%s %s: %s", http_method (request), http_path (request), why);
        return http_reply_error (request, MHD_HTTP_MISDIRECTED_REQUEST, "%s", why);
    }
    if (auth_check (self->auth, request, route->need, &who, &code, why, sizeof why)) {
        if (code == MHD_HTTP_UNAUTHORIZED && !http_has_cookie (request, SESSION_COOKIE))
            return http_reply_unauthorized (request, why);
        return http_reply_error (request, code, "%s", why);
    }
    if (s_cross_site (self, request, &who, why, sizeof why)
    ||  s_cross_site_get (route, request, why, sizeof why)) {
        char address [64] = "?";
        if (http_peer_address (request, address, sizeof address))
            snprintf (address, sizeof address, "?");
        log_warn ("%s %s from %s: %s", http_method (request), http_path (request), address, why);
        return http_reply_error (request, MHD_HTTP_FORBIDDEN, "%s", why);
    }
    http_set_user (request, who.name, who.source);
    if (*who.name)
        http_set_role (request, auth_role_name (who.role), who.by_session);
    return route->run (self, request);
}

static enum MHD_Result
s_route (web_t *self, http_request_t *request)
{
    bool path_known = false;
    for (size_t index = 0; index < sizeof s_routes / sizeof s_routes [0]; index++) {
        const web_route_t *route = &s_routes [index];
        if (!s_path_matches (route, http_path (request)))
            continue;
        path_known = true;
        if (http_is (request, route->method)
        ||  (strcmp (route->method, MHD_HTTP_METHOD_GET) == 0
             && http_is (request, MHD_HTTP_METHOD_HEAD)))
            return s_run_route (self, route, request);
    }
    if (path_known)
        return http_reply_error (request, MHD_HTTP_METHOD_NOT_ALLOWED,
                                 "%s is not allowed on %s", http_method (request),
                                 http_path (request));
    return http_reply_error (request, MHD_HTTP_NOT_FOUND, "no such path: %.200s",
                             http_path (request));
}

static enum MHD_Result
s_answer (void *arg, struct MHD_Connection *connection, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size,
          void **request_state)
{
    (void) version;
    web_t *self = arg;
    enum MHD_Result handled;
    http_request_t *request = http_request_take (connection, url, method, upload_data,
                                                 upload_data_size, request_state,
                                                 HTTP_BODY_DEFAULT_MAX, &self->counts, &handled);
    if (!request)
        return handled;
    http_trust_proxies (request, self->trusted_proxies);
    return s_route (self, request);
}

//  --- requests waiting on the broker ------------------------------------------------------

int
web_send (web_t *self, http_request_t *request, const void *body, size_t size,
          web_done_fn *done, void *arg, char *error, size_t error_size)
{
    uint64_t ticket = ctl_send (self->ctl, body, size, error, error_size);
    if (!ticket)
        return -1;
    if (self->pending_count == self->pending_capacity) {
        self->pending_capacity = self->pending_capacity ? self->pending_capacity * 2 : 64;
        self->pending = mem_realloc (self->pending,
                                     self->pending_capacity * sizeof (web_pending_t));
    }
    self->pending [self->pending_count++] = (web_pending_t) {
        .ticket = ticket, .deadline = zclock_mono () + WEB_CALL_TIMEOUT_MS,
        .request = request, .done = done, .arg = arg
    };
    http_suspend (request);
    return 0;
}

enum MHD_Result
web_call (web_t *self, http_request_t *request, const void *body, size_t size,
          web_done_fn *done, void *arg)
{
    char error [256];
    if (web_send (self, request, body, size, done, arg, error, sizeof error))
        return http_reply_error (request, MHD_HTTP_SERVICE_UNAVAILABLE,
                                 "cannot reach the broker: %s", error);
    return MHD_YES;
}

const char *
web_control_endpoint (web_t *self)
{
    return self->control;
}

void
web_user (web_t *self, http_request_t *request, char *by, size_t size)
{
    (void) self;
    if (*http_user (request)) {
        snprintf (by, size, "%s", http_user (request));
        return;
    }
    char address [64] = "?";
    if (http_peer_address (request, address, sizeof address))
        snprintf (address, sizeof address, "?");
    snprintf (by, size, "anonymous@%s", address);
}

wire_doc_t *
web_reply_checked (web_t *self, http_request_t *request, wire_doc_t *reply, const char *why,
                   unsigned refused_code)
{
    if (!reply) {
        http_resume_json (request, MHD_HTTP_SERVICE_UNAVAILABLE,
                          json_pack ("{s:s}", "error", why ? why : "no answer"));
        return NULL;
    }
    char error [WIRE_ERROR_SIZE];
    ctl_failure_t failure = 0;
    wire_doc_t *checked = ctl_reply_ok (self->ctl, reply, &failure, error, sizeof error);
    if (!checked) {
        unsigned code = strstr (error, "no alert") || strstr (error, "not found")
                      ? MHD_HTTP_NOT_FOUND : refused_code;
        http_resume_json (request, code, json_pack ("{s:s}", "error", error));
    }
    return checked;
}

auth_t *
web_auth (web_t *self)
{
    return self->auth;
}

bool
web_https (web_t *self, http_request_t *request)
{
    //  A trusted proxy's word on the browser's scheme: the first of its
    //  list (the hop nearest the browser); without one, our own.
    const char *proto = http_from_trusted_proxy (request)
                      ? http_header (request, "X-Forwarded-Proto") : NULL;
    if (proto) {
        size_t length = strcspn (proto, ", \t");
        return length == 5 && strncasecmp (proto, "https", 5) == 0;
    }
    return self->tls_cert != NULL;
}

ctl_t *
web_ctl (web_t *self)
{
    return self->ctl;
}

ingest_t *
web_ingest (web_t *self)
{
    return self->ingest;
}

mirror_t *
web_mirror (web_t *self)
{
    return self->mirror;
}

const char *
web_source_label (web_t *self)
{
    return self->source_label;
}

const char *
web_severity_levels (web_t *self)
{
    return self->severity_levels;
}

//  Hands reply to the request waiting for ticket. False if none does.
static bool
s_answer_pending (web_t *self, uint64_t ticket, wire_doc_t *reply)
{
    for (size_t index = 0; index < self->pending_count; index++)
        if (self->pending [index].ticket == ticket) {
            web_pending_t pending = self->pending [index];
            self->pending [index] = self->pending [--self->pending_count];
            pending.done (self, pending.request, reply, NULL, pending.arg);
            return true;
        }
    return false;
}

//  Requests the broker did not answer in time: answered without it.
static void
s_expire_pending (web_t *self)
{
    int64_t now = zclock_mono ();
    for (size_t index = 0; index < self->pending_count; ) {
        if (self->pending [index].deadline > now) {
            index++;
            continue;
        }
        web_pending_t pending = self->pending [index];
        self->pending [index] = self->pending [--self->pending_count];
        char why [300];
        snprintf (why, sizeof why, "no answer from the broker (%s) within %d s",
                  self->control, WEB_CALL_TIMEOUT_MS / 1000);
        pending.done (self, pending.request, NULL, why, pending.arg);
    }
}

//  --- watching the broker ---------------------------------------------------------------

static void
s_take_reply (web_t *self, uint64_t ticket, wire_doc_t *reply)
{
    if (ticket == self->ping_ticket) {
        self->ping_ticket = 0;
        self->last_pong = zclock_mono ();
        char *degraded = NULL;
        char error [WIRE_ERROR_SIZE];
        if (wire_get_string (wire_doc_root (reply), "degraded", WIRE_MAX_SUMMARY, &degraded,
                             error, sizeof error) == 0) {
            if (!!degraded != !!*self->degraded)
                log_info ("broker %s%s", degraded ? "degraded: " : "no longer degraded",
                          degraded ? degraded : "");
            snprintf (self->degraded, sizeof self->degraded, "%s", degraded ? degraded : "");
        }
        free (degraded);
        wire_doc_destroy (&reply);
    }
    else
    if (ticket == self->stats_ticket) {
        self->stats_ticket = 0;
        wire_doc_destroy (&self->stats);
        self->stats = reply;
    }
    else
    if (!s_answer_pending (self, ticket, reply))
        wire_doc_destroy (&reply);      //  an answer we gave up on
}

static void
s_read_replies (web_t *self)
{
    for (int count = 0; count < 100; count++) {
        uint64_t ticket = 0;
        wire_doc_t *reply = NULL;
        char error [WIRE_ERROR_SIZE];
        int rc = ctl_receive (self->ctl, &ticket, &reply, error, sizeof error);
        if (rc == 0)
            return;
        if (rc == 1)
            s_take_reply (self, ticket, reply);
    }
}

typedef uint64_t (s_send_fn) (ctl_t *ctl, char *error, size_t error_size);

//  Sends a request when due and nothing is in flight (or what is has
//  timed out).
static void
s_request (web_t *self, s_send_fn *send, uint64_t *ticket, int64_t *sent_at, int64_t *next,
           int64_t period, int64_t now)
{
    if (now < *next || (*ticket && now - *sent_at < WEB_CALL_TIMEOUT_MS))
        return;
    char error [256];
    *ticket = send (self->ctl, error, sizeof error);
    *sent_at = now;
    *next = now + period;
}

static void
s_watch_broker (web_t *self)
{
    int64_t now = zclock_mono ();
    s_request (self, ctl_send_ping, &self->ping_ticket, &self->ping_sent_at, &self->next_ping,
               WEB_PING_MS, now);
    s_request (self, ctl_send_stats, &self->stats_ticket, &self->stats_sent_at, &self->next_stats,
               WEB_STATS_MS, now);
}

//  --- the loop ------------------------------------------------------------------------------

static long
s_poll_timeout (web_t *self)
{
    int64_t now = zclock_mono ();
    int64_t wait = self->next_ping - now;
    if (self->next_stats - now < wait)
        wait = self->next_stats - now;
    int64_t mirror = mirror_next_wakeup (self->mirror, now);
    if (mirror >= 0 && mirror < wait)
        wait = mirror;
    int64_t own = self->own ? own_alerts_next_wakeup (self->own, now) : -1;
    if (own >= 0 && own < wait)
        wait = own;
    int64_t keepalive = stream_work (self->stream, now);
    if (keepalive < wait)
        wait = keepalive;
    MHD_UNSIGNED_LONG_LONG mhd = 0;
    if (MHD_get_timeout (self->daemon, &mhd) == MHD_YES && (int64_t) mhd < wait)
        wait = (int64_t) mhd;
    return wait < 0 ? 0 : wait > WEB_PING_MS ? WEB_PING_MS : (long) wait;
}

//  SIGHUP (systemctl reload): the config file again, and with it the
//  users and tokens files and the roles, so a new password, a revoked
//  token or a new admin takes effect without a restart. Everything else
//  (listen, TLS, the broker's endpoints) is read at start only, and a
//  reload says so. A file that does not load keeps the running set, with
//  the reasons logged: a typo must not lock every user out.
static void
s_reload (web_t *self)
{
    if (!self->config_file) {
        log_info ("SIGHUP: no config file to reload");
        return;
    }
    web_config_t config;
    config_report_t report = { 0 };
    bool exposed = false;
    web_config_load (&config, self->config_file, &report);
    if (!report.errors) {
        web_config_verify (&config, &exposed, &report);
        auth_verify (&config, &report);
    }
    config_report_log (&report, "SIGHUP: ");
    char error [CONFIG_ERROR_SIZE];
    auth_t *fresh = report.errors ? NULL : auth_new (&config, error, sizeof error);
    if (report.errors)
        log_error ("SIGHUP: %zu errors in %s — keeping the running users, tokens and roles",
                   report.errors, self->config_file);
    else
    if (!fresh)
        log_error ("SIGHUP: %s — keeping the running users, tokens and roles", error);
    else {
        auth_destroy (&self->auth);
        self->auth = fresh;
        log_info ("SIGHUP: reloaded users, tokens and roles from %s (other settings take "
                  "a restart)", self->config_file);
    }
    web_config_free (&config);
}

static void
s_read_signals (web_t *self)
{
    struct signalfd_siginfo info;
    while (read (self->signal_fd, &info, sizeof info) == sizeof info) {
        if (info.ssi_signo == SIGHUP) {
            s_reload (self);
            continue;
        }
        log_info ("%s: exiting", strsignal ((int) info.ssi_signo));
        if (self->own)
            own_alerts_stopping (self->own);
        self->stopping = true;
    }
}

int
web_run (web_t *self)
{
    self->signal_fd = signals_open_fd ((const int []) { SIGINT, SIGTERM, SIGHUP }, 3);
    if (self->signal_fd < 0) {
        log_error ("cannot set up signal handling: %s", strerror (errno));
        return -1;
    }
    log_info ("ready: http%s://%s, broker %s", self->tls_cert ? "s" : "", self->listen,
              self->control);
    char own [512];
    own_alerts_describe (&self->own_settings, own, sizeof own);
    log_info ("own alerts: %s", own);
    while (!self->stopping) {
        zmq_pollitem_t items [4 + FEED_POLL_ITEMS] = {
            { NULL, self->epoll_fd, ZMQ_POLLIN, 0 },
            { zsock_resolve (ctl_socket (self->ctl)), 0, ZMQ_POLLIN, 0 },
            { NULL, self->signal_fd, ZMQ_POLLIN, 0 },
        };
        int count = 3;
        if (self->own)
            items [count++] = (zmq_pollitem_t) {
                zsock_resolve (own_alerts_socket (self->own)), 0, ZMQ_POLLIN, 0 };
        count += mirror_poll_items (self->mirror, items + count, FEED_POLL_ITEMS);
        if (zmq_poll (items, count, s_poll_timeout (self)) < 0 && errno != EINTR) {
            log_error ("poll failed: %s", zmq_strerror (errno));
            continue;
        }
        if (MHD_run (self->daemon) != MHD_YES)
            log_error ("the HTTP server failed a turn");
        ingest_flush (self->ingest, self);
        s_read_replies (self);
        s_expire_pending (self);
        mirror_work (self->mirror, zclock_mono ());
        stream_work (self->stream, zclock_mono ());
        if (self->own)
            own_alerts_work (self->own, zclock_mono ());
        //  Requests resumed this turn (a broker's answer, a stream's event)
        //  go out now, not at the next wake-up.
        if (MHD_run (self->daemon) != MHD_YES)
            log_error ("the HTTP server failed a turn");
        ingest_flush (self->ingest, self);
        if (items [2].revents & ZMQ_POLLIN)
            s_read_signals (self);
        s_watch_broker (self);
    }
    return 0;
}

//  --- setting up ----------------------------------------------------------------------------

static char *
s_read_file (const char *path, char *error, size_t error_size)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (error, error_size, "cannot read %s: %s", path, strerror (errno));
        return NULL;
    }
    char *text = NULL;
    size_t size = 0, length;
    char block [4096];
    while ((length = fread (block, 1, sizeof block, file)) > 0 && size < 1024 * 1024) {
        text = mem_realloc (text, size + length + 1);
        memcpy (text + size, block, length);
        size += length;
        text [size] = 0;
    }
    fclose (file);
    if (!text)
        snprintf (error, error_size, "%s is empty", path);
    return text;
}

//  max_connections, once the soft descriptor limit is raised to fit it
//  (within the hard limit); fewer, and a warning, when it cannot be.
static unsigned
s_connection_limit (const web_config_t *config)
{
    struct rlimit limit;
    rlim_t needed = (rlim_t) config->max_connections + WEB_FD_MARGIN;
    if (getrlimit (RLIMIT_NOFILE, &limit)) {
        log_error ("getrlimit: %s", strerror (errno));
        return (unsigned) config->max_connections;
    }
    if (limit.rlim_cur >= needed)
        return (unsigned) config->max_connections;
    rlim_t wanted = limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed
                  ? limit.rlim_max : needed;
    if (wanted > limit.rlim_cur) {
        struct rlimit raised = { .rlim_cur = wanted, .rlim_max = limit.rlim_max };
        if (setrlimit (RLIMIT_NOFILE, &raised) == 0)
            limit.rlim_cur = wanted;
        else
            log_error ("cannot raise the descriptor limit to %lu: %s", (unsigned long) wanted,
                       strerror (errno));
    }
    if (limit.rlim_cur >= needed)
        return (unsigned) config->max_connections;
    unsigned fit = limit.rlim_cur > WEB_FD_MARGIN + 16 ? (unsigned) (limit.rlim_cur - WEB_FD_MARGIN)
                                                       : 16;
    log_warn ("max_connections %" PRId64 " needs %lu descriptors, the limit is %lu: taking %u "
              "connections", config->max_connections, (unsigned long) needed,
              (unsigned long) limit.rlim_cur, fit);
    return fit;
}

//  libmicrohttpd's own messages (a client's broken TLS handshake, a
//  request cut short) into our log, as warnings through a limit: any
//  client can cause them, so none may flood the journal.
static void
s_mhd_log (void *arg, const char *format, va_list args)
{
    (void) arg;
    static log_limit_t limit;
    char text [512];
    vsnprintf (text, sizeof text, format, args);
    text [strcspn (text, "\r\n")] = 0;
    //  A browser leaving a page closes its stream while we write to it:
    //  that is the normal end of a stream, not a fault to warn about.
    if (strstr (text, "no longer available for sending"))
        log_debug ("libmicrohttpd: %s", text);
    else
        log_limited (&limit, "libmicrohttpd: %s", text);
}

static int
s_start_http (web_t *self, const web_config_t *config, char *error, size_t error_size)
{
    struct sockaddr_storage address;
    if (web_listen_address (config->listen, &address, error, error_size))
        return -1;
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME
                   | (address.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    if (config->tls_cert) {
        self->tls_cert = s_read_file (config->tls_cert, error, error_size);
        self->tls_key = self->tls_cert ? s_read_file (config->tls_key, error, error_size) : NULL;
        if (!self->tls_key)
            return -1;
        flags |= MHD_USE_TLS;
    }
    struct MHD_OptionItem options [] = {
        { MHD_OPTION_EXTERNAL_LOGGER, (intptr_t) s_mhd_log, NULL },      //  first, as MHD asks
        { MHD_OPTION_SOCK_ADDR, 0, &address },
        { MHD_OPTION_CONNECTION_LIMIT, s_connection_limit (config), NULL },
        { MHD_OPTION_CONNECTION_TIMEOUT, WEB_CONNECTION_TIMEOUT, NULL },
        { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t) http_request_completed, NULL },
        //  Paths stay percent-encoded: routes split them, then decode each part
        { MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t) http_keep_escapes, NULL },
        { self->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, self->tls_cert },
        { MHD_OPTION_HTTPS_MEM_KEY, 0, self->tls_key },
        { MHD_OPTION_END, 0, NULL }
    };
    self->daemon = MHD_start_daemon (flags, 0, NULL, NULL, s_answer, self,
                                     MHD_OPTION_ARRAY, options, MHD_OPTION_END);
    if (!self->daemon) {
        snprintf (error, error_size, "cannot serve HTTP on %s: %s", config->listen,
                  errno ? strerror (errno) : "libmicrohttpd refused");
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon,
                                                            MHD_DAEMON_INFO_EPOLL_FD);
    if (!info) {
        snprintf (error, error_size, "libmicrohttpd has no epoll descriptor");
        return -1;
    }
    self->epoll_fd = info->epoll_fd;
    return 0;
}

web_t *
web_new (const web_config_t *config, char *error, size_t error_size)
{
    web_t *self = mem_alloc (sizeof (web_t));
    self->signal_fd = -1;
    self->listen = mem_strdup (config->listen);
    if (config->config_file)
        self->config_file = mem_strdup (config->config_file);
    self->control = mem_strdup (config->control);
    self->source_label = mem_strdup (config->source_label);
    if (config->trusted_proxies)
        self->trusted_proxies = mem_strdup (config->trusted_proxies);
    if (config->severity_levels)
        self->severity_levels = mem_strdup (config->severity_levels);
    if (config->server_names)
        self->server_names = mem_strdup (config->server_names);
    char dirs_error [512];
    if (paths_make_dirs (config->state_dir, dirs_error, sizeof dirs_error)) {
        snprintf (error, error_size, "%s", dirs_error);
        web_destroy (&self);
        return NULL;
    }
    if (config->cert && bus_secure_client (config->cert, config->server_key,
                                           error, error_size)) {
        web_destroy (&self);
        return NULL;
    }
    self->auth = auth_new (config, error, error_size);
    if (!self->auth) {
        web_destroy (&self);
        return NULL;
    }
    self->ctl = ctl_new (config->control, WEB_CALL_TIMEOUT_MS, false, error, error_size);
    if (self->ctl)
        self->mirror = mirror_new (config->events, config->control, error, error_size);
    if (self->mirror)
        self->stream = stream_new (self->mirror);
    self->ingest = ingest_new ();
    self->own_settings = config->own;
    if (self->mirror && config->own.heartbeat_ms > 0) {
        own_alerts_config_t own = { .program = "lilac-web", .settings = &config->own,
                                    .control = config->control };
        self->own = own_alerts_new (&own, error, error_size);
    }
    if (!self->ctl || !self->mirror || (config->own.heartbeat_ms > 0 && !self->own)
    ||  s_start_http (self, config, error, error_size)) {
        web_destroy (&self);
        return NULL;
    }
    return self;
}

void
web_destroy (web_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    web_t *self = *self_p;
    if (self->daemon) {
        //  No connection may stay suspended when the server stops.
        if (self->stream)
            stream_release (self->stream);
        ingest_destroy (&self->ingest);
        while (self->pending_count) {
            web_pending_t pending = self->pending [--self->pending_count];
            pending.done (self, pending.request, NULL, "lilac-web is stopping", pending.arg);
        }
        MHD_run (self->daemon);
        MHD_stop_daemon (self->daemon);
    }
    stream_destroy (&self->stream);
    ingest_destroy (&self->ingest);
    auth_destroy (&self->auth);
    ctl_destroy (&self->ctl);
    own_alerts_destroy (&self->own);
    mirror_destroy (&self->mirror);
    wire_doc_destroy (&self->stats);
    mem_free (self->pending);
    if (self->signal_fd >= 0)
        close (self->signal_fd);
    mem_free (self->listen);
    mem_free (self->config_file);
    mem_free (self->control);
    mem_free (self->tls_cert);
    mem_free (self->tls_key);
    mem_free (self->source_label);
    mem_free (self->trusted_proxies);
    mem_free (self->severity_levels);
    mem_free (self->server_names);
    mem_free (self);
    *self_p = NULL;
}
