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
    RETRY for the delivery core (delivery.h: back-off with jitter until
    `give_up` after the first failure). 429 (and a success that says
    X-Limit-App-Remaining: 0) holds every message until X-Limit-App-Reset
    (or a minute when the header is missing): RETRY not before then, or
    GIVE_UP at once when that is beyond give_up (the monthly limit). Any
    other 4xx is GIVE_UP with Pushover's own error text (errors[]).
    Nothing here ever logs the token, the user key or a URL carrying them;
    user keys are checked at load (30 letters and digits).

    Receipts (emergency priority). At most PUSHOVER_RECEIPTS_MAX (the
    oldest is dropped past that), kept in state_dir/pushover-receipts (one
    JSON object per line, rewritten on every change) so a restart goes on
    following them. Every change the notifier reads is observed (observe):
    one that leaves the alert cleared, acknowledged or deleted marks its
    receipts for cancelling at once, whatever the rules route here. `work`
    takes each receipt at most every receipt_poll (never faster than 5 s):
    one to cancel is cancelled by tag (POST API/receipts/cancel_by_tag/
    TAG.json, again at the next poll if that failed); another is read (GET
    API/receipts/R.json), and once acknowledged an `ack` goes to the
    broker with by = "pushover:" + acknowledged_by (the device name
    instead when acknowledged_by is a user key — the one we sent to, or a
    group member's: keys are secrets) and a note naming the person and device (on a secured broker
    `by` is this notifier's certificate name, so the note is what keeps
    who); when the broker answers, the alert's receipts are forgotten. A
    receipt past its expire time is dropped without asking (Pushover has
    stopped by then).

    Never waiting: messages, polls and cancels are requests of the
    notifier's one libcurl multi handle (http.h), and the ack goes out on
    the control DEALER without waiting; its reply is read by work().
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
#include "hash.h"
#include "log.h"
#include "mem.h"
#include "pushover.h"
#include "secret.h"
#include "http.h"
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
#define PUSHOVER_CALL_TIMEOUT_MS   3000        //  an `ack` to the broker
#define PUSHOVER_KEY_SIZE          30          //  characters of a user or group key
#define PUSHOVER_ELLIPSIS          "\xE2\x80\xA6"
#define PUSHOVER_NO_TOKEN          "no Pushover application token: set token or token_file" \
                                   " in section pushover, or $PUSHOVER_TOKEN"

typedef struct _pushover_t pushover_t;

//  An emergency message whose receipt we follow. Heap nodes in a list:
//  a call in flight points at its receipt.
typedef struct _receipt_t receipt_t;
struct _receipt_t {
    pushover_t *owner;
    char source [WIRE_MAX_NAME + 1];           //  the alert's key
    char id [WIRE_MAX_NAME + 1];
    char receipt [PUSHOVER_RECEIPT_SIZE];      //  Pushover's receipt id
    char tag [PUSHOVER_TAG_SIZE];              //  the tag it was sent with
    char user_hash [17];                       //  hash of the user key it went to
    int64_t next_poll;                         //  mono ms: when work() takes it next
    int64_t expires_wall;                      //  wall ms: Pushover stops retrying
    bool cancel;                               //  cancel by tag, not poll
    http_call_t *call;                         //  a poll or cancel in flight
    uint64_t ack_ticket;                       //  an `ack` to the broker in flight, 0 none
    int64_t ack_deadline;                      //  mono ms
    char by [WIRE_MAX_NAME + 1];               //  who acknowledged (while acking)
    receipt_t *next;
};

//  A message being sent: what its answer needs.
typedef struct _sending_t sending_t;
struct _sending_t {
    pushover_t *owner;
    delivery_t *delivery;
    http_call_t *call;
    int64_t priority;
    char tag [PUSHOVER_TAG_SIZE];
    char user_hash [17];
    sending_t *prev, *next;
};

//  What one HTTP exchange gave, read from http.h's response.
typedef struct {
    long status;                               //  HTTP status, 0 when none
    json_t *reply;                             //  the body as a JSON object, or NULL
    char reply_error [128];                    //  why it is not one (jansson's words)
    size_t body_size;
    int64_t limit_reset;                       //  X-Limit-App-Reset (epoch s), -1 absent
    int64_t limit_remaining;                   //  X-Limit-App-Remaining, -1 absent
} response_t;

