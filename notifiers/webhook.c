/*  webhook.c — the webhook destination of bin/lilac-notify-webhook: one
    HTTP request per rule action, in the format of the service it goes to
    (webhook_format.h: Alertmanager receivers, Slack and what speaks its
    format, Discord, Teams, Matrix, ntfy, Gotify, Twilio SMS, or lilac's
    own change body as JSON).

    Config (section `webhook`; a rule may override url, format, room, to):
      url        = https://hooks.slack.com/services/...   the endpoint
                   (matrix: the homeserver; gotify: the server; ntfy: the
                   topic URL; twilio: the API, https://api.twilio.com)
      format     = alertmanager | slack | discord | teams | matrix | ntfy
                   | gotify | twilio | lilac   (default: lilac)
      url_base   = https://lilac.example.org   links to the alert's page
      timeout    = 10s      one request, whole
      retry_for  = 1h       a failing delivery is given up after this
      token, token_file, $LILAC_WEBHOOK_TOKEN   matrix access token,
                   gotify application token, ntfy access token
      room       = !abc:example.org             matrix
      account_sid, from, to; auth_token, auth_token_file, $TWILIO_AUTH_TOKEN
                                                twilio
      secret, secret_file, $LILAC_WEBHOOK_SECRET   when set, every request
                   carries SIGNATURE_HEADER: sha256=HEX, the HMAC-SHA256 of
                   its body with this key
      signature_header = X-Lilac-Signature
      headers    a subsection of NAME = VALUE, added to every request

    Outcome: a 2xx is DELIVERED. A network failure, a timeout, a 5xx, a
    408 or a 429 is RETRY (a 429's Retry-After seconds are honoured);
    any other 4xx is GIVE_UP, logged with the status and the first words
    of the server's answer (control characters dropped). Secrets
    (tokens, the HMAC key, Twilio's auth token) are never logged, and a
    URL is logged by its scheme and host and a hash (s_shown): Slack's and
    Discord's carry their secret in the path.

    Each destination — a URL, and the format, room and recipient a rule
    adds to it — is a lane of the delivery core: one request at a time,
    in order; a slow receiver holds back only itself. Two rules to one
    URL in two rooms are two destinations, each told.
*/
#include <assert.h>
#include <czmq.h>
#include <ctype.h>
#include <inttypes.h>
#include <string.h>
#include "error_text.h"
#include "hash.h"
#include "log.h"
#include "mem.h"
#include "secret.h"
#include "webhook.h"
#include "webhook_format.h"

#define WEBHOOK_TIMEOUT_DEFAULT_MS    (10 * 1000)
#define WEBHOOK_RETRY_FOR_DEFAULT_MS  (60 * 60 * 1000)
#define WEBHOOK_SIGNATURE_DEFAULT     "X-Lilac-Signature"
#define WEBHOOK_EXTRA_HEADERS         (HTTP_MAX_HEADERS - WEBHOOK_HEADERS_MAX - 1)
#define WEBHOOK_ANSWER_SHOWN          200   //  bytes of a refusal's body logged
#define WEBHOOK_TIMEOUT_MAX_MS        (60 * 60 * 1000)
#define WEBHOOK_RETRY_FOR_MAX_MS      (30LL * 24 * 60 * 60 * 1000)

static const char *const s_section_keys [] = {
    "url", "format", "url_base", "timeout", "retry_for", "token", "token_file", "room",
    "account_sid", "from", "to", "auth_token", "auth_token_file", "secret", "secret_file",
    "signature_header", "headers", NULL
};
static const char *const s_rule_keys [] = { "url", "format", "room", "to", NULL };

typedef struct _webhook_t webhook_t;

//  One request in flight.
typedef struct _sending_t sending_t;
struct _sending_t {
    webhook_t *owner;
    delivery_t *delivery;
    http_call_t *call;
    sending_t *prev, *next;
};

