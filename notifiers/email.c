/*  email.c — the e-mail destination of bin/lilac-notify-email: a message
    per rule action (or a digest of several), submitted over SMTP through
    libcurl (http.h) without waiting.

    Config (section `email`; a rule may name its own `to`):
      url        = smtp://mail.example.org:587   smtp:// (STARTTLS) or smtps://
      starttls   = yes      smtp:// only: yes refuses to send without TLS;
                            no sends in the clear (a local relay)
      username, password, password_file, $LILAC_SMTP_PASSWORD   AUTH
      ca_file    = /etc/ssl/certs/ca-certificates.crt   trust these CAs
      from       = "lilac <lilac@example.org>"
      to         = "ops@example.org, oncall@example.org"   the default list
      subject    = "[lilac] {EVENT} {subject}: {summary}"   template
      body       = "..."    template (mail_message.h names the placeholders)
      url_base   = https://lilac.example.org   each message links its alert
      domain     = example.org   right side of Message-IDs (default: from's)
      timeout    = 30s      one submission, whole
      retry_for  = 1h       a failing delivery is given up after this
      group_wait = 0        > 0: changes to one address list within this
                            go out as one digest message

    The message itself is mail_message.c's: RFC 5322 headers, threading
    per alert (In-Reply-To and References to the alert's root), UTF-8 as
    quoted-printable where needed. libcurl dot-stuffs the body.

    Outcome: a submission the server accepted is DELIVERED. A 4xx reply,
    a network failure or a timeout is RETRY; a 5xx reply is GIVE_UP,
    logged with the server's own words (its last reply line). A digest's
    deliveries share their message's outcome.

    Digests. With group_wait, each address list (a lane of the delivery
    core, up to EMAIL_DIGEST_WINDOW changes at once) collects what starts
    within group_wait of its first change, then sends them as one message.
    Two changes of one alert are never in one digest (the core holds the
    second until the first is finished): the clear of an alert raised in
    a digest comes in the next one.
*/
#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "error_text.h"
#include "log.h"
#include "mem.h"
#include "email.h"
#include "mail_message.h"
#include "secret.h"

#define EMAIL_TIMEOUT_DEFAULT_MS    (30 * 1000)
#define EMAIL_RETRY_FOR_DEFAULT_MS  (60 * 60 * 1000)
#define EMAIL_DIGEST_WINDOW         64      //  changes of one address list at once
#define EMAIL_REPLY_SHOWN           300     //  bytes of the server's words logged
#define EMAIL_TIMEOUT_MAX_MS        (60 * 60 * 1000)            //  bounds of the settings
#define EMAIL_RETRY_FOR_MAX_MS      (30LL * 24 * 60 * 60 * 1000)
#define EMAIL_GROUP_WAIT_MAX_MS     (24 * 60 * 60 * 1000)

static const char *const s_section_keys [] = {
    "url", "starttls", "username", "password", "password_file", "ca_file", "from", "to",
    "subject", "body", "url_base", "domain", "timeout", "retry_for", "group_wait", NULL
};
static const char *const s_rule_keys [] = { "to", NULL };

typedef struct _email_t email_t;

//  One message on its way: its deliveries (one, or a digest's).
typedef struct _batch_t batch_t;
struct _batch_t {
    email_t *owner;
    char *to;                          //  the address list (the lane)
    delivery_t *deliveries [EMAIL_DIGEST_WINDOW];
    size_t count;
    int64_t send_at;                   //  mono ms (group_wait after the first)
    http_call_t *call;                 //  the submission, once sent
    batch_t *prev, *next;
};

struct _email_t {
    http_t *http;
    char *url, *username, *password, *ca_file, *from, *to, *url_base, *domain;
    char from_address [MAIL_ADDRESS_SIZE];
    bool require_tls;
    mail_template_t *subject, *body;
    int64_t timeout_ms;
    int64_t retry_for_ms;
    int64_t group_wait_ms;
    char hostname [256];
    batch_t *batches;                  //  collecting or sending
};

//  --- config -------------------------------------------------------------------------

