/*  pushover.c — the Pushover destination: one message per rule action, over
    libcurl, with retries, rate limits and emergency receipts.

    Messages. Each NOTIFY action becomes one POST of API/messages.json with
    token, user, title ("RAISED: subject", the event upper-cased; subject
    defaults to the source), message (the summary, a newline, the source, and
    as many whole first lines of the detail as fit), priority, timestamp (the
    change's time), html=0, and url/url_title (url_base/alerts/SOURCE/ID)
    when url_base is set, sound and device when configured. Pushover's
    limits (title 250, message 1024, url 512 characters) are applied by
    counting UTF-8 characters; longer text is cut and ends in "…". Flood
    actions send "further alerts of rule R held back" and "normal service
    resumes: N alerts were held back".

    Priority comes from the rule's `priority`, else from the alert's level
    (priority_urgent/normal/low). Emergency priority (2) is used for raised
    and reminder changes only: it carries retry, expire and a tag for the
    alert (SOURCE_ID made tag-safe, plus a hash of the key so two keys never
    share a tag), and Pushover answers with a receipt. Other events, flood
    messages, and reminders of an alert whose emergency is still ringing are
    sent at priority 1 at most: a phone should not be paged again to say
    that all is well.

    Errors. A network failure, a timeout (`timeout` per request) or a 5xx is
    retried: FEED_RETRY at 1 s, 2 s, 4 s ... up to 5 min apart, with up to a
    quarter more of random jitter, until `give_up` after the first failure,
    then the action is logged as given up and done. 429 (and a success that
    says X-Limit-App-Remaining: 0) holds every request until
    X-Limit-App-Reset (or a minute when the header is missing); when that is
    beyond the give-up time (the monthly limit), the action is given up at
    once rather than holding the feed for days. Any other 4xx is permanent:
    Pushover's own error text (errors[]) is logged and the action is done.
    Nothing here ever logs the token, the user key or a URL carrying them.

    Receipts (emergency priority). Kept in memory only, at most
    PUSHOVER_RECEIPTS_MAX (the oldest is dropped past that): a restart loses
    them, so the phone keeps ringing until Pushover's expire while the
    broker's own reminders still flow. `work` takes each receipt at most
    every receipt_poll (never faster than 5 s): first it asks the broker
    (`get`) whether the alert is still raised — cleared, gone, or
    acknowledged in lilac means the emergency retries are cancelled by tag
    (POST API/receipts/cancel_by_tag/TAG.json); otherwise it reads the
    receipt (GET API/receipts/R.json), and once acknowledged it sends `ack`
    to the broker with by = "pushover:" + acknowledged_by (the device name
    instead when acknowledged_by is the user key we sent to: the key is a
    secret) and a note naming the person and device (on a secured broker
    `by` is this notifier's certificate name, so the note is what keeps
    who) and forgets the receipt. A cleared change delivered to this
    destination cancels at once, through the same path. A cancel that fails
    is tried again every receipt_poll; a receipt past its expire time is
    dropped without asking (Pushover has stopped by then).

    Every request is synchronous and bounded by `timeout`; the loop is
    single-threaded, so one slow request delays the next change by at most
    that much.
*/
#include <assert.h>
#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "bus.h"
#include "ctl.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "pushover.h"
#include "timespec.h"
#include "wire.h"

#define PUSHOVER_DEFAULT_API       "https://api.pushover.net/1"
#define PUSHOVER_TITLE_MAX         250         //  characters
#define PUSHOVER_MESSAGE_MAX       1024        //  characters
#define PUSHOVER_URL_MAX           512         //  characters
#define PUSHOVER_URL_TITLE_MAX     100         //  characters
#define PUSHOVER_DETAIL_LINES      10          //  detail lines added at most
#define PUSHOVER_BODY_MAX          (64 * 1024) //  bytes of a response kept
#define PUSHOVER_SECRET_MAX        256         //  bytes of a token or user key
#define PUSHOVER_RECEIPTS_MAX      1000        //  emergency receipts followed
#define PUSHOVER_RECEIPT_SIZE      64          //  bytes of a receipt id, NUL included
#define PUSHOVER_TAG_SIZE          128         //  bytes of a tag, NUL included
#define PUSHOVER_BACKOFF_FIRST_MS  1000        //  first retry after a failure
#define PUSHOVER_BACKOFF_MAX_MS    (5 * 60 * 1000)
#define PUSHOVER_RATE_DEFAULT_MS   60000       //  429 without X-Limit-App-Reset
#define PUSHOVER_RATE_MARGIN_MS    200         //  past the reset second
#define PUSHOVER_RETRY_MIN_S       30          //  Pushover's rule for emergencies
#define PUSHOVER_EXPIRE_MAX_S      10800       //  Pushover's rule for emergencies
#define PUSHOVER_POLL_MIN_MS       5000        //  Pushover's rule for receipts
#define PUSHOVER_POLLS_PER_WORK    8           //  receipts taken per work() call
#define PUSHOVER_CALL_TIMEOUT_MS   3000        //  one control call to the broker
#define PUSHOVER_ELLIPSIS          "\xE2\x80\xA6"
#define PUSHOVER_NO_TOKEN          "no Pushover application token: set token or token_file" \
                                   " in section pushover, or $PUSHOVER_TOKEN"

//  An emergency message whose receipt we follow.
typedef struct {
    char source [WIRE_MAX_NAME + 1];           //  the alert's key
    char id [WIRE_MAX_NAME + 1];
    char receipt [PUSHOVER_RECEIPT_SIZE];      //  Pushover's receipt id
    char tag [PUSHOVER_TAG_SIZE];              //  the tag it was sent with
    char user_hash [17];                       //  hash of the user key it went to
    int64_t next_poll;                         //  mono ms: when work() takes it next
    int64_t expires_at;                        //  mono ms: Pushover stops retrying
    bool cancel;                               //  cancel by tag, not poll
} receipt_t;

//  Failures of one action of the change in flight (for back-off and give-up).
typedef struct {
    uint64_t seq;                              //  the change, 0 when unused
    const rule_action_t *action;               //  the action (stable while in flight)
    int attempts;                              //  failed attempts so far
    int64_t first_failure;                     //  mono ms
} attempt_t;

//  What one HTTP exchange gave.
typedef struct {
    CURLcode code;                             //  CURLE_OK when a response came
    long status;                               //  HTTP status, 0 when none
    char *body;                                //  PUSHOVER_BODY_MAX + 1 bytes, NUL-terminated
    size_t body_size;                          //  bytes kept
    bool truncated;                            //  the body was longer
    json_t *reply;                             //  the body as a JSON object, or NULL
    char reply_error [128];                    //  why it is not one (jansson's words)
    int64_t limit_reset;                       //  X-Limit-App-Reset (epoch s), -1 absent
    int64_t limit_remaining;                   //  X-Limit-App-Remaining, -1 absent
    int64_t limit_limit;                       //  X-Limit-App-Limit, -1 absent
    char error [CURL_ERROR_SIZE];              //  curl's text for a failure
} response_t;