struct _webhook_t {
    http_t *http;
    webhook_target_t target;           //  the section's settings (strings below)
    char *url, *url_base, *room, *account_sid, *from, *to;
    char *token, *auth_token, *secret; //  secrets
    char *signature_header;
    webhook_format_t format;
    int64_t timeout_ms;
    char *headers [WEBHOOK_EXTRA_HEADERS];  //  "Name: value" from section headers
    size_t header_count;
    sending_t *sendings;
};

//  --- config -------------------------------------------------------------------------

//  The target a rule's action goes to: the section's, with the rule's
//  url, format, room and to when it has them.
static webhook_target_t
s_target (const webhook_t *self, config_t *rule, webhook_format_t *format_p)
{
    webhook_target_t target = self->target;
    const char *value = NULL;
    if (rule && config_string (rule, "url", NULL, &value) == 0 && value && *value)
        target.url = value;
    value = NULL;
    if (rule && config_string (rule, "format", NULL, &value) == 0 && value && *value)
        webhook_format_parse (value, &target.format);   //  checked at load
    value = NULL;
    if (rule && config_string (rule, "room", NULL, &value) == 0 && value && *value)
        target.room = value;
    value = NULL;
    if (rule && config_string (rule, "to", NULL, &value) == 0 && value && *value)
        target.to = value;
    if (format_p)
        *format_p = target.format;
    return target;
}

//  A header line "Name: value" with a token name and no CR or LF.
static int
s_header_line (config_t *node, char *line, size_t size, char *why, size_t why_size)
{
    const char *name = config_name (node), *value = config_value (node);
    bool valid = *name != 0;
    for (const char *at = name; *at; at++)
        if (!isalnum ((unsigned char) *at) && *at != '-' && *at != '_')
            valid = false;
    if (!valid)
        return error_text (why, why_size, -1, "'%s' is not a header name", name);
    if (strpbrk (value, "\r\n"))
        return error_text (why, why_size, -1, "the value of %s holds a line break", name);
    snprintf (line, size, "%s: %s", name, value);
    return 0;
}