//  "FILE:LINE: email/KEY: " + why, for a key of section.
static int
s_key_error (config_t *section, const char *key, char *error, size_t error_size,
             const char *why)
{
    char where [512];
    config_key_where (section, "email", key, where, sizeof where);
    return error_text (error, error_size, -1, "%s: %s", where, why);
}

//  A template of the section, or NULL (the default). 0 / -1.
static int
s_template (config_t *section, const char *key, mail_template_t **template,
            char *error, size_t error_size)
{
    const char *text = NULL;
    *template = NULL;
    if (section)
        config_string (section, key, NULL, &text);
    if (!text || !*text)
        return 0;
    char why [256];
    *template = mail_template_new (text, why, sizeof why);
    return *template ? 0 : s_key_error (section, key, error, error_size, why);
}

//  An address list: 0, or -1 with why.
static int
s_check_list (const char *list, char *why, size_t why_size)
{
    char (*addresses) [MAIL_ADDRESS_SIZE] = mem_alloc (MAIL_RECIPIENTS_MAX * MAIL_ADDRESS_SIZE);
    int count = mail_address_list (list, addresses, MAIL_RECIPIENTS_MAX, why, why_size);
    mem_free (addresses);
    return count > 0 ? 0 : -1;
}

static void s_close (void **self_p);

//  Reading the section, in steps (shared by check and open): each reads
//  its keys into self and returns 0, or -1 with "FILE:LINE: email/KEY:
//  why" in error. Open stops at the first failing step; the check runs
//  them all, so -n names every problem at once.
typedef int (s_step_fn) (email_t *self, config_t *section, bool quiet,
                         char *error, size_t error_size);

static int
s_read_times (email_t *self, config_t *section, bool quiet, char *error, size_t error_size)
{
    (void) quiet;
    self->timeout_ms = EMAIL_TIMEOUT_DEFAULT_MS;
    self->retry_for_ms = EMAIL_RETRY_FOR_DEFAULT_MS;
    self->require_tls = true;
    if (!section)
        return 0;
    if (config_duration (section, "timeout", EMAIL_TIMEOUT_DEFAULT_MS, &self->timeout_ms,
                         error, error_size)
    ||  config_duration (section, "retry_for", EMAIL_RETRY_FOR_DEFAULT_MS,
                         &self->retry_for_ms, error, error_size)
    ||  config_duration (section, "group_wait", 0, &self->group_wait_ms, error, error_size)
    ||  config_boolean (section, "starttls", true, &self->require_tls, error, error_size))
        return -1;
    if (self->timeout_ms <= 0 || self->timeout_ms > EMAIL_TIMEOUT_MAX_MS)
        return s_key_error (section, "timeout", error, error_size, "must be more than 0, at most 1h");
    if (self->retry_for_ms < 0 || self->retry_for_ms > EMAIL_RETRY_FOR_MAX_MS)
        return s_key_error (section, "retry_for", error, error_size, "must be 0 to 30d");
    if (self->group_wait_ms < 0 || self->group_wait_ms > EMAIL_GROUP_WAIT_MAX_MS)
        return s_key_error (section, "group_wait", error, error_size, "must be 0 to 1d");
    return 0;
}

//  The server's URL as logs show it: without user:password@ (a password
//  belongs in password_file, but a URL may carry one).
static void
s_url_shown (const char *url, char *out, size_t size)
{
    const char *host = strstr (url, "://");
    const char *at = host ? strchr (host + 3, '@') : NULL;
    const char *slash = host ? strchr (host + 3, '/') : NULL;
    if (at && (!slash || at < slash))
        snprintf (out, size, "%.*s…@%s", (int) (host + 3 - url), url, at + 1);
    else
        snprintf (out, size, "%s", url);
}

static int
s_read_server (email_t *self, config_t *section, bool quiet, char *error, size_t error_size)
{
    (void) quiet;
    self->url = config_string_copy (section, "url");
    if (!self->url)
        return s_key_error (section, "url", error, error_size,
                            "no SMTP server: set url = smtp://HOST:587 or smtps://HOST:465");
    if (strncasecmp (self->url, "smtp://", 7) != 0 && strncasecmp (self->url, "smtps://", 8) != 0)
        return s_key_error (section, "url", error, error_size,
                            "an SMTP URL starts with smtp:// or smtps://");
    self->ca_file = config_string_copy (section, "ca_file");
    self->url_base = config_string_copy (section, "url_base");
    self->domain = config_string_copy (section, "domain");
    return 0;
}