typedef struct {
    char *api;                                 //  base URL without trailing '/'
    char *token;                               //  application token (secret)
    char *user;                                //  default user key (secret), or NULL
    int priority [3];                          //  by alert_level_t
    int64_t retry_s;                           //  emergency retry, seconds
    int64_t expire_s;                          //  emergency expire, seconds
    char *sound;                               //  default sound or NULL
    char *device;                              //  default device or NULL
    char *url_base;                            //  alert links, or NULL
    int64_t timeout_ms;                        //  per request
    int64_t give_up_ms;                        //  after the first failure
    int64_t receipt_poll_ms;                   //  per receipt
    char *control;                             //  the broker's control endpoint
    ctl_t *ctl;                                //  its client (one DEALER)
    CURL *curl;                                //  one handle, connections reused
    response_t response;                       //  the last exchange
    int64_t rate_until;                        //  mono ms: no request before this
    attempt_t attempts [RULES_MAX_ACTIONS];    //  failures in the change in flight
    receipt_t *receipts;                       //  receipt_count entries
    size_t receipt_count;
    size_t receipt_capacity;
    log_limit_t log_limit;                     //  for repeated complaints
} pushover_t;

static const char *const s_section_keys [] = {
    "api", "token", "token_file", "user", "user_file", "priority_urgent", "priority_normal",
    "priority_low", "retry", "expire", "sound", "device", "url_base", "timeout", "give_up",
    "receipt_poll", NULL
};
static const char *const s_rule_keys [] = { "user", "device", "sound", "priority", NULL };

static int s_curl_users;               //  open instances sharing curl_global_init

//  --- small helpers --------------------------------------------------------------------

//  The notifier's clock (retry_at and mono_now are on it).
static int64_t
s_mono (void)
{
    return zclock_mono ();
}

//  "FILE:LINE: pushover/KEY: " for a key of the section, or "pushover/KEY: ".
static void
s_where (config_t *section, const char *key, char *where, size_t size)
{
    config_t *node = section ? config_locate (section, key) : NULL;
    if (node)
        snprintf (where, size, "%s:%d: pushover/%s", config_file (node), config_line (node), key);
    else
        snprintf (where, size, "pushover/%s", key);
}

//  FNV-1a, 64 bits, as 16 hex digits: names a secret or a key without showing it.
static void
s_hash_hex (const char *first, const char *second, char out [17])
{
    uint64_t hash = 14695981039346656037ULL;
    for (const char *text = first; text && *text; text++)
        hash = (hash ^ (unsigned char) *text) * 1099511628211ULL;
    hash = (hash ^ 0) * 1099511628211ULL;
    for (const char *text = second; text && *text; text++)
        hash = (hash ^ (unsigned char) *text) * 1099511628211ULL;
    snprintf (out, 17, "%016" PRIx64, hash);
}

//  Copies text into out (out_size bytes), at most max_chars UTF-8
//  characters; longer text keeps max_chars - 1 and ends in "…". Control
//  characters other than newline and tab become spaces.
static void
s_utf8_cut (const char *text, size_t max_chars, char *out, size_t out_size)
{
    size_t chars = 0;
    for (const unsigned char *at = (const unsigned char *) text; *at; at++)
        if ((*at & 0xC0) != 0x80)
            chars++;
    size_t keep = chars <= max_chars ? chars : max_chars - 1;
    size_t used = 0;
    size_t kept = 0;
    const unsigned char *at = (const unsigned char *) text;
    while (*at) {
        size_t length = *at >= 0xF0 ? 4 : *at >= 0xE0 ? 3 : *at >= 0xC0 ? 2 : 1;
        if (kept == keep || used + length + sizeof PUSHOVER_ELLIPSIS > out_size)
            break;
        for (size_t index = 0; index < length && at [index]; index++) {
            unsigned char c = at [index];
            out [used++] = (char) (c < 0x20 && c != '\n' && c != '\t' ? ' ' : c);
        }
        size_t step = 0;
        while (step < length && at [step])
            step++;
        at += step;
        kept++;
    }
    out [used] = 0;
    if (*at)
        memcpy (out + used, PUSHOVER_ELLIPSIS, sizeof PUSHOVER_ELLIPSIS);
}

static size_t
s_utf8_chars (const char *text)
{
    size_t chars = 0;
    for (const unsigned char *at = (const unsigned char *) text; *at; at++)
        if ((*at & 0xC0) != 0x80)
            chars++;
    return chars;
}

//  --- config --------------------------------------------------------------------------

//  Reads a secret (token, user key): the key itself, else the file named by
//  file_key (first line), else the environment. Says where it came from,
//  never what it is. *value NULL when none of the three is set.
static int
s_read_secret (config_t *section, const char *key, const char *file_key, const char *variable,
               bool quiet, char **value, char *error, size_t error_size)
{
    const char *inline_value = NULL, *file = NULL;
    if (section) {
        config_string (section, key, NULL, &inline_value);
        config_string (section, file_key, NULL, &file);
    }
    char where [400];
    char text [PUSHOVER_SECRET_MAX + 2] = "";
    *value = NULL;
    if (inline_value && *inline_value && file && *file) {
        s_where (section, file_key, where, sizeof where);
        snprintf (error, error_size, "%s: %s is set too: give one of them", where, key);
        return -1;
    }
    if (inline_value && *inline_value) {
        snprintf (text, sizeof text, "%s", inline_value);
        if (!quiet)
            log_info ("%s from the config file", key);
    }
    else
    if (file && *file) {
        s_where (section, file_key, where, sizeof where);
        FILE *handle = fopen (file, "r");
        if (!handle) {
            snprintf (error, error_size, "%s: cannot read %s: %s", where, file, strerror (errno));
            return -1;
        }
        if (!fgets (text, sizeof text, handle))
            text [0] = 0;
        fclose (handle);
        text [strcspn (text, "\r\n")] = 0;
        if (!*text) {
            snprintf (error, error_size, "%s: %s holds no %s on its first line", where, file, key);
            return -1;
        }
        if (!quiet)
            log_info ("%s from file %s", key, file);
    }
    else
    if (getenv (variable) && *getenv (variable)) {
        snprintf (text, sizeof text, "%s", getenv (variable));
        if (!quiet)
            log_info ("%s from $%s", key, variable);
    }
    else
        return 0;
    //  Trim, then insist on one plain word: it goes into a form and a URL.
    size_t length = strlen (text);
    while (length && isspace ((unsigned char) text [length - 1]))
        text [--length] = 0;
    const char *start = text;
    while (isspace ((unsigned char) *start))
        start++;
    bool plain = *start != 0 && strlen (start) <= PUSHOVER_SECRET_MAX;
    for (const char *at = start; *at; at++)
        if (!isgraph ((unsigned char) *at))
            plain = false;
    if (!plain) {
        s_where (section, inline_value && *inline_value ? key : file_key, where, sizeof where);
        snprintf (error, error_size, "%s: the %s must be one word of printable characters"
                  " (at most %d)", where, key, PUSHOVER_SECRET_MAX);
        explicit_bzero (text, sizeof text);
        return -1;
    }
    *value = mem_strdup (start);
    explicit_bzero (text, sizeof text);
    return 0;
}