struct _pushover_t {
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
    ctl_t *ctl;                                //  its client (one DEALER, never waited on)
    http_t *http;                              //  the notifier's libcurl
    char *receipts_file;                       //  state_dir/pushover-receipts
    int64_t rate_until;                        //  mono ms: no request before this
    sending_t *sendings;                       //  messages in flight
    receipt_t *receipts;                       //  followed, newest first
    size_t receipt_count;
    log_limit_t log_limit;                     //  for repeated complaints
};

static const char *const s_section_keys [] = {
    "api", "token", "token_file", "user", "user_file", "priority_urgent", "priority_normal",
    "priority_low", "retry", "expire", "sound", "device", "url_base", "timeout", "give_up",
    "receipt_poll", NULL
};
static const char *const s_rule_keys [] = { "user", "device", "sound", "priority", NULL };


//  --- small helpers --------------------------------------------------------------------

//  The notifier's clock (retry_at and mono_now are on it).
static int64_t
s_mono (void)
{
    return zclock_mono ();
}

//  "FILE:LINE: pushover/KEY" for a key of the section, or "pushover/KEY".
static void
s_where (config_t *section, const char *key, char *where, size_t size)
{
    config_key_where (section, "pushover", key, where, size);
}

//  FNV-1a, 64 bits, as 16 hex digits: names a secret or a key without showing it.
static void
s_hash_hex (const char *first, const char *second, char out [17])
{
    uint64_t hash = hash_fnv1a (hash_fnv1a_string (HASH_FNV1A_START, first), "", 1);
    hash = hash_fnv1a_string (hash, second);
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

static void s_close (void **self_p);

//  A Pushover user or group key: 30 letters and digits.
static bool
s_key_valid (const char *key)
{
    size_t length = 0;
    for (; key [length]; length++)
        if (!isalnum ((unsigned char) key [length]))
            return false;
    return length == PUSHOVER_KEY_SIZE;
}

static void s_receipts_load (pushover_t *self);

//  A secret read for the check only: added to errors when bad; true when set.
static bool
s_check_secret (config_t *section, const char *key, const char *file_key, const char *variable,
                config_report_t *errors)
{
    char error [CONFIG_ERROR_SIZE + 512];
    char *value = NULL;
    if (secret_read (section, key, file_key, variable, true, &value, error, sizeof error))
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
        config_t *user = config_locate (rule, "user");
        if (user && !s_key_valid (config_value (user)))
            config_report_at (errors, user, "rule %s: user: a Pushover user or group key is %d"
                              " letters and digits (this one is not: %zu characters)",
                              config_value (rule), PUSHOVER_KEY_SIZE, strlen (config_value (user)));
        if (!user && !default_user)
            config_report_at (errors, rule, "rule %s has no user key, and there is no default"
                              " (user or user_file in section pushover, or $PUSHOVER_USER):"
                              " it could never notify", config_value (rule));
    }
}

static void *
s_open (config_t *section, notifier_env_t *env, char *error, size_t error_size)
{
    pushover_t *self = mem_alloc (sizeof (pushover_t));
    self->http = env->http;
    self->control = mem_strdup (env && env->control ? env->control : BUS_DEFAULT_CONTROL);
    self->ctl = ctl_new (self->control, PUSHOVER_CALL_TIMEOUT_MS, false, error, error_size);
    if (!self->ctl) {
        s_close ((void **) &self);
        return NULL;
    }
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
    self->url_base = config_string_copy (section, "url_base");
    if (self->url_base) {
        length = strlen (self->url_base);
        while (length > 0 && self->url_base [length - 1] == '/')
            self->url_base [--length] = 0;
    }
    self->sound = config_string_copy (section, "sound");
    self->device = config_string_copy (section, "device");
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
    if (secret_read (section, "token", "token_file", "PUSHOVER_TOKEN", false, &self->token,
                       error, error_size)
    ||  secret_read (section, "user", "user_file", "PUSHOVER_USER", false, &self->user,
                       error, error_size))
        goto failed;
    if (!self->token) {
        snprintf (error, error_size, PUSHOVER_NO_TOKEN);
        goto failed;
    }
    if (!self->user)
        log_info ("no default user key: rules without `user` cannot be delivered");
    if (self->user && !s_key_valid (self->user)) {
        snprintf (error, error_size, "the default user key is not a Pushover key (%d letters"
                  " and digits)", PUSHOVER_KEY_SIZE);
        goto failed;
    }
    env->retry_for_ms = self->give_up_ms;
    char *file = zsys_sprintf ("%s/pushover-receipts", env->state_dir ? env->state_dir : ".");
    self->receipts_file = mem_strdup (file);
    zstr_free (&file);
    s_receipts_load (self);
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
    while (self->sendings) {
        sending_t *sending = self->sendings;
        self->sendings = sending->next;
        http_cancel (self->http, sending->call);    //  not finished: the core is closing
        mem_free (sending);
    }
    while (self->receipts) {
        receipt_t *receipt = self->receipts;
        self->receipts = receipt->next;
        http_cancel (self->http, receipt->call);
        mem_free (receipt);
    }
    mem_free (self->receipts_file);
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
    mem_free (self);
    *self_p = NULL;
}