static int
s_read_sender (email_t *self, config_t *section, bool quiet, char *error, size_t error_size)
{
    (void) quiet;
    char why [256];
    self->from = config_string_copy (section, "from");
    if (!self->from)
        return s_key_error (section, "from", error, error_size, "no sender: set from");
    if (mail_address (self->from, self->from_address, sizeof self->from_address, why, sizeof why))
        return s_key_error (section, "from", error, error_size, why);
    return 0;
}

static int
s_read_recipients (email_t *self, config_t *section, bool quiet, char *error, size_t error_size)
{
    (void) quiet;
    char why [256];
    self->to = config_string_copy (section, "to");
    if (self->to && s_check_list (self->to, why, sizeof why))
        return s_key_error (section, "to", error, error_size, why);
    return 0;
}

static int
s_read_login (email_t *self, config_t *section, bool quiet, char *error, size_t error_size)
{
    self->username = config_string_copy (section, "username");
    if (secret_read (section, "password", "password_file", "LILAC_SMTP_PASSWORD", quiet,
                     &self->password, error, error_size))
        return -1;
    if (self->password && !self->username)
        return s_key_error (section, "password", error, error_size,
                            "a password without a username");
    return 0;
}

static int
s_read_subject (email_t *self, config_t *section, bool quiet, char *error, size_t error_size)
{
    (void) quiet;
    return s_template (section, "subject", &self->subject, error, error_size);
}

static int
s_read_body (email_t *self, config_t *section, bool quiet, char *error, size_t error_size)
{
    (void) quiet;
    return s_template (section, "body", &self->body, error, error_size);
}

static s_step_fn *const s_steps [] = {
    s_read_times, s_read_server, s_read_sender, s_read_recipients, s_read_login,
    s_read_subject, s_read_body
};
#define S_STEPS (sizeof s_steps / sizeof s_steps [0])

//  Every step, as open needs them. 0 / -1 (the first error).
static int
s_read (email_t *self, config_t *section, char *error, size_t error_size)
{
    for (size_t index = 0; index < S_STEPS; index++)
        if (s_steps [index] (self, section, false, error, error_size))
            return -1;
    if (strncasecmp (self->url, "smtps://", 8) == 0)
        self->require_tls = false;     //  TLS from the first byte already
    return 0;
}

static void
s_check (config_t *root, config_report_t *errors)
{
    config_t *section = config_locate (root, "email");
    email_t probe = { 0 };
    char error [CONFIG_ERROR_SIZE + 512];
    for (size_t index = 0; index < S_STEPS; index++)
        if (s_steps [index] (&probe, section, true, error, sizeof error))
            config_report_error (errors, error);
    for (config_t *rule = config_child (root); rule; rule = config_next (rule)) {
        if (strcmp (config_name (rule), "rule") != 0)
            continue;
        config_t *to = config_locate (rule, "to");
        char why [256];
        if (to && s_check_list (config_value (to), why, sizeof why))
            config_report_at (errors, to, "rule %s: to: %s", config_value (rule), why);
        else
        if (!to && !probe.to)
            config_report_at (errors, rule, "rule %s has no `to`, and section email has none:"
                              " it could never notify", config_value (rule));
    }
    void *opened = mem_alloc (sizeof (email_t));
    memcpy (opened, &probe, sizeof probe);
    s_close (&opened);
}