static int
s_read_priority (config_t *section, const char *key, int fallback, int *priority,
                 char *error, size_t error_size)
{
    int64_t value = fallback;
    if (section && config_integer (section, key, fallback, -2, 2, &value, error, error_size))
        return -1;
    *priority = (int) value;
    return 0;
}

static int
s_read_duration (config_t *section, const char *key, int64_t fallback, int64_t min, int64_t max,
                 int64_t *ms, char *error, size_t error_size)
{
    *ms = fallback;
    if (section && config_duration (section, key, fallback, ms, error, error_size))
        return -1;
    if (*ms < min || *ms > max) {
        char where [400], low [32], high [32];
        s_where (section, key, where, sizeof where);
        snprintf (error, error_size, "%s: must be between %s and %s", where,
                  duration_format (min, low, sizeof low), duration_format (max, high, sizeof high));
        return -1;
    }
    return 0;
}

static char *
s_optional_string (config_t *section, const char *key)
{
    const char *value = NULL;
    if (section)
        config_string (section, key, NULL, &value);
    return value && *value ? mem_strdup (value) : NULL;
}

static void s_close (void **self_p);

//  A secret read for the check only: added to errors when bad; true when set.
static bool
s_check_secret (config_t *section, const char *key, const char *file_key, const char *variable,
                config_report_t *errors)
{
    char error [CONFIG_ERROR_SIZE + 512];
    char *value = NULL;
    if (s_read_secret (section, key, file_key, variable, true, &value, error, sizeof error))
        config_report_error (errors, error);
    bool found = value != NULL;
    if (value)
        explicit_bzero (value, strlen (value));
    mem_free (value);
    return found;
}

//  The section as open reads it, and a user key for every rule: a rule
//  without `user` where there is no default key could never notify.
static void
s_check (config_t *root, config_report_t *errors)
{
    config_t *section = config_locate (root, "pushover");
    char error [CONFIG_ERROR_SIZE + 512];
    const char *api = NULL;
    if (section)
        config_string (section, "api", NULL, &api);
    if (api && *api && strncmp (api, "http://", 7) != 0 && strncmp (api, "https://", 8) != 0) {
        char where [400];
        s_where (section, "api", where, sizeof where);
        snprintf (error, sizeof error, "%s: '%s' is not an http:// or https:// URL", where, api);
        config_report_error (errors, error);
    }
    const char *const priorities [] = { "priority_urgent", "priority_normal", "priority_low" };
    for (size_t index = 0; index < 3; index++) {
        int priority;
        if (s_read_priority (section, priorities [index], 0, &priority, error, sizeof error))
            config_report_error (errors, error);
    }
    const struct { const char *key; int64_t fallback, min, max; } durations [] = {
        { "retry", 60000, PUSHOVER_RETRY_MIN_S * 1000, 86400000 },
        { "expire", 3600000, 1000, PUSHOVER_EXPIRE_MAX_S * 1000 },
        { "timeout", 10000, 100, 300000 },
        { "give_up", 3600000, 0, 30LL * 86400000 },
        { "receipt_poll", 10000, PUSHOVER_POLL_MIN_MS, 3600000 },
    };
    for (size_t index = 0; index < sizeof durations / sizeof durations [0]; index++) {
        int64_t ms;
        if (s_read_duration (section, durations [index].key, durations [index].fallback,
                             durations [index].min, durations [index].max, &ms,
                             error, sizeof error))
            config_report_error (errors, error);
    }
    if (!s_check_secret (section, "token", "token_file", "PUSHOVER_TOKEN", errors))
        config_report_error (errors, PUSHOVER_NO_TOKEN);
    bool default_user = s_check_secret (section, "user", "user_file", "PUSHOVER_USER", errors);
    for (config_t *rule = config_child (root); rule; rule = config_next (rule)) {
        if (strcmp (config_name (rule), "rule") != 0)
            continue;
        int64_t priority;
        if (config_integer (rule, "priority", 0, -2, 2, &priority, error, sizeof error))
            config_report_error (errors, error);
        if (!config_locate (rule, "user") && !default_user)
            config_report_at (errors, rule, "rule %s has no user key, and there is no default"
                              " (user or user_file in section pushover, or $PUSHOVER_USER):"
                              " it could never notify", config_value (rule));
    }
}

static void *
s_open (config_t *section, const notifier_env_t *env, char *error, size_t error_size)
{
    pushover_t *self = mem_alloc (sizeof (pushover_t));
    self->control = mem_strdup (env && env->control ? env->control : BUS_DEFAULT_CONTROL);
    self->ctl = ctl_new (self->control, PUSHOVER_CALL_TIMEOUT_MS, false, error, error_size);
    if (!self->ctl) {
        s_close ((void **) &self);
        return NULL;
    }
    self->response.body = mem_alloc (PUSHOVER_BODY_MAX + 1);
    const char *api = NULL;
    if (section)
        config_string (section, "api", PUSHOVER_DEFAULT_API, &api);
    if (!api || !*api)
        api = PUSHOVER_DEFAULT_API;
    self->api = mem_strdup (api);
    size_t length = strlen (self->api);
    while (length > 0 && self->api [length - 1] == '/')
        self->api [--length] = 0;
    if (strncmp (self->api, "http://", 7) != 0 && strncmp (self->api, "https://", 8) != 0) {
        char where [400];
        s_where (section, "api", where, sizeof where);
        snprintf (error, error_size, "%s: '%s' is not an http:// or https:// URL", where, self->api);
        goto failed;
    }
    self->url_base = s_optional_string (section, "url_base");
    if (self->url_base) {
        length = strlen (self->url_base);
        while (length > 0 && self->url_base [length - 1] == '/')
            self->url_base [--length] = 0;
    }
    self->sound = s_optional_string (section, "sound");
    self->device = s_optional_string (section, "device");
    if (s_read_priority (section, "priority_urgent", 1, &self->priority [LEVEL_URGENT], error, error_size)
    ||  s_read_priority (section, "priority_normal", 0, &self->priority [LEVEL_NORMAL], error, error_size)
    ||  s_read_priority (section, "priority_low", -1, &self->priority [LEVEL_LOW], error, error_size))
        goto failed;
    int64_t retry_ms, expire_ms;
    if (s_read_duration (section, "retry", 60000, PUSHOVER_RETRY_MIN_S * 1000, 86400000,
                         &retry_ms, error, error_size)
    ||  s_read_duration (section, "expire", 3600000, 1000, PUSHOVER_EXPIRE_MAX_S * 1000,
                         &expire_ms, error, error_size)
    ||  s_read_duration (section, "timeout", 10000, 100, 300000, &self->timeout_ms,
                         error, error_size)
    ||  s_read_duration (section, "give_up", 3600000, 0, 30LL * 86400000, &self->give_up_ms,
                         error, error_size)
    ||  s_read_duration (section, "receipt_poll", 10000, PUSHOVER_POLL_MIN_MS, 3600000,
                         &self->receipt_poll_ms, error, error_size))
        goto failed;
    self->retry_s = retry_ms / 1000;
    self->expire_s = expire_ms / 1000;
    if (s_read_secret (section, "token", "token_file", "PUSHOVER_TOKEN", false, &self->token,
                       error, error_size)
    ||  s_read_secret (section, "user", "user_file", "PUSHOVER_USER", false, &self->user,
                       error, error_size))
        goto failed;
    if (!self->token) {
        snprintf (error, error_size, PUSHOVER_NO_TOKEN);
        goto failed;
    }
    if (!self->user)
        log_info ("no default user key: rules without `user` cannot be delivered");
    if (s_curl_users++ == 0 && curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        s_curl_users--;
        snprintf (error, error_size, "curl_global_init failed");
        goto failed;
    }
    self->curl = curl_easy_init ();
    if (!self->curl) {
        snprintf (error, error_size, "curl_easy_init failed");
        goto failed;
    }
    srandom ((unsigned) (s_mono () ^ (int64_t) getpid () << 16));
    log_info ("Pushover API %s, timeout %" PRId64 " ms, give up after %" PRId64 " s,"
              " receipts polled every %" PRId64 " s", self->api, self->timeout_ms,
              self->give_up_ms / 1000, self->receipt_poll_ms / 1000);
    return self;
failed:;
    void *opened = self;
    s_close (&opened);
    return NULL;
}