//  --- HTTP --------------------------------------------------------------------------------

//  X-Limit-App-*: a number, or -1 when absent.
static int64_t
s_header_number (const http_call_t *call, const char *name)
{
    char value [32];
    if (http_response_header (call, name, value, sizeof value))
        return -1;
    int64_t number = 0;
    int digits = 0;
    for (const char *at = value; *at >= '0' && *at <= '9' && digits < 18; at++, digits++)
        number = number * 10 + (*at - '0');
    return digits ? number : -1;
}

//  What Pushover answered (any status); free with s_response_free.
static response_t
s_response_read (const http_response_t *answer, const http_call_t *call)
{
    response_t response = { .status = answer->code == CURLE_OK ? answer->status : 0,
                            .body_size = answer->body_size };
    response.limit_reset = s_header_number (call, "X-Limit-App-Reset");
    response.limit_remaining = s_header_number (call, "X-Limit-App-Remaining");
    //  Read once, here: every answer of Pushover's API is a small object.
    if (answer->code == CURLE_OK)
        response.reply = json_read_object (answer->body, answer->body_size, HTTP_BODY_MAX,
                                           response.reply_error, sizeof response.reply_error);
    return response;
}

static void
s_response_free (response_t *response)
{
    json_decref (response->reply);
    response->reply = NULL;
}

//  Starts one exchange with Pushover's API: GET url, or POST url with an
//  url-encoded form. NULL (logged) when it could not start.
static http_call_t *
s_request (pushover_t *self, const char *url, const char *form, http_done_fn *done, void *arg)
{
    http_request_t request = {
        .method = form ? "POST" : "GET", .url = url,
        .content_type = form ? "application/x-www-form-urlencoded" : NULL,
        .body = form, .body_size = form ? strlen (form) : 0,
        .timeout_ms = self->timeout_ms, .user_agent = "lilac-notify-pushover"
    };
    char error [256];
    http_call_t *call = http_start (self->http, &request, done, arg, error, sizeof error);
    if (!call)
        log_limited (&self->log_limit, "cannot start a request to Pushover: %s", error);
    return call;
}

//  A growable application/x-www-form-urlencoded body.
typedef struct {
    char *text;                        //  NUL-terminated
    size_t size;                       //  bytes used, NUL excluded
    size_t capacity;
} form_t;

static void
s_form_add (form_t *form, const char *key, const char *value)
{
    if (!value)
        return;
    char *escaped = http_escape (value);
    size_t need = form->size + strlen (key) + strlen (escaped) + 3;
    if (need > form->capacity) {
        form->capacity = need * 2;
        form->text = mem_realloc (form->text, form->capacity);
    }
    form->size += (size_t) sprintf (form->text + form->size, "%s%s=%s",
                                    form->size ? "&" : "", key, escaped);
    explicit_bzero (escaped, strlen (escaped));
    mem_free (escaped);
}