//  The section's and every rule's settings, as open and start read them.
static void
s_check (config_t *root, config_report_t *errors)
{
    config_t *section = config_locate (root, "webhook");
    char error [CONFIG_ERROR_SIZE + 512];
    webhook_t probe = { .format = WEBHOOK_LILAC };
    const char *format = NULL;
    if (section && config_string (section, "format", NULL, &format) == 0 && format && *format
    &&  webhook_format_parse (format, &probe.format))
        config_report_at (errors, config_locate (section, "format"),
                          "webhook/format: '%s' is not one of %s", format, webhook_format_names ());
    int64_t ms;
    if (section && config_duration (section, "timeout", WEBHOOK_TIMEOUT_DEFAULT_MS, &ms,
                                    error, sizeof error))
        config_report_error (errors, error);
    else
    if (section && (ms <= 0 || ms > WEBHOOK_TIMEOUT_MAX_MS))
        config_report_at (errors, config_locate (section, "timeout"),
                          "webhook/timeout: must be more than 0, at most 1h");
    if (section && config_duration (section, "retry_for", WEBHOOK_RETRY_FOR_DEFAULT_MS, &ms,
                                    error, sizeof error))
        config_report_error (errors, error);
    else
    if (section && (ms < 0 || ms > WEBHOOK_RETRY_FOR_MAX_MS))
        config_report_at (errors, config_locate (section, "retry_for"),
                          "webhook/retry_for: must be 0 to 30d");
    char *token = NULL, *auth_token = NULL, *secret = NULL;
    if (secret_read (section, "token", "token_file", "LILAC_WEBHOOK_TOKEN", true, &token,
                     error, sizeof error)
    ||  secret_read (section, "auth_token", "auth_token_file", "TWILIO_AUTH_TOKEN", true,
                     &auth_token, error, sizeof error)
    ||  secret_read (section, "secret", "secret_file", "LILAC_WEBHOOK_SECRET", true, &secret,
                     error, sizeof error))
        config_report_error (errors, error);
    config_t *headers = section ? config_locate (section, "headers") : NULL;
    for (config_t *node = headers ? config_child (headers) : NULL; node; node = config_next (node)) {
        char line [1024];
        if (s_header_line (node, line, sizeof line, error, sizeof error))
            config_report_at (errors, node, "webhook/headers: %s", error);
    }
    webhook_target_t base = {
        .format = probe.format, .url = NULL, .token = token, .auth_token = auth_token
    };
    const char *value = NULL;
    const char *const keys [] = { "url", "url_base", "room", "account_sid", "from", "to" };
    const char **fields [] = { &base.url, &base.url_base, &base.room, &base.account_sid,
                               &base.from, &base.to };
    for (size_t index = 0; index < 6; index++) {
        value = NULL;
        if (section)
            config_string (section, keys [index], NULL, &value);
        *fields [index] = value && *value ? value : NULL;
    }
    probe.target = base;
    for (config_t *rule = config_child (root); rule; rule = config_next (rule)) {
        if (strcmp (config_name (rule), "rule") != 0)
            continue;
        const char *rule_format = NULL;
        webhook_format_t parsed;
        if (config_string (rule, "format", NULL, &rule_format) == 0 && rule_format
        &&  *rule_format && webhook_format_parse (rule_format, &parsed)) {
            config_report_at (errors, config_locate (rule, "format"), "format: '%s' is not"
                              " one of %s", rule_format, webhook_format_names ());
            continue;
        }
        webhook_target_t target = s_target (&probe, rule, NULL);
        if (!target.url && target.format != WEBHOOK_TWILIO)
            config_report_at (errors, rule, "rule %s has no url, and section webhook has"
                              " none: it could never notify", config_value (rule));
        else
        if ((target.format == WEBHOOK_MATRIX || target.format == WEBHOOK_GOTIFY
             || target.format == WEBHOOK_TWILIO) && target.url && strpbrk (target.url, "?#"))
            config_report_at (errors, rule, "rule %s (format %s): url is the server's base"
                              " (paths are added to it): no query or fragment",
                              config_value (rule), webhook_format_name (target.format));
        else
        if (webhook_target_check (&target, error, sizeof error))
            config_report_at (errors, rule, "rule %s (format %s): %s", config_value (rule),
                              webhook_format_name (target.format), error);
    }
    secret_free (&token);
    secret_free (&auth_token);
    secret_free (&secret);
}

static void s_close (void **self_p);

static void *
s_open (config_t *section, notifier_env_t *env, char *error, size_t error_size)
{
    webhook_t *self = mem_alloc (sizeof *self);
    self->http = env->http;
    self->format = WEBHOOK_LILAC;
    self->timeout_ms = WEBHOOK_TIMEOUT_DEFAULT_MS;
    env->retry_for_ms = WEBHOOK_RETRY_FOR_DEFAULT_MS;
    const char *format = NULL;
    if (section && config_string (section, "format", NULL, &format) == 0 && format && *format
    &&  webhook_format_parse (format, &self->format)) {
        snprintf (error, error_size, "webhook/format: '%s' is not one of %s", format,
                  webhook_format_names ());
        goto failed;
    }
    if (section
    &&  (config_duration (section, "timeout", WEBHOOK_TIMEOUT_DEFAULT_MS, &self->timeout_ms,
                          error, error_size)
     ||  config_duration (section, "retry_for", WEBHOOK_RETRY_FOR_DEFAULT_MS,
                          &env->retry_for_ms, error, error_size)))
        goto failed;
    if (secret_read (section, "token", "token_file", "LILAC_WEBHOOK_TOKEN", false, &self->token,
                     error, error_size)
    ||  secret_read (section, "auth_token", "auth_token_file", "TWILIO_AUTH_TOKEN", false,
                     &self->auth_token, error, error_size)
    ||  secret_read (section, "secret", "secret_file", "LILAC_WEBHOOK_SECRET", false,
                     &self->secret, error, error_size))
        goto failed;
    self->url = config_string_copy (section, "url");
    self->url_base = config_string_copy (section, "url_base");
    self->room = config_string_copy (section, "room");
    self->account_sid = config_string_copy (section, "account_sid");
    self->from = config_string_copy (section, "from");
    self->to = config_string_copy (section, "to");
    self->signature_header = config_string_copy (section, "signature_header");
    if (!self->signature_header)
        self->signature_header = mem_strdup (WEBHOOK_SIGNATURE_DEFAULT);
    config_t *headers = section ? config_locate (section, "headers") : NULL;
    for (config_t *node = headers ? config_child (headers) : NULL; node; node = config_next (node)) {
        char line [1024], why [256];
        if (s_header_line (node, line, sizeof line, why, sizeof why)
        ||  self->header_count == WEBHOOK_EXTRA_HEADERS) {
            snprintf (error, error_size, "%s:%d: webhook/headers: %s", config_file (node),
                      config_line (node), self->header_count == WEBHOOK_EXTRA_HEADERS
                      ? "too many headers" : why);
            goto failed;
        }
        self->headers [self->header_count++] = mem_strdup (line);
    }
    self->target = (webhook_target_t) {
        .format = self->format, .url = self->url, .url_base = self->url_base,
        .token = self->token, .room = self->room, .account_sid = self->account_sid,
        .auth_token = self->auth_token, .from = self->from, .to = self->to
    };
    log_info ("format %s by default, timeout %" PRId64 " ms%s", webhook_format_name (self->format),
              self->timeout_ms, self->secret ? ", requests signed" : "");
    return self;
failed:;
    void *opened = self;
    s_close (&opened);
    return NULL;
}