static void
s_close (void **self_p)
{
    if (!self_p || !*self_p)
        return;
    pushover_t *self = *self_p;
    if (self->curl) {
        curl_easy_cleanup (self->curl);
        if (--s_curl_users == 0)
            curl_global_cleanup ();
    }
    if (self->token)
        explicit_bzero (self->token, strlen (self->token));
    if (self->user)
        explicit_bzero (self->user, strlen (self->user));
    mem_free (self->token);
    mem_free (self->user);
    mem_free (self->api);
    mem_free (self->url_base);
    mem_free (self->sound);
    mem_free (self->device);
    ctl_destroy (&self->ctl);
    mem_free (self->control);
    mem_free (self->response.body);
    json_decref (self->response.reply);
    mem_free (self->receipts);
    mem_free (self);
    *self_p = NULL;
}

//  --- HTTP --------------------------------------------------------------------------------

static size_t
s_on_body (char *data, size_t size, size_t count, void *arg)
{
    response_t *response = arg;
    size_t bytes = size * count;
    size_t room = PUSHOVER_BODY_MAX - response->body_size;
    size_t keep = bytes < room ? bytes : room;
    memcpy (response->body + response->body_size, data, keep);
    response->body_size += keep;
    response->body [response->body_size] = 0;
    if (keep < bytes)
        response->truncated = true;
    return bytes;                      //  the rest is read and dropped, not an error
}

//  X-Limit-App-*: a number after the colon, or the field is left as it was.
static void
s_header_number (const char *line, size_t size, const char *name, int64_t *value)
{
    size_t name_length = strlen (name);
    if (size <= name_length || strncasecmp (line, name, name_length) != 0)
        return;
    const char *at = line + name_length, *end = line + size;
    while (at < end && (*at == ' ' || *at == '\t'))
        at++;
    int64_t number = 0;
    int digits = 0;
    while (at < end && *at >= '0' && *at <= '9' && digits < 18) {
        number = number * 10 + (*at++ - '0');
        digits++;
    }
    if (digits)
        *value = number;
}

static size_t
s_on_header (char *data, size_t size, size_t count, void *arg)
{
    response_t *response = arg;
    size_t bytes = size * count;
    s_header_number (data, bytes, "X-Limit-App-Reset:", &response->limit_reset);
    s_header_number (data, bytes, "X-Limit-App-Remaining:", &response->limit_remaining);
    s_header_number (data, bytes, "X-Limit-App-Limit:", &response->limit_limit);
    return bytes;
}

//  One exchange: GET url, or POST url with an url-encoded form. Fills
//  self->response. Returns 0 when an HTTP response came (any status), -1
//  on a network failure or timeout (the reason in response.error).
static int
s_request (pushover_t *self, const char *url, const char *form)
{
    response_t *response = &self->response;
    response->code = CURLE_OK;
    response->status = 0;
    response->body_size = 0;
    response->body [0] = 0;
    response->truncated = false;
    json_decref (response->reply);
    response->reply = NULL;
    response->reply_error [0] = 0;
    response->limit_reset = response->limit_remaining = response->limit_limit = -1;
    response->error [0] = 0;
    CURL *curl = self->curl;
    curl_easy_reset (curl);
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, (long) self->timeout_ms);
    curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT_MS, (long) self->timeout_ms);
    curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt (curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt (curl, CURLOPT_USERAGENT, "lilac-notify-pushover");
    curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, response->error);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, response);
    curl_easy_setopt (curl, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt (curl, CURLOPT_HEADERDATA, response);
    if (form) {
        curl_easy_setopt (curl, CURLOPT_POST, 1L);
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, form);
        curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE, (long) strlen (form));
    }
    else
        curl_easy_setopt (curl, CURLOPT_HTTPGET, 1L);
    response->code = curl_easy_perform (curl);
    curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, NULL);
    if (response->code != CURLE_OK) {
        if (!response->error [0])
            snprintf (response->error, sizeof response->error, "%s",
                      curl_easy_strerror (response->code));
        return -1;
    }
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &response->status);
    //  Read once, here: every answer of Pushover's API is a small object.
    response->reply = json_read_object (response->body, response->body_size, PUSHOVER_BODY_MAX,
                                        response->reply_error, sizeof response->reply_error);
    return 0;
}

//  A growable application/x-www-form-urlencoded body.
typedef struct {
    char *text;                        //  NUL-terminated
    size_t size;                       //  bytes used, NUL excluded
    size_t capacity;
} form_t;

static void
s_form_add (pushover_t *self, form_t *form, const char *key, const char *value)
{
    if (!value)
        return;
    char *escaped = curl_easy_escape (self->curl, value, 0);
    if (!escaped) {
        log_error ("out of memory escaping a form field");
        exit (1);
    }
    size_t need = form->size + strlen (key) + strlen (escaped) + 3;
    if (need > form->capacity) {
        form->capacity = need * 2;
        form->text = mem_realloc (form->text, form->capacity);
    }
    form->size += (size_t) sprintf (form->text + form->size, "%s%s=%s",
                                    form->size ? "&" : "", key, escaped);
    curl_free (escaped);
}

static void
s_form_add_int (pushover_t *self, form_t *form, const char *key, int64_t value)
{
    char text [24];
    snprintf (text, sizeof text, "%" PRId64, value);
    s_form_add (self, form, key, text);
}