static void *
s_open (config_t *section, notifier_env_t *env, char *error, size_t error_size)
{
    email_t *self = mem_alloc (sizeof *self);
    self->http = env->http;
    if (s_read (self, section, error, error_size)) {
        void *opened = self;
        s_close (&opened);
        return NULL;
    }
    env->retry_for_ms = self->retry_for_ms;
    if (self->group_wait_ms > 0)
        env->lane_window = EMAIL_DIGEST_WINDOW;
    if (gethostname (self->hostname, sizeof self->hostname) != 0)
        snprintf (self->hostname, sizeof self->hostname, "localhost");
    self->hostname [sizeof self->hostname - 1] = 0;
    char shown [512];
    s_url_shown (self->url, shown, sizeof shown);
    log_info ("SMTP %s%s, from %s, timeout %" PRId64 " ms%s", shown,
              self->require_tls ? " (STARTTLS required)" : "", self->from_address,
              self->timeout_ms, self->group_wait_ms > 0 ? ", digests" : "");
    return self;
}

static void
s_batch_free (email_t *self, batch_t *batch)
{
    if (batch->prev)
        batch->prev->next = batch->next;
    else
        self->batches = batch->next;
    if (batch->next)
        batch->next->prev = batch->prev;
    http_cancel (self->http, batch->call);
    mem_free (batch->to);
    mem_free (batch);
}

static void
s_close (void **self_p)
{
    assert (self_p);
    email_t *self = *self_p;
    if (!self)
        return;
    while (self->batches)               //  not finished: the core is closing
        s_batch_free (self, self->batches);
    secret_free (&self->password);
    mem_free (self->url);
    mem_free (self->username);
    mem_free (self->ca_file);
    mem_free (self->from);
    mem_free (self->to);
    mem_free (self->url_base);
    mem_free (self->domain);
    mail_template_destroy (&self->subject);
    mail_template_destroy (&self->body);
    mem_free (self);
    *self_p = NULL;
}

//  --- sending ------------------------------------------------------------------------

//  The server's last reply line, printable, for a log line.
static void
s_server_words (const http_response_t *response, char *out, size_t size)
{
    const char *text = response->replies ? response->replies : "";
    size_t length = strlen (text);
    while (length && (text [length - 1] == '\n' || text [length - 1] == '\r'))
        length--;
    size_t start = length;
    while (start && text [start - 1] != '\n')
        start--;
    size_t used = 0;
    for (size_t index = start; index < length && used + 1 < size
                               && used < EMAIL_REPLY_SHOWN; index++) {
        unsigned char byte = (unsigned char) text [index];
        out [used++] = byte < 0x20 || byte == 0x7f ? ' ' : (char) byte;
    }
    out [used] = 0;
}

static void
s_finish_all (batch_t *batch, delivery_result_t result, const char *why)
{
    for (size_t index = 0; index < batch->count; index++)
        delivery_finish (batch->deliveries [index], result, 0, "%s", why);
}

static void
s_on_submitted (const http_response_t *response, http_call_t *call, void *arg)
{
    (void) call;
    batch_t *batch = arg;
    char words [EMAIL_REPLY_SHOWN + 1], why [EMAIL_REPLY_SHOWN + CURL_ERROR_SIZE + 64];
    s_server_words (response, words, sizeof words);
    batch->call = NULL;
    if (response->code == CURLE_OK) {
        snprintf (why, sizeof why, "%s%s", batch->count > 1 ? "in a digest; " : "", words);
        s_finish_all (batch, DELIVERY_DELIVERED, why);
    }
    else {
        snprintf (why, sizeof why, "%s (the server said: %s)", response->error, words);
        //  A 5xx, or a server without the TLS we require: retrying cannot help
        bool permanent = (response->status >= 500 && response->status < 600)
                      || response->code == CURLE_USE_SSL_FAILED;
        s_finish_all (batch, permanent ? DELIVERY_GIVE_UP : DELIVERY_RETRY, why);
    }
    s_batch_free (batch->owner, batch);
}