static void
s_close (void **self_p)
{
    assert (self_p);
    webhook_t *self = *self_p;
    if (!self)
        return;
    while (self->sendings) {
        sending_t *sending = self->sendings;
        self->sendings = sending->next;
        http_cancel (self->http, sending->call);    //  not finished: the core is closing
        mem_free (sending);
    }
    secret_free (&self->token);
    secret_free (&self->auth_token);
    secret_free (&self->secret);
    mem_free (self->url);
    mem_free (self->url_base);
    mem_free (self->room);
    mem_free (self->account_sid);
    mem_free (self->from);
    mem_free (self->to);
    mem_free (self->signature_header);
    for (size_t index = 0; index < self->header_count; index++)
        mem_free (self->headers [index]);
    mem_free (self);
    *self_p = NULL;
}

//  --- delivering ---------------------------------------------------------------------

static void
s_sending_free (webhook_t *self, sending_t *sending)
{
    if (sending->prev)
        sending->prev->next = sending->next;
    else
        self->sendings = sending->next;
    if (sending->next)
        sending->next->prev = sending->prev;
    mem_free (sending);
}

//  The first words of an answer, printable, for a log line.
static void
s_answer_text (const http_response_t *response, char *out, size_t size)
{
    size_t used = 0;
    for (size_t index = 0; index < response->body_size && index < WEBHOOK_ANSWER_SHOWN
                           && used + 1 < size; index++) {
        unsigned char byte = (unsigned char) response->body [index];
        out [used++] = byte < 0x20 || byte == 0x7f ? ' ' : (char) byte;
    }
    out [used] = 0;
}

//  Retry-After in seconds as a mono time, or 0.
static int64_t
s_retry_after (const http_call_t *call)
{
    char value [32];
    if (http_response_header (call, "Retry-After", value, sizeof value))
        return 0;
    char *end = NULL;
    long seconds = strtol (value, &end, 10);
    if (end == value || *end || seconds < 0 || seconds > 86400)
        return 0;
    return zclock_mono () + seconds * 1000;
}

static void
s_on_answer (const http_response_t *response, http_call_t *call, void *arg)
{
    sending_t *sending = arg;
    delivery_t *delivery = sending->delivery;
    char answer [WEBHOOK_ANSWER_SHOWN + 1];
    s_answer_text (response, answer, sizeof answer);
    long status = response->status;
    if (response->code != CURLE_OK)
        delivery_finish (delivery, DELIVERY_RETRY, 0, "%s", response->error);
    else
    if (status / 100 == 2)
        delivery_finish (delivery, DELIVERY_DELIVERED, 0, "HTTP %ld in %" PRId64 " ms", status,
                         response->elapsed_ms);
    else
    if (status == 429 || status == 408 || status / 100 == 5)
        delivery_finish (delivery, DELIVERY_RETRY, status == 429 ? s_retry_after (call) : 0,
                         "HTTP %ld: %s", status, answer);
    else
        delivery_finish (delivery, DELIVERY_GIVE_UP, 0, "the receiver refused it (HTTP %ld): %s",
                         status, answer);
    s_sending_free (sending->owner, sending);
}