static void
s_form_free (form_t *form)
{
    if (form->text)
        explicit_bzero (form->text, form->size);   //  it held the token and user key
    mem_free (form->text);
    form->text = NULL;
    form->size = form->capacity = 0;
}

//  Pushover's errors[] (or a short description of the body) into text.
static void
s_error_text (pushover_t *self, char *text, size_t size)
{
    response_t *response = &self->response;
    if (json_get_strings (response->reply, "errors", "; ", text, size) == 0 && *text)
        return;
    if (response->body_size == 0)
        snprintf (text, size, "(empty body)");
    else
    if (!response->reply)
        snprintf (text, size, "(a %zu-byte body that is not a JSON object: %s)",
                  response->body_size, response->reply_error);
    else
        snprintf (text, size, "(no errors[] in a %zu-byte body)", response->body_size);
}

//  --- building messages ---------------------------------------------------------------------

//  Tag for an alert key: letters, digits, '-', '_' and '.', then a hash.
static void
s_make_tag (const char *source, const char *id, char *tag, size_t size)
{
    char safe [80];
    size_t used = 0;
    const char *parts [2] = { source, id };
    for (int part = 0; part < 2; part++) {
        if (part && used < sizeof safe - 1)
            safe [used++] = '_';
        for (const char *at = parts [part]; *at && used < sizeof safe - 1; at++)
            safe [used++] = isalnum ((unsigned char) *at) || *at == '-' || *at == '.'
                          ? *at : '_';
    }
    safe [used] = 0;
    char hash [17];
    s_hash_hex (source, id, hash);
    snprintf (tag, size, "%s-%.8s", safe, hash);
}

//  The message text: summary, newline, source, then whole detail lines
//  while they fit in PUSHOVER_MESSAGE_MAX characters.
static void
s_make_message (const alert_t *alert, char *out, size_t size)
{
    const char *summary = alert->summary && *alert->summary ? alert->summary : alert->id;
    size_t text_size = strlen (summary) + strlen (alert->source) + 2 + 4 * PUSHOVER_MESSAGE_MAX + 8;
    char *text = mem_alloc (text_size);
    int used = snprintf (text, text_size, "%s\n%s", summary, alert->source);
    if (alert->detail && *alert->detail && s_utf8_chars (text) + 2 < PUSHOVER_MESSAGE_MAX) {
        size_t chars = s_utf8_chars (text) + 1;            //  the blank line
        const char *line = alert->detail;
        bool first = true;
        for (int count = 0; *line && count < PUSHOVER_DETAIL_LINES; count++) {
            const char *end = strchr (line, '\n');
            size_t length = end ? (size_t) (end - line) : strlen (line);
            size_t line_chars = 0;
            for (size_t index = 0; index < length; index++)
                if (((unsigned char) line [index] & 0xC0) != 0x80)
                    line_chars++;
            if (chars + 1 + line_chars > PUSHOVER_MESSAGE_MAX
            ||  (size_t) used + length + 3 >= text_size)
                break;
            used += snprintf (text + used, text_size - (size_t) used, "%s%.*s",
                              first ? "\n\n" : "\n", (int) length, line);
            chars += 1 + line_chars + (first ? 1 : 0);
            first = false;
            line += length + (end ? 1 : 0);
        }
    }
    s_utf8_cut (text, PUSHOVER_MESSAGE_MAX, out, size);
    mem_free (text);
}

//  url_base/alerts/SOURCE/ID with both parts escaped.
static void
s_make_url (pushover_t *self, const alert_t *alert, char *out, size_t size)
{
    char *source = curl_easy_escape (self->curl, alert->source, 0);
    char *id = curl_easy_escape (self->curl, alert->id, 0);
    char *url = mem_alloc (strlen (self->url_base) + (source ? strlen (source) : 0)
                           + (id ? strlen (id) : 0) + 16);
    sprintf (url, "%s/alerts/%s/%s", self->url_base, source ? source : "", id ? id : "");
    s_utf8_cut (url, PUSHOVER_URL_MAX, out, size);
    mem_free (url);
    curl_free (source);
    curl_free (id);
}

static receipt_t *
s_receipt_find (pushover_t *self, const char *source, const char *id, size_t from)
{
    for (size_t index = from; index < self->receipt_count; index++)
        if (streq (self->receipts [index].source, source) && streq (self->receipts [index].id, id))
            return &self->receipts [index];
    return NULL;
}

static void
s_receipt_forget (pushover_t *self, receipt_t *receipt)
{
    size_t index = (size_t) (receipt - self->receipts);
    assert (index < self->receipt_count);
    memmove (receipt, receipt + 1, (self->receipt_count - index - 1) * sizeof (receipt_t));
    self->receipt_count--;
}

static void
s_receipt_add (pushover_t *self, const alert_t *alert, const char *receipt, const char *tag,
               const char *user)
{
    if (self->receipt_count == PUSHOVER_RECEIPTS_MAX) {
        log_warn ("%d emergency receipts followed already: no longer following %s's (%s/%s)",
                  PUSHOVER_RECEIPTS_MAX, self->receipts [0].receipt,
                  self->receipts [0].source, self->receipts [0].id);
        s_receipt_forget (self, &self->receipts [0]);
    }
    if (self->receipt_count == self->receipt_capacity) {
        self->receipt_capacity = self->receipt_capacity ? self->receipt_capacity * 2 : 8;
        self->receipts = mem_realloc (self->receipts,
                                      self->receipt_capacity * sizeof (receipt_t));
    }
    receipt_t *entry = &self->receipts [self->receipt_count++];
    memset (entry, 0, sizeof *entry);
    snprintf (entry->source, sizeof entry->source, "%s", alert->source);
    snprintf (entry->id, sizeof entry->id, "%s", alert->id);
    snprintf (entry->receipt, sizeof entry->receipt, "%s", receipt);
    snprintf (entry->tag, sizeof entry->tag, "%s", tag);
    s_hash_hex (user, NULL, entry->user_hash);
    entry->next_poll = s_mono () + self->receipt_poll_ms;
    entry->expires_at = s_mono () + self->expire_s * 1000;
}

//  --- delivering --------------------------------------------------------------------------

static attempt_t *
s_attempt (pushover_t *self, const alert_change_t *change, const rule_action_t *action)
{
    attempt_t *free_slot = NULL;
    for (size_t index = 0; index < RULES_MAX_ACTIONS; index++) {
        attempt_t *attempt = &self->attempts [index];
        if (attempt->seq && attempt->seq != change->seq)
            memset (attempt, 0, sizeof *attempt);      //  an older change is done
        if (attempt->seq == change->seq && attempt->action == action)
            return attempt;
        if (!attempt->seq && !free_slot)
            free_slot = attempt;
    }
    if (!free_slot)
        free_slot = &self->attempts [0];
    free_slot->seq = change->seq;
    free_slot->action = action;
    free_slot->attempts = 0;
    free_slot->first_failure = 0;
    return free_slot;
}

