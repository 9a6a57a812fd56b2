/*  own_alerts.c — a daemon's own alerts at the broker. See own_alerts.h.

    What is kept: the trouble alert as its owner last said (raised or not,
    and its words), whether a clear still has to reach the broker, the one
    submit in flight, and when the next refresh is due. Each turn reads
    the answers and submits when something changed or a refresh is due.
    What a batch carries is decided when it is sent, so a batch that is
    lost is simply followed by the next one with the state of then.
*/
#include <assert.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>
#include "ctl.h"
#include "log.h"
#include "mem.h"
#include "timespec.h"
#include "own_alerts.h"

#define S_PERIOD_MIN_MS    1000
#define S_PERIOD_MAX_MS    (60 * 1000)

struct _own_alerts_t {
    own_settings_t settings;
    char *program, *control;
    char heartbeat_id [OWN_ID_SIZE];
    char trouble_id [OWN_ID_SIZE];     //  "" when there is no trouble alert
    ctl_t *ctl;
    wire_writer_t request;
    int64_t period;                    //  a refresh every
    int64_t next_send;                 //  mono ms: the next batch is due (0: at once)
    uint64_t ticket;                   //  the submit in flight, 0 when none
    int64_t sent_at;                   //  mono ms it went
    bool raised;                       //  the trouble alert, as its owner says
    bool clear_owed;                   //  raised once, and its clear not yet answered
    bool in_flight_clears;             //  the submit in flight carries that clear
    int64_t unsent_since;              //  mono ms: sending has failed since (0: it works)
    bool unsent_said;                  //  ... and the log said so
    bool refused;                      //  the last answer was a refusal
    char summary [OWN_WORDS_SIZE];     //  the trouble's words while raised
    char detail [OWN_WORDS_SIZE];
    log_limit_t log;                   //  the broker's refusals, failed sends
};

//  --- settings ---------------------------------------------------------------------

//  The `source` of a client certificate (lilac keygen always writes one),
//  or NULL; *any_source when its role may claim any (relay, gateway).
static char *
s_cert_source (const char *cert, bool *any_source)
{
    *any_source = false;
    zcert_t *loaded = cert && *cert && access (cert, R_OK) == 0 ? zcert_load (cert) : NULL;
    const char *source = loaded ? zcert_meta (loaded, "source") : NULL;
    const char *role = loaded ? zcert_meta (loaded, "role") : NULL;
    *any_source = role && (streq (role, "relay") || streq (role, "gateway"));
    char *copy = source && wire_name_valid (source) ? mem_strdup (source) : NULL;
    zcert_destroy (&loaded);
    return copy;
}

//  A name setting (own_source, own_name): valid with `after` appended.
static void
s_read_name (config_t *section, const char *key, const char *after, const char *fallback,
             char *out, size_t size, config_report_t *errors)
{
    snprintf (out, size, "%s", fallback);
    config_t *node = section ? config_locate (section, key) : NULL;
    if (!node || !*config_value (node))
        return;
    char id [WIRE_MAX_NAME + 64];
    snprintf (id, sizeof id, "%s%s", config_value (node), after);
    if (wire_name_valid (id) && strlen (config_value (node)) < size)
        snprintf (out, size, "%s", config_value (node));
    else
        config_report_at (errors, node, "%s/%s: '%s' does not make a name (1 to %d bytes of"
                          " UTF-8 without control characters%s%s%s)", config_name (section),
                          key, config_value (node), WIRE_MAX_NAME, *after ? ", with \"" : "",
                          after, *after ? "\" after it" : "");
}