//  Builds the batch's message and submits it.
static void
s_send (email_t *self, batch_t *batch)
{
    mail_item_t items [EMAIL_DIGEST_WINDOW];
    for (size_t index = 0; index < batch->count; index++)
        items [index] = (mail_item_t) { delivery_change (batch->deliveries [index]),
                                        delivery_action (batch->deliveries [index]) };
    mail_settings_t settings = {
        .from = self->from, .to = batch->to, .subject = self->subject, .body = self->body,
        .url_base = self->url_base, .domain = self->domain, .hostname = self->hostname
    };
    char error [512];
    size_t size = 0;
    char *message = mail_message_build (&settings, items, batch->count, zclock_time (), &size,
                                        error, sizeof error);
    bool permanent = message == NULL;          //  the message cannot be built: never will
    char (*rcpt) [MAIL_ADDRESS_SIZE] = mem_alloc (MAIL_RECIPIENTS_MAX * MAIL_ADDRESS_SIZE);
    int count = message ? mail_address_list (batch->to, rcpt, MAIL_RECIPIENTS_MAX,
                                             error, sizeof error) : -1;
    if (count < 0 || count > HTTP_MAX_RCPT)    //  checked at load: a list never sent short
        permanent = true;
    const char *recipients [HTTP_MAX_RCPT];
    for (int index = 0; index < count && index < HTTP_MAX_RCPT; index++)
        recipients [index] = rcpt [index];
    http_request_t request = {
        .url = self->url, .body = message, .body_size = size, .username = self->username,
        .password = self->password, .timeout_ms = self->timeout_ms,
        .mail_from = self->from_address, .mail_rcpt = recipients,
        .rcpt_count = count > 0 && count <= HTTP_MAX_RCPT ? (size_t) count : 0,
        .require_tls = self->require_tls, .ca_file = self->ca_file
    };
    if (!permanent)
        batch->call = http_start (self->http, &request, s_on_submitted, batch, error, sizeof error);
    free (message);
    mem_free (rcpt);
    if (!batch->call) {                //  else a local failure (fork, pipe): again later
        s_finish_all (batch, permanent ? DELIVERY_GIVE_UP : DELIVERY_RETRY, error);
        s_batch_free (self, batch);
    }
}

//  The batch still collecting for this address list, or NULL.
static batch_t *
s_collecting (email_t *self, const char *to)
{
    for (batch_t *batch = self->batches; batch; batch = batch->next)
        if (!batch->call && batch->count < EMAIL_DIGEST_WINDOW && streq (batch->to, to))
            return batch;
    return NULL;
}

static void
s_start (void *self_arg, delivery_t *delivery)
{
    email_t *self = self_arg;
    const rule_action_t *action = delivery_action (delivery);
    const char *to = NULL;
    if (action->settings)
        config_string (action->settings, "to", NULL, &to);
    if (!to || !*to)
        to = self->to;
    if (!to) {
        delivery_finish (delivery, DELIVERY_GIVE_UP, 0, "no `to` in the rule or section email");
        return;
    }
    batch_t *batch = self->group_wait_ms > 0 ? s_collecting (self, to) : NULL;
    if (!batch) {
        batch = mem_alloc (sizeof *batch);
        batch->owner = self;
        batch->to = mem_strdup (to);
        batch->send_at = zclock_mono () + self->group_wait_ms;
        batch->next = self->batches;
        if (self->batches)
            self->batches->prev = batch;
        self->batches = batch;
    }
    batch->deliveries [batch->count++] = delivery;
    if (self->group_wait_ms <= 0)
        s_send (self, batch);
}

//  Digests whose group_wait is over go out.
static void
s_work (void *self_arg, int64_t mono_now)
{
    email_t *self = self_arg;
    for (batch_t *batch = self->batches, *next; batch; batch = next) {
        next = batch->next;
        if (!batch->call && mono_now >= batch->send_at)
            s_send (self, batch);
    }
}

static int64_t
s_next_wakeup (void *self_arg, int64_t mono_now)
{
    email_t *self = self_arg;
    int64_t wait = -1;
    for (batch_t *batch = self->batches; batch; batch = batch->next)
        if (!batch->call) {
            int64_t left = batch->send_at > mono_now ? batch->send_at - mono_now : 0;
            if (wait < 0 || left < wait)
                wait = left;
        }
    return wait;
}

const destination_class_t email_destination = {
    .program = "lilac-notify-email",
    .section = "email",
    .section_keys = s_section_keys,
    .rule_keys = s_rule_keys,
    .destination_key = "to",
    .check = s_check,
    .open = s_open,
    .close = s_close,
    .start = s_start,
    .work = s_work,
    .next_wakeup = s_next_wakeup,
};