//  A failed attempt that may be retried: FEED_RETRY at the back-off time,
//  or FEED_DONE if the give-up time has come. wait_until (mono ms, 0 for
//  the back-off) is used instead of the back-off when given (429).
static feed_result_t
s_failed (pushover_t *self, attempt_t *attempt, const char *what, const char *why,
          int64_t wait_until, int64_t *retry_at)
{
    int64_t now = s_mono ();
    if (attempt->attempts++ == 0)
        attempt->first_failure = now;
    int64_t give_up_at = attempt->first_failure + self->give_up_ms;
    int64_t at = wait_until;
    if (!at) {
        int64_t delay = PUSHOVER_BACKOFF_FIRST_MS;
        for (int count = 1; count < attempt->attempts && delay < PUSHOVER_BACKOFF_MAX_MS; count++)
            delay *= 2;
        if (delay > PUSHOVER_BACKOFF_MAX_MS)
            delay = PUSHOVER_BACKOFF_MAX_MS;
        delay += random () % (delay / 4 + 1);
        at = now + delay;
        if (at > give_up_at && now < give_up_at)
            at = give_up_at;                    //  one last try at the give-up time
    }
    if (now >= give_up_at || at > give_up_at) {
        log_error ("%s: %s; giving up after %d attempts in %" PRId64 " s", what, why,
                   attempt->attempts, (now - attempt->first_failure) / 1000);
        return FEED_DONE;
    }
    log_warn ("%s: %s; attempt %d, next in %" PRId64 " ms", what, why, attempt->attempts,
              at - now);
    *retry_at = at;
    return FEED_RETRY;
}

//  Mono time until which the rate limit holds, from the last response.
static int64_t
s_rate_limit_until (pushover_t *self)
{
    int64_t now = s_mono ();
    if (self->response.limit_reset > 0) {
        int64_t wall = clock_now_ms ();
        int64_t wait = self->response.limit_reset * 1000 - wall + PUSHOVER_RATE_MARGIN_MS;
        if (wait < PUSHOVER_RATE_MARGIN_MS)
            wait = PUSHOVER_RATE_MARGIN_MS;
        return now + wait;
    }
    return now + PUSHOVER_RATE_DEFAULT_MS;
}

static bool
s_event_is (const alert_change_t *change, const char *event)
{
    return change->event && streq (change->event, event);
}

static feed_result_t
s_deliver (void *self_arg, const alert_change_t *change, const rule_action_t *action,
           int64_t *retry_at)
{
    pushover_t *self = self_arg;
    const alert_t *alert = &change->alert;
    const char *rule = action->rule ? action->rule : "?";
    //  A cleared alert's emergency is cancelled by work(), at once.
    if (s_event_is (change, "cleared") || alert->state == ALERT_CLEARED)
        for (receipt_t *receipt = s_receipt_find (self, alert->source, alert->id, 0); receipt;
             receipt = s_receipt_find (self, alert->source, alert->id,
                                       (size_t) (receipt - self->receipts) + 1)) {
            if (!receipt->cancel)
                receipt->next_poll = s_mono ();
            receipt->cancel = true;
        }

    const char *user = action->destination && *action->destination
                       && !streq (action->destination, "default") ? action->destination : self->user;
    char what [WIRE_MAX_NAME * 2 + 128];
    if (action->kind == ACTION_NOTIFY)
        snprintf (what, sizeof what, "rule %s: %s %s/%s", rule, change->event, alert->source,
                  alert->id);
    else
        snprintf (what, sizeof what, "rule %s: flood %s", rule,
                  action->kind == ACTION_FLOOD_HELD ? "held" : "over");
    if (!user) {
        log_error ("%s: no user key (set user in the rule, user or user_file in section"
                   " pushover, or $PUSHOVER_USER): not sent", what);
        return FEED_DONE;
    }
    attempt_t *attempt = s_attempt (self, change, action);
    int64_t now = s_mono ();
    if (now < self->rate_until) {
        if (attempt->attempts == 0) {
            attempt->attempts = 1;
            attempt->first_failure = now;
        }
        if (self->rate_until > attempt->first_failure + self->give_up_ms) {
            log_error ("%s: Pushover's message limit holds for %" PRId64 " s more, beyond"
                       " give_up: not sent", what, (self->rate_until - now) / 1000);
            return FEED_DONE;
        }
        *retry_at = self->rate_until;
        return FEED_RETRY;
    }

    //  Settings: the rule's, else the section's.
    const char *sound = self->sound, *device = self->device, *value = NULL;
    if (action->settings && config_string (action->settings, "sound", NULL, &value) == 0
        && value && *value)
        sound = value;
    value = NULL;
    if (action->settings && config_string (action->settings, "device", NULL, &value) == 0
        && value && *value)
        device = value;
    int level = alert->level >= LEVEL_LOW && alert->level <= LEVEL_URGENT ? (int) alert->level
                                                                          : LEVEL_NORMAL;
    int64_t priority = self->priority [level];
    if (action->settings) {
        char error [CONFIG_ERROR_SIZE];
        if (config_integer (action->settings, "priority", priority, -2, 2, &priority,
                            error, sizeof error)) {
            log_limited (&self->log_limit, "%s (using priority %d)", error, self->priority [level]);
            priority = self->priority [level];
        }
    }
    bool paging = s_event_is (change, "raised") || s_event_is (change, "reminder");
    if (priority == 2 && (!paging || action->kind != ACTION_NOTIFY
                          || s_receipt_find (self, alert->source, alert->id, 0)))
        priority = 1;

    //  The message.
    char title [PUSHOVER_TITLE_MAX * 4 + 8];
    char message [PUSHOVER_MESSAGE_MAX * 4 + 8];
    char url [PUSHOVER_URL_MAX * 4 + 8] = "";
    char url_title [PUSHOVER_URL_TITLE_MAX * 4 + 8] = "";
    char tag [PUSHOVER_TAG_SIZE] = "";
    if (action->kind == ACTION_NOTIFY) {
        char event [32];
        snprintf (event, sizeof event, "%s", change->event ? change->event : "change");
        for (char *at = event; *at; at++)
            *at = (char) toupper ((unsigned char) *at);
        const char *subject = alert->subject && *alert->subject ? alert->subject : alert->source;
        char *text = mem_alloc (strlen (event) + strlen (subject) + 4);
        sprintf (text, "%s: %s", event, subject);
        s_utf8_cut (text, PUSHOVER_TITLE_MAX, title, sizeof title);
        mem_free (text);
        s_make_message (alert, message, sizeof message);
        if (self->url_base) {
            s_make_url (self, alert, url, sizeof url);
            text = mem_alloc (strlen (alert->source) + strlen (alert->id) + 2);
            sprintf (text, "%s/%s", alert->source, alert->id);
            s_utf8_cut (text, PUSHOVER_URL_TITLE_MAX, url_title, sizeof url_title);
            mem_free (text);
        }
    }
    else {
        snprintf (title, sizeof title, "%s: rule %s",
                  action->kind == ACTION_FLOOD_HELD ? "HELD BACK" : "RESUMED", rule);
        if (action->kind == ACTION_FLOOD_HELD)
            snprintf (message, sizeof message, "further alerts of rule %s held back", rule);
        else
            snprintf (message, sizeof message, "normal service resumes: %" PRId64
                      " alerts were held back", action->held);
        char cut [sizeof title];
        s_utf8_cut (title, PUSHOVER_TITLE_MAX, cut, sizeof cut);
        memcpy (title, cut, sizeof cut);
    }
    form_t form = { 0 };
    s_form_add (self, &form, "token", self->token);
    s_form_add (self, &form, "user", user);
    s_form_add (self, &form, "title", title);
    s_form_add (self, &form, "message", message);
    s_form_add_int (self, &form, "priority", priority);
    s_form_add_int (self, &form, "timestamp", change->at / 1000);
    s_form_add (self, &form, "html", "0");
    if (*url) {
        s_form_add (self, &form, "url", url);
        s_form_add (self, &form, "url_title", url_title);
    }
    if (sound)
        s_form_add (self, &form, "sound", sound);
    if (device)
        s_form_add (self, &form, "device", device);
    if (priority == 2) {
        s_make_tag (alert->source, alert->id, tag, sizeof tag);
        s_form_add_int (self, &form, "retry", self->retry_s);
        s_form_add_int (self, &form, "expire", self->expire_s);
        s_form_add (self, &form, "tags", tag);
    }
    char *endpoint = mem_alloc (strlen (self->api) + 32);
    sprintf (endpoint, "%s/messages.json", self->api);
    int rc = s_request (self, endpoint, form.text);
    mem_free (endpoint);
    s_form_free (&form);

    response_t *response = &self->response;
    if (rc != 0)
        return s_failed (self, attempt, what, response->error, 0, retry_at);
    if (response->limit_remaining == 0 && response->status / 100 == 2)
        self->rate_until = s_rate_limit_until (self);
    if (response->status == 429) {
        self->rate_until = s_rate_limit_until (self);
        char errors [512], reason [600];
        s_error_text (self, errors, sizeof errors);
        snprintf (reason, sizeof reason, "429 over Pushover's message limit: %s", errors);
        return s_failed (self, attempt, what, reason, self->rate_until, retry_at);
    }
    if (response->status >= 400 && response->status < 500) {
        char errors [1024];
        s_error_text (self, errors, sizeof errors);
        log_error ("%s: Pushover refused it (%ld): %s; not retried", what, response->status,
                   errors);
        return FEED_DONE;
    }
    int64_t status = 0;
    if (response->status / 100 != 2
    ||  json_get_int (response->reply, "status", &status) != 0
    ||  status != 1) {
        char reason [700], errors [512];
        s_error_text (self, errors, sizeof errors);
        snprintf (reason, sizeof reason, "HTTP %ld, status %" PRId64 ": %s",
                  response->status, status, errors);
        return s_failed (self, attempt, what, reason, 0, retry_at);
    }
    if (priority == 2) {
        char receipt [PUSHOVER_RECEIPT_SIZE] = "";
        json_get_string (response->reply, "receipt", receipt, sizeof receipt, false);
        bool plain = *receipt != 0;
        for (const char *at = receipt; *at; at++)
            if (!isalnum ((unsigned char) *at))
                plain = false;
        if (plain) {
            s_receipt_add (self, alert, receipt, tag, user);
            log_info ("%s: sent at emergency priority, receipt %s, tag %s", what, receipt, tag);
        }
        else
            log_warn ("%s: sent at emergency priority, but no usable receipt came back", what);
    }
    else
        log_info ("%s: sent (priority %" PRId64 ")", what, priority);
    if (attempt->attempts)
        log_info ("%s: delivered after %d failed attempts", what, attempt->attempts);
    memset (attempt, 0, sizeof *attempt);
    return FEED_DONE;
}