void
own_settings_read (config_t *section, const char *program, const char *cert,
                   own_settings_t *settings, config_report_t *errors)
{
    bool any_source;
    char *cert_source = s_cert_source (cert, &any_source);
    char host [256] = "localhost";
    if (!cert_source && (gethostname (host, sizeof host) != 0 || !*host))
        snprintf (host, sizeof host, "localhost");
    host [sizeof host - 1] = 0;
    s_read_name (section, "own_source", "", cert_source ? cert_source : host,
                 settings->source, sizeof settings->source, errors);
    config_t *node = section ? config_locate (section, "own_source") : NULL;
    if (node && cert_source && !any_source && !streq (settings->source, cert_source))
        config_report_at (errors, node, "%s/own_source: '%s' is not '%s', the source of the"
                          " certificate: the broker would refuse the daemon's own alerts (leave"
                          " own_source out to use the certificate's)", config_name (section),
                          settings->source, cert_source);
    mem_free (cert_source);
    s_read_name (section, "own_name", "/heartbeat", program, settings->name,
                 sizeof settings->name, errors);
    settings->heartbeat_ms = OWN_HEARTBEAT_DEFAULT_MS;
    char error [CONFIG_ERROR_SIZE];
    if (section && config_duration (section, "heartbeat", OWN_HEARTBEAT_DEFAULT_MS,
                                    &settings->heartbeat_ms, error, sizeof error))
        config_report_error (errors, error);
    else
    if (settings->heartbeat_ms != 0 && settings->heartbeat_ms < OWN_HEARTBEAT_MIN_MS) {
        char shown [32];
        config_report_at (errors, config_locate (section, "heartbeat"), "%s/heartbeat: must be"
                          " 0 (off) or at least %s", config_name (section),
                          duration_format (OWN_HEARTBEAT_MIN_MS, shown, (int) sizeof shown));
        settings->heartbeat_ms = OWN_HEARTBEAT_DEFAULT_MS;
    }
}

static int64_t
s_period (const own_settings_t *settings)
{
    int64_t period = settings->heartbeat_ms > 0 ? settings->heartbeat_ms / 5 : S_PERIOD_MAX_MS;
    return period < S_PERIOD_MIN_MS ? S_PERIOD_MIN_MS
         : period > S_PERIOD_MAX_MS ? S_PERIOD_MAX_MS : period;
}

void
own_alerts_id (const own_settings_t *settings, const char *which, char *out, size_t size)
{
    snprintf (out, size, "%s/%s", settings->name, which);
}

void
own_alerts_describe (const own_settings_t *settings, char *out, size_t size)
{
    char heartbeat [32], period [32];
    if (settings->heartbeat_ms <= 0) {
        snprintf (out, size, "no heartbeat (heartbeat = 0)");
        return;
    }
    snprintf (out, size, "%s/%s/heartbeat raises at the broker when %s is not heard from for"
              " %s (refreshed every %s)", settings->source, settings->name, settings->name,
              duration_format (settings->heartbeat_ms, heartbeat, (int) sizeof heartbeat),
              duration_format (s_period (settings), period, (int) sizeof period));
}

//  --- the object ---------------------------------------------------------------------

own_alerts_t *
own_alerts_new (const own_alerts_config_t *config, char *error, size_t error_size)
{
    assert (config && config->settings);
    own_alerts_t *self = mem_alloc (sizeof *self);
    self->settings = *config->settings;
    self->program = mem_strdup (config->program);
    self->control = mem_strdup (config->control);
    own_alerts_id (&self->settings, "heartbeat", self->heartbeat_id, sizeof self->heartbeat_id);
    if (config->trouble)
        own_alerts_id (&self->settings, config->trouble, self->trouble_id,
                       sizeof self->trouble_id);
    self->period = s_period (&self->settings);
    wire_writer_init (&self->request);
    self->ctl = ctl_new (self->control, OWN_ANSWER_DEADLINE_MS, true, error, error_size);
    if (!self->ctl) {
        own_alerts_destroy (&self);
        return NULL;
    }
    return self;
}

void
own_alerts_destroy (own_alerts_t **self_p)
{
    assert (self_p);
    own_alerts_t *self = *self_p;
    if (!self)
        return;
    ctl_destroy (&self->ctl);
    wire_writer_free (&self->request);
    mem_free (self->program);
    mem_free (self->control);
    mem_free (self);
    *self_p = NULL;
}

zsock_t *
own_alerts_socket (own_alerts_t *self)
{
    assert (self);
    return ctl_socket (self->ctl);
}