static void
s_form_add_int (form_t *form, const char *key, int64_t value)
{
    char text [24];
    snprintf (text, sizeof text, "%" PRId64, value);
    s_form_add (form, key, text);
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
s_error_text (const response_t *response, char *text, size_t size)
{
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
    char *source = http_escape (alert->source);
    char *id = http_escape (alert->id);
    char *url = mem_alloc (strlen (self->url_base) + (source ? strlen (source) : 0)
                           + (id ? strlen (id) : 0) + 16);
    sprintf (url, "%s/alerts/%s/%s", self->url_base, source ? source : "", id ? id : "");
    s_utf8_cut (url, PUSHOVER_URL_MAX, out, size);
    mem_free (url);
    mem_free (source);
    mem_free (id);
}

//  --- receipts kept ----------------------------------------------------------------------

//  The first receipt of the alert after `after` (NULL: from the start).
static receipt_t *
s_receipt_find (pushover_t *self, const char *source, const char *id, receipt_t *after)
{
    for (receipt_t *receipt = after ? after->next : self->receipts; receipt;
         receipt = receipt->next)
        if (streq (receipt->source, source) && streq (receipt->id, id))
            return receipt;
    return NULL;
}

//  Writes every receipt to the receipts file (a temporary name renamed
//  over it): one JSON object per line. A failure is logged; the receipts
//  stay followed in memory.
static void
s_receipts_save (pushover_t *self)
{
    char *temporary = zsys_sprintf ("%s.tmp", self->receipts_file);
    FILE *file = temporary ? fopen (temporary, "w") : NULL;
    bool written = file != NULL;
    for (receipt_t *receipt = self->receipts; receipt && written; receipt = receipt->next) {
        json_t *line = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:I, s:b}",
                                  "source", receipt->source, "id", receipt->id,
                                  "receipt", receipt->receipt, "tag", receipt->tag,
                                  "user_hash", receipt->user_hash,
                                  "expires", (json_int_t) receipt->expires_wall,
                                  "cancel", receipt->cancel);
        char *text = line ? json_text (line) : NULL;
        written = text && fprintf (file, "%s\n", text) > 0;
        free (text);
        json_decref (line);
    }
    if (file && fclose (file) != 0)
        written = false;
    if (!written || rename (temporary, self->receipts_file) != 0)
        log_limited (&self->log_limit, "cannot save the emergency receipts in %s: %s",
                     self->receipts_file, strerror (errno));
    zstr_free (&temporary);
}

static receipt_t *
s_receipt_new (pushover_t *self)
{
    if (self->receipt_count >= PUSHOVER_RECEIPTS_MAX) {
        receipt_t *oldest = self->receipts;
        while (oldest->next)
            oldest = oldest->next;
        log_warn ("%d emergency receipts followed already: no longer following %s's (%s/%s)",
                  PUSHOVER_RECEIPTS_MAX, oldest->receipt, oldest->source, oldest->id);
        oldest->expires_wall = 0;           //  work() drops it
    }
    receipt_t *receipt = mem_alloc (sizeof *receipt);
    receipt->owner = self;
    receipt->next = self->receipts;
    self->receipts = receipt;
    self->receipt_count++;
    return receipt;
}

//  Reads the receipts a previous run followed; those expired are dropped.
static void
s_receipts_load (pushover_t *self)
{
    FILE *file = fopen (self->receipts_file, "r");
    if (!file) {
        if (errno != ENOENT)
            log_error ("cannot read the emergency receipts in %s: %s", self->receipts_file,
                       strerror (errno));
        return;
    }
    char line [2048];
    size_t count = 0, bad = 0;
    int64_t now = clock_now_ms ();
    while (fgets (line, sizeof line, file)) {
        char error [128];
        json_t *object = json_read_object (line, strlen (line), sizeof line, error, sizeof error);
        receipt_t loaded = { 0 };
        int64_t expires = 0, cancel = 0;
        if (!object
        ||  json_get_string (object, "source", loaded.source, sizeof loaded.source, false)
        ||  json_get_string (object, "id", loaded.id, sizeof loaded.id, false)
        ||  json_get_string (object, "receipt", loaded.receipt, sizeof loaded.receipt, false)
        ||  json_get_string (object, "tag", loaded.tag, sizeof loaded.tag, false)
        ||  json_get_string (object, "user_hash", loaded.user_hash, sizeof loaded.user_hash, false)
        ||  json_get_int (object, "expires", &expires))
            bad++;
        else
        if (expires > now) {
            json_get_int (object, "cancel", &cancel);
            receipt_t *receipt = s_receipt_new (self);
            receipt_t *next = receipt->next;
            *receipt = loaded;
            receipt->owner = self;
            receipt->next = next;
            receipt->expires_wall = expires;
            receipt->cancel = cancel != 0;
            receipt->next_poll = zclock_mono () + (receipt->cancel ? 0 : self->receipt_poll_ms);
            count++;
        }
        json_decref (object);
    }
    fclose (file);
    if (bad)
        log_error ("%s: %zu lines are not receipts; skipped", self->receipts_file, bad);
    if (count)
        log_info ("following %zu emergency receipts of an earlier run", count);
}