//  --- receipts -----------------------------------------------------------------------------

//  Asks the broker for the alert: 1 raised and not acknowledged, 0 cleared,
//  gone or acknowledged, -1 no answer.
static int
s_alert_still_paging (pushover_t *self, const receipt_t *receipt)
{
    char error [WIRE_ERROR_SIZE + 256];
    ctl_failure_t failure = 0;
    wire_doc_t *doc = ctl_get (self->ctl, receipt->source, receipt->id, &failure,
                               error, sizeof error);
    if (!doc && failure == CTL_REFUSED)
        return 0;                       //  not found: nothing left to page about
    if (!doc) {
        log_limited (&self->log_limit, "receipt %s: cannot ask the broker about %s/%s: %s",
                     receipt->receipt, receipt->source, receipt->id, error);
        return -1;
    }
    int result = -1;
    const msgpack_object *map = wire_get (wire_doc_root (doc), "alert");
    alert_t alert = { 0 };
    if (map && alert_decode (map, &alert, error, sizeof error) == 0)
        result = alert.state == ALERT_RAISED ? 1 : 0;
    alert_clear_fields (&alert);
    wire_doc_destroy (&doc);
    return result;
}

//  Sends `ack` for the receipt's alert. 0 when the broker answered (ok or a
//  refusal: either way we are done), -1 when it did not.
static int
s_write_back_ack (pushover_t *self, const receipt_t *receipt, const char *by, const char *device)
{
    //  The note names the person too: on a secured broker, `by` becomes
    //  this notifier's certificate name, and the history must still say who.
    char note [WIRE_MAX_NOTE];
    const char *who = strncmp (by, "pushover:", 9) == 0 ? by + 9 : by;
    snprintf (note, sizeof note, "acknowledged in Pushover by %s%s%s", who,
              *device ? " on " : "", device);
    char error [WIRE_ERROR_SIZE + 256];
    ctl_failure_t failure = 0;
    ctl_act_t act = { .source = receipt->source, .id = receipt->id, .by = by, .note = note };
    wire_doc_t *doc = ctl_act (self->ctl, "ack", &act, &failure, error, sizeof error);
    if (!doc && failure == CTL_NO_REPLY) {
        log_warn ("receipt %s: acknowledged by %s, but the broker did not answer: %s;"
                  " will try again", receipt->receipt, by, error);
        return -1;
    }
    bool ok = doc != NULL;
    wire_doc_destroy (&doc);
    if (ok)
        log_info ("%s/%s acknowledged by %s in Pushover (receipt %s)", receipt->source,
                  receipt->id, by, receipt->receipt);
    else
        log_warn ("%s/%s acknowledged by %s in Pushover, the broker refused the ack: %s",
                  receipt->source, receipt->id, by, error);
    return 0;
}