void
own_alerts_trouble (own_alerts_t *self, bool raised, const char *summary, const char *detail)
{
    assert (self && *self->trouble_id);
    if (raised) {
        snprintf (self->summary, sizeof self->summary, "%s", summary ? summary : "");
        snprintf (self->detail, sizeof self->detail, "%s", detail ? detail : "");
        if (self->raised) {
            log_debug ("%s/%s, at the next refresh: %s", self->settings.source,
                       self->trouble_id, self->summary);
            return;
        }
        log_error ("telling the broker: %s/%s raised: %s", self->settings.source,
                   self->trouble_id, self->summary);
        self->raised = self->clear_owed = true;
        self->next_send = 0;
    }
    else
    if (self->raised) {
        log_info ("telling the broker: %s/%s cleared", self->settings.source, self->trouble_id);
        self->raised = false;
        self->next_send = 0;
    }
}

//  --- submitting ---------------------------------------------------------------------

static void
s_pack_common (msgpack_packer *packer, const char *id, const char *raise, size_t pairs)
{
    msgpack_pack_map (packer, pairs);
    wire_pack_key_string (packer, "id", id);
    wire_pack_key_string (packer, "raise", raise);
}

static void
s_pack_heartbeat (own_alerts_t *self, msgpack_packer *packer)
{
    char raise [32], heartbeat [32], period [32], summary [512], detail [1024];
    snprintf (raise, sizeof raise, "+%" PRId64, (self->settings.heartbeat_ms + 999) / 1000);
    duration_format (self->settings.heartbeat_ms, heartbeat, (int) sizeof heartbeat);
    duration_format (self->period, period, (int) sizeof period);
    snprintf (summary, sizeof summary, "%s stopped: not heard from for %s", self->program,
              heartbeat);
    snprintf (detail, sizeof detail, "%s refreshes this alert every %s through the broker's"
              " control socket (%s). It raises when that has not happened for %s: %s died,"
              " was stopped, hangs, or cannot reach the broker.",
              self->program, period, self->control, heartbeat, self->program);
    s_pack_common (packer, self->heartbeat_id, raise, 6);
    wire_pack_key_string (packer, "level", "urgent");
    wire_pack_key_string (packer, "subject", self->program);
    wire_pack_key_string (packer, "summary", summary);
    wire_pack_key_string (packer, "detail", detail);
}

static void
s_pack_trouble (own_alerts_t *self, msgpack_packer *packer)
{
    if (!self->raised) {
        s_pack_common (packer, self->trouble_id, "clear", 2);
        return;
    }
    char clear [32];
    snprintf (clear, sizeof clear, "+%" PRId64, (3 * self->period + 999) / 1000);
    s_pack_common (packer, self->trouble_id, "now", 7);
    wire_pack_key_string (packer, "clear", clear);
    wire_pack_key_string (packer, "level", "urgent");
    wire_pack_key_string (packer, "subject", self->program);
    wire_pack_key_string (packer, "summary", self->summary);
    wire_pack_key_string (packer, "detail", self->detail);
}

//  The batch as things stand: the heartbeat, and the trouble alert while
//  raised or owed a clear. False when there is nothing to say.
static bool
s_pack_batch (own_alerts_t *self)
{
    bool heartbeat = self->settings.heartbeat_ms > 0;
    bool trouble = self->raised || self->clear_owed;
    if (!heartbeat && !trouble)
        return false;
    char tx [WIRE_TX_SIZE];
    if (wire_make_tx (tx, sizeof tx))
        return false;
    wire_writer_reset (&self->request);
    msgpack_packer *packer = &self->request.packer;
    msgpack_pack_map (packer, 5);
    wire_pack_key_int (packer, "v", WIRE_VERSION);
    wire_pack_key_string (packer, "op", "submit");
    wire_pack_key_string (packer, "tx", tx);
    wire_pack_key_string (packer, "source", self->settings.source);
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, (size_t) heartbeat + (size_t) trouble);
    if (heartbeat)
        s_pack_heartbeat (self, packer);
    if (trouble)
        s_pack_trouble (self, packer);
    self->in_flight_clears = trouble && !self->raised;
    return true;
}