static void
s_receipt_add (pushover_t *self, const alert_t *alert, const char *receipt_id, const char *tag,
               const char *user_hash)
{
    receipt_t *receipt = s_receipt_new (self);
    snprintf (receipt->source, sizeof receipt->source, "%s", alert->source);
    snprintf (receipt->id, sizeof receipt->id, "%s", alert->id);
    snprintf (receipt->receipt, sizeof receipt->receipt, "%s", receipt_id);
    snprintf (receipt->tag, sizeof receipt->tag, "%s", tag);
    memcpy (receipt->user_hash, user_hash, sizeof receipt->user_hash);
    receipt->next_poll = s_mono () + self->receipt_poll_ms;
    receipt->expires_wall = clock_now_ms () + self->expire_s * 1000;
    s_receipts_save (self);
}

//  Stops following the receipt (a call in flight is dropped).
static void
s_receipt_forget (pushover_t *self, receipt_t *receipt)
{
    for (receipt_t **link = &self->receipts; *link; link = &(*link)->next)
        if (*link == receipt) {
            *link = receipt->next;
            break;
        }
    http_cancel (self->http, receipt->call);
    mem_free (receipt);
    self->receipt_count--;
}

//  Every receipt of the alert goes: one ack or cancel is enough.
static void
s_receipts_forget_alert (pushover_t *self, const char *source, const char *id)
{
    char key_source [WIRE_MAX_NAME + 1], key_id [WIRE_MAX_NAME + 1];
    snprintf (key_source, sizeof key_source, "%s", source);
    snprintf (key_id, sizeof key_id, "%s", id);
    receipt_t *receipt;
    while ((receipt = s_receipt_find (self, key_source, key_id, NULL)))
        s_receipt_forget (self, receipt);
    s_receipts_save (self);
}

//  --- delivering --------------------------------------------------------------------------