//  Cancels the emergency retries of the receipt's tag. 0 done or refused
//  for good, -1 to try again later.
static int
s_cancel (pushover_t *self, const receipt_t *receipt)
{
    char *tag = curl_easy_escape (self->curl, receipt->tag, 0);
    char *url = mem_alloc (strlen (self->api) + strlen (tag ? tag : "") + 48);
    sprintf (url, "%s/receipts/cancel_by_tag/%s.json", self->api, tag ? tag : "");
    curl_free (tag);
    form_t form = { 0 };
    s_form_add (self, &form, "token", self->token);
    int rc = s_request (self, url, form.text);
    s_form_free (&form);
    mem_free (url);
    response_t *response = &self->response;
    if (rc != 0 || response->status / 100 == 5 || response->status == 429) {
        log_warn ("%s/%s: cancelling the emergency retries (tag %s) failed: %s; will try again",
                  receipt->source, receipt->id, receipt->tag,
                  rc ? response->error : response->status == 429 ? "429" : "5xx");
        return -1;
    }
    if (response->status / 100 != 2) {
        char errors [512];
        s_error_text (self, errors, sizeof errors);
        log_error ("%s/%s: Pushover refused to cancel tag %s (%ld): %s", receipt->source,
                   receipt->id, receipt->tag, response->status, errors);
        return 0;
    }
    log_info ("%s/%s: emergency retries cancelled (tag %s)", receipt->source, receipt->id,
              receipt->tag);
    return 0;
}

//  Reads the receipt. 1 acknowledged (by filled), 0 not yet, -1 failed (try
//  later), -2 gone for good (expired, unknown).
static int
s_read_receipt (pushover_t *self, const receipt_t *receipt, char *by, size_t by_size,
                char *device, size_t device_size)
{
    char *token = curl_easy_escape (self->curl, self->token, 0);
    size_t size = strlen (self->api) + strlen (receipt->receipt) + strlen (token ? token : "") + 48;
    char *url = mem_alloc (size);
    snprintf (url, size, "%s/receipts/%s.json?token=%s", self->api, receipt->receipt,
              token ? token : "");
    if (token) {
        explicit_bzero (token, strlen (token));
        curl_free (token);
    }
    int rc = s_request (self, url, NULL);
    explicit_bzero (url, size);
    mem_free (url);
    response_t *response = &self->response;
    if (rc != 0 || response->status / 100 == 5 || response->status == 429) {
        log_limited (&self->log_limit, "receipt %s: %s", receipt->receipt,
                     rc ? response->error : "the server failed; will try again");
        return -1;
    }
    if (response->status / 100 != 2) {
        char errors [512];
        s_error_text (self, errors, sizeof errors);
        log_warn ("receipt %s (%s/%s): Pushover says %ld: %s; no longer followed",
                  receipt->receipt, receipt->source, receipt->id, response->status, errors);
        return -2;
    }
    int64_t acknowledged = 0, expired = 0;     //  absent or not integers: 0
    json_get_int (response->reply, "acknowledged", &acknowledged);
    json_get_int (response->reply, "expired", &expired);
    if (acknowledged == 1) {
        char user [PUSHOVER_SECRET_MAX + 1] = "";
        //  absent, not a string or too long: left empty (an identifier cut short is wrong)
        json_get_string (response->reply, "acknowledged_by", user, sizeof user, false);
        json_get_string (response->reply, "acknowledged_by_device", device, device_size, false);
        if (!wire_name_valid (device))
            device [0] = 0;
        //  acknowledged_by is a user key: never write the one we sent to.
        char hash [17];
        s_hash_hex (user, NULL, hash);
        const char *name = *user && !streq (hash, receipt->user_hash) && wire_name_valid (user)
                         ? user : *device ? device : "unknown";
        snprintf (by, by_size, "pushover:%s", name);
        explicit_bzero (user, sizeof user);
        if (!wire_name_valid (by))
            snprintf (by, by_size, "pushover");
        return 1;
    }
    if (expired == 1) {
        log_info ("receipt %s (%s/%s): expired unacknowledged", receipt->receipt,
                  receipt->source, receipt->id);
        return -2;
    }
    return 0;
}

static void
s_work (void *self_arg, int64_t mono_now)
{
    pushover_t *self = self_arg;
    (void) mono_now;
    int taken = 0;
    size_t index = 0;
    while (index < self->receipt_count && taken < PUSHOVER_POLLS_PER_WORK) {
        receipt_t *receipt = &self->receipts [index];
        int64_t now = s_mono ();
        if (receipt->next_poll > now) {
            index++;
            continue;
        }
        taken++;
        receipt->next_poll = now + self->receipt_poll_ms;
        bool forget = false;
        if (now >= receipt->expires_at) {
            log_info ("receipt %s (%s/%s): past its expire time, no longer followed",
                      receipt->receipt, receipt->source, receipt->id);
            forget = true;
        }
        else
        if (!receipt->cancel) {
            int paging = s_alert_still_paging (self, receipt);
            if (paging == 0)
                receipt->cancel = true;
        }
        if (!forget && receipt->cancel) {
            if (now < self->rate_until)
                receipt->next_poll = self->rate_until;
            else
                forget = s_cancel (self, receipt) == 0;
        }
        else
        if (!forget) {
            char by [WIRE_MAX_NAME + 1], device [WIRE_MAX_NAME + 1] = "";
            int state = s_read_receipt (self, receipt, by, sizeof by, device, sizeof device);
            if (state == 1)
                forget = s_write_back_ack (self, receipt, by, device) == 0;
            else
            if (state == -2)
                forget = true;
        }
        if (forget) {
            //  Every receipt of this alert goes with it: one ack is enough.
            char source [sizeof receipt->source], id [sizeof receipt->id];
            memcpy (source, receipt->source, sizeof source);
            memcpy (id, receipt->id, sizeof id);
            s_receipt_forget (self, receipt);
            for (receipt_t *other = s_receipt_find (self, source, id, 0); other;
                 other = s_receipt_find (self, source, id, 0))
                s_receipt_forget (self, other);
            index = 0;                      //  the array moved: start over
        }
        else
            index++;
    }
}

static int64_t
s_next_wakeup (void *self_arg, int64_t mono_now)
{
    pushover_t *self = self_arg;
    (void) mono_now;
    int64_t now = s_mono ();
    int64_t wait = -1;
    for (size_t index = 0; index < self->receipt_count; index++) {
        const receipt_t *receipt = &self->receipts [index];
        int64_t due = receipt->next_poll - now;
        if (receipt->cancel && self->rate_until > receipt->next_poll)
            due = self->rate_until - now;
        if (due < 0)
            due = 0;
        if (wait < 0 || due < wait)
            wait = due;
    }
    return wait;
}

const destination_class_t pushover_destination = {
    .program = "lilac-notify-pushover",
    .section = "pushover",
    .section_keys = s_section_keys,
    .rule_keys = s_rule_keys,
    .destination_key = "user",
    .destination_is_secret = true,
    .check = s_check,
    .open = s_open,
    .close = s_close,
    .deliver = s_deliver,
    .work = s_work,
    .next_wakeup = s_next_wakeup,
};