static void
s_send (own_alerts_t *self, int64_t mono_now)
{
    if (!s_pack_batch (self)) {
        self->next_send = mono_now + self->period;
        return;
    }
    char error [512];
    self->ticket = ctl_send (self->ctl, self->request.buffer.data, self->request.buffer.size,
                             error, sizeof error);
    if (!self->ticket) {
        //  Nobody connected: at start, or while the broker is away. Said
        //  once it lasts.
        if (!self->unsent_since)
            self->unsent_since = mono_now;
        if (!self->unsent_said && mono_now - self->unsent_since >= OWN_ANSWER_DEADLINE_MS) {
            log_warn ("cannot tell the broker at %s about %s for %d ms: %s", self->control,
                      self->program, OWN_ANSWER_DEADLINE_MS, error);
            self->unsent_said = true;
        }
        self->next_send = mono_now + OWN_RETRY_MS;
        return;
    }
    if (self->unsent_said)
        log_info ("telling the broker at %s about %s again", self->control, self->program);
    self->unsent_since = 0;
    self->unsent_said = false;
    self->sent_at = mono_now;
    self->next_send = mono_now + self->period;
}

//  The answer to the submit in flight.
static void
s_answered (own_alerts_t *self, const ctl_submit_reply_t *answer, int64_t mono_now)
{
    self->ticket = 0;
    if (!answer->ok) {
        //  A degraded broker says when to come back; a refusal of the
        //  source (CURVE) lasts until the config changes: said as an error
        //  once, then as the limit allows, and tried again every period.
        if (!self->refused)
            log_error ("the broker at %s refused the own alerts of %s (%s/%s), so nobody"
                       " hears if it stops: %s", self->control, self->program,
                       self->settings.source, self->heartbeat_id, answer->error);
        else
            log_limited (&self->log, "the broker at %s refused the own alerts of %s (%s/%s):"
                         " %s", self->control, self->program, self->settings.source,
                         self->heartbeat_id, answer->error);
        self->refused = true;
        self->next_send = mono_now + (answer->retry_after > 0 ? answer->retry_after
                                                               : self->period);
        return;
    }
    if (self->refused)
        log_info ("the broker at %s takes the own alerts of %s again", self->control,
                  self->program);
    self->refused = false;
    for (size_t index = 0; index < answer->refused_count && index < CTL_MAX_REFUSED; index++)
        log_limited (&self->log, "the broker refused the alert %s/%s of %s: %s",
                     self->settings.source, answer->refused [index].id, self->program,
                     answer->refused [index].reason);
    if (self->in_flight_clears && !self->raised)
        self->clear_owed = false;
}

static void
s_read_answers (own_alerts_t *self, int64_t mono_now)
{
    uint64_t ticket;
    wire_doc_t *reply = NULL;
    char error [512] = "not [empty, ticket, body]";
    int rc;
    while ((rc = ctl_receive (self->ctl, &ticket, &reply, error, sizeof error)) != 0) {
        ctl_submit_reply_t answer;
        if (rc == 1 && ticket == self->ticket
        &&  ctl_submit_decode (reply, &answer, error, sizeof error) == 0)
            s_answered (self, &answer, mono_now);
        else
        if (rc != 1 || ticket == self->ticket)
            log_limited (&self->log, "a bad answer from %s: %s", self->control, error);
        wire_doc_destroy (&reply);
    }
    if (self->ticket && mono_now - self->sent_at >= OWN_ANSWER_DEADLINE_MS) {
        log_limited (&self->log, "no answer from the broker at %s within %d ms to the own"
                     " alerts of %s: sending them again", self->control,
                     OWN_ANSWER_DEADLINE_MS, self->program);
        self->ticket = 0;
        self->next_send = mono_now;
    }
}

void
own_alerts_work (own_alerts_t *self, int64_t mono_now)
{
    assert (self);
    s_read_answers (self, mono_now);
    if (!self->ticket && mono_now >= self->next_send)
        s_send (self, mono_now);
}

void
own_alerts_stopping (own_alerts_t *self)
{
    assert (self);
    char heartbeat [32];
    if (self->settings.heartbeat_ms > 0)
        log_info ("%s/%s raises at the broker in %s unless %s is back", self->settings.source,
                  self->heartbeat_id, duration_format (self->settings.heartbeat_ms, heartbeat,
                                                       (int) sizeof heartbeat), self->program);
}

int64_t
own_alerts_next_wakeup (own_alerts_t *self, int64_t mono_now)
{
    assert (self);
    int64_t wait = self->ticket ? self->sent_at + OWN_ANSWER_DEADLINE_MS - mono_now
                                : self->next_send - mono_now;
    return wait < 0 ? 0 : wait;
}