//  Mono time until which the rate limit holds, from a response.
static int64_t
s_rate_limit_until (const response_t *response)
{
    int64_t now = s_mono ();
    if (response->limit_reset > 0 && response->limit_reset < INT64_MAX / 2000) {
        int64_t wall = clock_now_ms ();
        int64_t wait = response->limit_reset * 1000 - wall + PUSHOVER_RATE_MARGIN_MS;
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

static void
s_sending_free (pushover_t *self, sending_t *sending)
{
    if (sending->prev)
        sending->prev->next = sending->next;
    else
        self->sendings = sending->next;
    if (sending->next)
        sending->next->prev = sending->prev;
    mem_free (sending);
}

//  An emergency message went out: follow its receipt.
static void
s_follow_receipt (pushover_t *self, const sending_t *sending, const response_t *response)
{
    const alert_t *alert = &delivery_change (sending->delivery)->alert;
    char receipt [PUSHOVER_RECEIPT_SIZE] = "";
    json_get_string (response->reply, "receipt", receipt, sizeof receipt, false);
    bool plain = *receipt != 0;
    for (const char *at = receipt; *at; at++)
        if (!isalnum ((unsigned char) *at))
            plain = false;
    if (!plain) {
        delivery_finish (sending->delivery, DELIVERY_DELIVERED, 0,
                         "emergency priority, but no usable receipt came back");
        return;
    }
    s_receipt_add (self, alert, receipt, sending->tag, sending->user_hash);
    delivery_finish (sending->delivery, DELIVERY_DELIVERED, 0,
                     "emergency priority, receipt %s, tag %s", receipt, sending->tag);
}

//  Pushover's answer to a message: finishes its delivery.
static void
s_on_sent (const http_response_t *answer, http_call_t *call, void *arg)
{
    sending_t *sending = arg;
    pushover_t *self = sending->owner;
    delivery_t *delivery = sending->delivery;
    response_t response = s_response_read (answer, call);
    char errors [512];
    s_error_text (&response, errors, sizeof errors);
    int64_t status = 0;
    if (answer->code != CURLE_OK)
        delivery_finish (delivery, DELIVERY_RETRY, 0, "%s", answer->error);
    else
    if (response.status == 429) {
        self->rate_until = s_rate_limit_until (&response);
        delivery_finish (delivery, DELIVERY_RETRY, self->rate_until,
                         "429 over Pushover's message limit: %s", errors);
    }
    else
    if (response.status >= 400 && response.status < 500)
        delivery_finish (delivery, DELIVERY_GIVE_UP, 0, "Pushover refused it (%ld): %s",
                         response.status, errors);
    else
    if (response.status / 100 != 2 || json_get_int (response.reply, "status", &status) != 0
    ||  status != 1)
        delivery_finish (delivery, DELIVERY_RETRY, 0, "HTTP %ld, status %" PRId64 ": %s",
                         response.status, status, errors);
    else {
        if (response.limit_remaining == 0)
            self->rate_until = s_rate_limit_until (&response);
        if (sending->priority == 2)
            s_follow_receipt (self, sending, &response);
        else
            delivery_finish (delivery, DELIVERY_DELIVERED, 0, "priority %" PRId64,
                             sending->priority);
    }
    s_response_free (&response);
    s_sending_free (self, sending);
}

static void
s_start (void *self_arg, delivery_t *delivery)
{
    pushover_t *self = self_arg;
    const alert_change_t *change = delivery_change (delivery);
    const rule_action_t *action = delivery_action (delivery);
    const alert_t *alert = &change->alert;
    const char *rule = action->rule ? action->rule : "?";
    const char *user = action->destination && *action->destination
                       && !streq (action->destination, "default") ? action->destination : self->user;
    if (!user) {
        delivery_finish (delivery, DELIVERY_GIVE_UP, 0, "no user key (set user in the rule,"
                         " user or user_file in section pushover, or $PUSHOVER_USER)");
        return;
    }
    int64_t now = s_mono ();
    if (now < self->rate_until) {
        if (self->rate_until - now > self->give_up_ms)
            delivery_finish (delivery, DELIVERY_GIVE_UP, 0, "Pushover's message limit holds"
                             " for %" PRId64 " s more, beyond give_up", (self->rate_until - now) / 1000);
        else
            delivery_finish (delivery, DELIVERY_RETRY, self->rate_until,
                             "over Pushover's message limit");
        return;
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
                          || s_receipt_find (self, alert->source, alert->id, NULL)))
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
    s_form_add (&form, "token", self->token);
    s_form_add (&form, "user", user);
    s_form_add (&form, "title", title);
    s_form_add (&form, "message", message);
    s_form_add_int (&form, "priority", priority);
    s_form_add_int (&form, "timestamp", change->at / 1000);
    s_form_add (&form, "html", "0");
    if (*url) {
        s_form_add (&form, "url", url);
        s_form_add (&form, "url_title", url_title);
    }
    if (sound)
        s_form_add (&form, "sound", sound);
    if (device)
        s_form_add (&form, "device", device);
    if (priority == 2) {
        s_make_tag (alert->source, alert->id, tag, sizeof tag);
        s_form_add_int (&form, "retry", self->retry_s);
        s_form_add_int (&form, "expire", self->expire_s);
        s_form_add (&form, "tags", tag);
    }
    sending_t *sending = mem_alloc (sizeof *sending);
    sending->owner = self;
    sending->delivery = delivery;
    sending->priority = priority;
    memcpy (sending->tag, tag, sizeof tag);
    s_hash_hex (user, NULL, sending->user_hash);
    char *endpoint = mem_alloc (strlen (self->api) + 32);
    sprintf (endpoint, "%s/messages.json", self->api);
    sending->call = s_request (self, endpoint, form.text, s_on_sent, sending);
    mem_free (endpoint);
    s_form_free (&form);
    if (!sending->call) {
        mem_free (sending);
        delivery_finish (delivery, DELIVERY_RETRY, 0, "the request could not start");
        return;
    }
    sending->next = self->sendings;
    if (self->sendings)
        self->sendings->prev = sending;
    self->sendings = sending;
}

//  Sees every change: one that ends an alert's page (cleared, acked,
//  deleted) cancels its emergency retries at once.
static void
s_observe (void *self_arg, const alert_change_t *change)
{
    pushover_t *self = self_arg;
    const alert_t *alert = &change->alert;
    if (!self->receipts || !alert->source || !alert->id
    ||  !(alert->state == ALERT_CLEARED || alert->state == ALERT_ACKED
          || s_event_is (change, ALERT_EVENT_DELETED)))
        return;
    bool changed = false;
    for (receipt_t *receipt = s_receipt_find (self, alert->source, alert->id, NULL); receipt;
         receipt = s_receipt_find (self, alert->source, alert->id, receipt))
        if (!receipt->cancel) {
            receipt->cancel = true;
            receipt->next_poll = s_mono ();
            changed = true;
        }
    if (changed)
        s_receipts_save (self);
}

//  --- receipts ---------------------------------------------------------------------------

//  Sends `ack` for the receipt's alert to the broker, without waiting:
//  the reply is read by s_read_acks. by is kept for the log.
static void
s_send_ack (pushover_t *self, receipt_t *receipt, const char *by, const char *device)
{
    //  The note names the person too: on a secured broker, `by` becomes
    //  this notifier's certificate name, and the history must still say who.
    char note [WIRE_MAX_NOTE];
    const char *who = strncmp (by, "pushover:", 9) == 0 ? by + 9 : by;
    snprintf (note, sizeof note, "acknowledged in Pushover by %s%s%s", who,
              *device ? " on " : "", device);
    ctl_act_t act = { .source = receipt->source, .id = receipt->id, .by = by, .note = note };
    wire_writer_t writer;
    ctl_act_request (&writer, "ack", &act);
    char error [WIRE_ERROR_SIZE + 256];
    receipt->ack_ticket = ctl_send (self->ctl, writer.buffer.data,
                                    writer.buffer.size, error, sizeof error);
    wire_writer_free (&writer);
    snprintf (receipt->by, sizeof receipt->by, "%s", by);
    receipt->ack_deadline = s_mono () + PUSHOVER_CALL_TIMEOUT_MS;
    if (!receipt->ack_ticket)
        log_warn ("receipt %s: acknowledged by %s, but the ack cannot be sent: %s;"
                  " will try again", receipt->receipt, by, error);
}

static receipt_t *
s_receipt_by_ticket (pushover_t *self, uint64_t ticket)
{
    for (receipt_t *receipt = self->receipts; receipt; receipt = receipt->next)
        if (receipt->ack_ticket == ticket)
            return receipt;
    return NULL;
}

//  The broker's replies to our acks; an ack answered (ok or refused: either
//  way we are done) ends the alert's receipts.
static void
s_read_acks (pushover_t *self)
{
    uint64_t ticket;
    wire_doc_t *reply;
    char error [WIRE_ERROR_SIZE + 256];
    int rc;
    while ((rc = ctl_receive (self->ctl, &ticket, &reply, error, sizeof error)) != 0) {
        if (rc != 1)
            continue;
        receipt_t *receipt = s_receipt_by_ticket (self, ticket);
        if (!receipt) {
            wire_doc_destroy (&reply);
            continue;
        }
        ctl_failure_t failure = 0;
        wire_doc_t *ok = ctl_reply_ok (self->ctl, reply, &failure, error, sizeof error);
        if (ok)
            log_info ("%s/%s acknowledged by %s in Pushover (receipt %s)", receipt->source,
                      receipt->id, receipt->by, receipt->receipt);
        else
            log_warn ("%s/%s acknowledged by %s in Pushover, the broker refused the ack: %s",
                      receipt->source, receipt->id, receipt->by, error);
        wire_doc_destroy (&ok);
        s_receipts_forget_alert (self, receipt->source, receipt->id);
    }
}

//  A cancel by tag answered: done (or refused for good), or again later.
static void
s_on_cancelled (const http_response_t *answer, http_call_t *call, void *arg)
{
    receipt_t *receipt = arg;
    pushover_t *self = receipt->owner;
    receipt->call = NULL;
    response_t response = s_response_read (answer, call);
    if (answer->code != CURLE_OK || response.status / 100 == 5 || response.status == 429)
        log_warn ("%s/%s: cancelling the emergency retries (tag %s) failed: %s; will try again",
                  receipt->source, receipt->id, receipt->tag,
                  answer->code != CURLE_OK ? answer->error
                  : response.status == 429 ? "429" : "5xx");
    else {
        char errors [512];
        s_error_text (&response, errors, sizeof errors);
        if (response.status / 100 != 2)
            log_error ("%s/%s: Pushover refused to cancel tag %s (%ld): %s", receipt->source,
                       receipt->id, receipt->tag, response.status, errors);
        else
            log_info ("%s/%s: emergency retries cancelled (tag %s)", receipt->source,
                      receipt->id, receipt->tag);
        s_receipts_forget_alert (self, receipt->source, receipt->id);
    }
    s_response_free (&response);
}

//  Reads a polled receipt's answer: 1 acknowledged (by, device filled),
//  0 not yet, -1 failed (try later), -2 gone for good (expired, unknown).
static int
s_receipt_state (const receipt_t *receipt, const http_response_t *answer,
                 const response_t *response, char *by, size_t by_size,
                 char *device, size_t device_size)
{
    if (answer->code != CURLE_OK || response->status / 100 == 5 || response->status == 429) {
        log_limited (&receipt->owner->log_limit, "receipt %s: %s", receipt->receipt,
                     answer->code != CURLE_OK ? answer->error : "the server failed; will try again");
        return -1;
    }
    if (response->status / 100 != 2) {
        char errors [512];
        s_error_text (response, errors, sizeof errors);
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
        //  acknowledged_by is a user key, a secret: the one we sent to, or a
        //  group member's. Only a name that is not key-shaped is written;
        //  else the device's.
        char hash [17];
        s_hash_hex (user, NULL, hash);
        const char *name = *user && !streq (hash, receipt->user_hash) && wire_name_valid (user)
                           && !s_key_valid (user)
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
s_on_polled (const http_response_t *answer, http_call_t *call, void *arg)
{
    receipt_t *receipt = arg;
    pushover_t *self = receipt->owner;
    receipt->call = NULL;
    response_t response = s_response_read (answer, call);
    char by [WIRE_MAX_NAME + 1], device [WIRE_MAX_NAME + 1] = "";
    int state = s_receipt_state (receipt, answer, &response, by, sizeof by, device, sizeof device);
    s_response_free (&response);
    if (state == 1)
        s_send_ack (self, receipt, by, device);
    else
    if (state == -2)
        s_receipts_forget_alert (self, receipt->source, receipt->id);
}

//  Starts what one due receipt needs: a cancel, a poll, or an ack again.
static void
s_receipt_step (pushover_t *self, receipt_t *receipt, int64_t now)
{
    receipt->next_poll = now + self->receipt_poll_ms;
    if (receipt->cancel && now < self->rate_until) {
        receipt->next_poll = self->rate_until;
        return;
    }
    if (receipt->cancel) {
        char *tag = http_escape (receipt->tag);
        char *url = zsys_sprintf ("%s/receipts/cancel_by_tag/%s.json", self->api, tag);
        form_t form = { 0 };
        s_form_add (&form, "token", self->token);
        receipt->call = s_request (self, url, form.text, s_on_cancelled, receipt);
        s_form_free (&form);
        zstr_free (&url);
        mem_free (tag);
        return;
    }
    if (*receipt->by) {                         //  acknowledged: the broker did not answer
        s_send_ack (self, receipt, receipt->by, "");
        return;
    }
    char *token = http_escape (self->token);
    char *url = zsys_sprintf ("%s/receipts/%s.json?token=%s", self->api, receipt->receipt, token);
    receipt->call = s_request (self, url, NULL, s_on_polled, receipt);
    explicit_bzero (url, strlen (url));
    explicit_bzero (token, strlen (token));
    zstr_free (&url);
    mem_free (token);
}

static void
s_work (void *self_arg, int64_t mono_now)
{
    pushover_t *self = self_arg;
    s_read_acks (self);
    int64_t wall = clock_now_ms ();
    int taken = 0;
    for (receipt_t *receipt = self->receipts, *next; receipt; receipt = next) {
        next = receipt->next;
        if (receipt->ack_ticket && mono_now >= receipt->ack_deadline) {
            log_warn ("receipt %s: acknowledged by %s, but the broker did not answer within"
                      " %d ms; will try again", receipt->receipt, receipt->by,
                      PUSHOVER_CALL_TIMEOUT_MS);
            receipt->ack_ticket = 0;
        }
        if (receipt->call || receipt->ack_ticket || receipt->next_poll > mono_now)
            continue;
        if (wall >= receipt->expires_wall) {
            log_info ("receipt %s (%s/%s): past its expire time, no longer followed",
                      receipt->receipt, receipt->source, receipt->id);
            s_receipt_forget (self, receipt);
            s_receipts_save (self);
            continue;
        }
        if (taken++ < PUSHOVER_POLLS_PER_WORK)
            s_receipt_step (self, receipt, mono_now);
    }
}

static int64_t
s_next_wakeup (void *self_arg, int64_t mono_now)
{
    pushover_t *self = self_arg;
    int64_t wait = -1;
    for (const receipt_t *receipt = self->receipts; receipt; receipt = receipt->next) {
        int64_t due = receipt->ack_ticket ? 50           //  its reply is read in work()
                    : receipt->call ? -1 : receipt->next_poll - mono_now;
        if (receipt->call && !receipt->ack_ticket)
            continue;
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
    .destination_shown = rules_shown_secret,
    .check = s_check,
    .open = s_open,
    .close = s_close,
    .start = s_start,
    .observe = s_observe,
    .work = s_work,
    .next_wakeup = s_next_wakeup,
};