//  The request's headers: the format's, the section's, the signature.
static size_t
s_headers (webhook_t *self, const webhook_request_t *request, const char **headers,
           char *signature, size_t signature_size)
{
    size_t count = 0;
    for (size_t index = 0; index < request->header_count; index++)
        headers [count++] = request->headers [index];
    for (size_t index = 0; index < self->header_count; index++)
        headers [count++] = self->headers [index];
    if (self->secret) {
        char hex [65];
        if (webhook_signature (self->secret, strlen (self->secret), request->body,
                               request->body_size, hex) == 0) {
            snprintf (signature, signature_size, "%s: sha256=%s", self->signature_header, hex);
            headers [count++] = signature;
        }
    }
    return count;
}

static void
s_start (void *self_arg, delivery_t *delivery)
{
    webhook_t *self = self_arg;
    const rule_action_t *action = delivery_action (delivery);
    webhook_target_t target = s_target (self, action->settings, NULL);
    webhook_request_t request;
    char error [512];
    if (webhook_request_build (&target, delivery_change (delivery), action, &request,
                               error, sizeof error)) {
        delivery_finish (delivery, DELIVERY_GIVE_UP, 0, "%s", error);
        return;
    }
    const char *headers [HTTP_MAX_HEADERS];
    char signature [512];
    http_request_t call = {
        .method = request.method, .url = request.url, .content_type = request.content_type,
        .body = request.body, .body_size = request.body_size, .headers = headers,
        .header_count = s_headers (self, &request, headers, signature, sizeof signature),
        .username = request.username, .password = request.password,
        .timeout_ms = self->timeout_ms, .user_agent = "lilac-notify-webhook"
    };
    sending_t *sending = mem_alloc (sizeof *sending);
    sending->owner = self;
    sending->delivery = delivery;
    sending->call = http_start (self->http, &call, s_on_answer, sending, error, sizeof error);
    webhook_request_free (&request);
    if (!sending->call) {              //  a local failure (out of fds...): again later
        mem_free (sending);
        delivery_finish (delivery, DELIVERY_RETRY, 0, "%s", error);
        return;
    }
    sending->next = self->sendings;
    if (self->sendings)
        self->sendings->prev = sending;
    self->sendings = sending;
}

//  A destination as logs and -n show it: a webhook URL is often a
//  credential (Slack's and Discord's carry their secret in the path, ntfy's
//  may in the query), so only its scheme and host, with a short hash that
//  tells destinations apart, and the refining keys (room, to, format).
static void
s_shown (const char *destination, char *out, size_t size)
{
    const char *host = strstr (destination, "://");
    size_t url_length = strcspn (destination, " ");
    if (!host || (size_t) (host - destination) > url_length) {
        snprintf (out, size, "%s", destination);     //  "default ..."
        return;
    }
    host += 3;
    size_t host_length = strcspn (host, "/?# ");
    uint64_t hash = hash_fnv1a (HASH_FNV1A_START, destination, url_length);
    snprintf (out, size, "%.*s%.*s/…#%08" PRIx64 "%s", (int) (host - destination), destination,
              (int) host_length, host, hash >> 32, destination + url_length);
}

const destination_class_t webhook_destination = {
    .program = "lilac-notify-webhook",
    .section = "webhook",
    .section_keys = s_section_keys,
    .rule_keys = s_rule_keys,
    .destination_key = "url,format,room,to",
    .destination_shown = s_shown,
    .check = s_check,
    .open = s_open,
    .close = s_close,
    .start = s_start,
};
