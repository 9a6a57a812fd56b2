/*  own_alerts.c — a notifier's own alerts at the broker. See own_alerts.h.

    What is kept: the delivery alert as the notifier last decided it
    (raised or not, and its words), whether a clear still has to reach the
    broker, the one submit in flight, and when the next refresh is due.
    Each turn reads the answers, decides the delivery alert from the core's
    troubles, and submits when something changed or a refresh is due.
    What a batch carries is decided when it is sent, so a batch that is
    lost is simply followed by the next one with the state of then: no
    queue of old states is kept.
*/
#include <assert.h>
#include <inttypes.h>
#include <string.h>
#include "ctl.h"
#include "log.h"
#include "mem.h"
#include "timespec.h"
#include "own_alerts.h"

#define S_PERIOD_MIN_MS    1000
#define S_PERIOD_MAX_MS    (60 * 1000)
#define S_WORDS_SIZE       2048

struct _own_alerts_t {
    own_alerts_config_t config;        //  strings owned by the fields below
    char *program, *name, *source, *control;
    char heartbeat_id [WIRE_MAX_NAME + 1];
    char delivery_id [WIRE_MAX_NAME + 1];
    ctl_t *ctl;
    wire_writer_t request;
    int64_t period;                    //  a refresh every
    int64_t next_send;                 //  mono ms: the next batch is due (0: at once)
    uint64_t ticket;                   //  the submit in flight, 0 when none
    int64_t sent_at;                   //  mono ms it went
    bool raised;                       //  the delivery alert, as decided
    bool clear_owed;                   //  raised once, and its clear not yet answered
    bool in_flight_clears;             //  the submit in flight carries that clear
    int64_t unsent_since;              //  mono ms: sending has failed since (0: it works)
    bool unsent_said;                  //  ... and the log said so
    bool refused;                      //  the last answer was a refusal
    char lane [DELIVERY_LANE_SHOWN];   //  the words are about this lane
    size_t given_up;                   //  ... and this many notifications given up
    char summary [S_WORDS_SIZE];
    char detail [S_WORDS_SIZE];
    log_limit_t log;                   //  the broker's refusals, failed sends
};

static int64_t
s_period (const own_alerts_config_t *config)
{
    int64_t period = config->heartbeat_ms > 0 ? config->heartbeat_ms / 5 : S_PERIOD_MAX_MS;
    return period < S_PERIOD_MIN_MS ? S_PERIOD_MIN_MS
         : period > S_PERIOD_MAX_MS ? S_PERIOD_MAX_MS : period;
}

void
own_alerts_describe (const own_alerts_config_t *config, char *out, size_t size)
{
    char heartbeat [32], alarm [32], period [32];
    duration_format (config->heartbeat_ms, heartbeat, (int) sizeof heartbeat);
    duration_format (config->alarm_ms, alarm, (int) sizeof alarm);
    duration_format (s_period (config), period, (int) sizeof period);
    int used = 0;
    if (config->heartbeat_ms > 0)
        used = snprintf (out, size, "%s/%s/heartbeat raises at the broker when this notifier"
                         " is not heard from for %s (refreshed every %s)", config->source,
                         config->name, heartbeat, period);
    if (config->alarm_ms > 0 && used >= 0 && (size_t) used < size)
        snprintf (out + used, size - (size_t) used, "%s%s/%s/delivery raises when a destination"
                  " fails for %s or a notification is given up", used ? "; " : "",
                  config->source, config->name, alarm);
    else
    if (used == 0)
        snprintf (out, size, "none (heartbeat and delivery_alarm are 0)");
}

own_alerts_t *
own_alerts_new (const own_alerts_config_t *config, char *error, size_t error_size)
{
    assert (config && config->deliveries);
    own_alerts_t *self = mem_alloc (sizeof *self);
    self->program = mem_strdup (config->program);
    self->name = mem_strdup (config->name);
    self->source = mem_strdup (config->source);
    self->control = mem_strdup (config->control);
    self->config = *config;
    self->config.program = self->program;
    self->config.name = self->name;
    self->config.source = self->source;
    self->config.control = self->control;
    snprintf (self->heartbeat_id, sizeof self->heartbeat_id, "%s/heartbeat", self->name);
    snprintf (self->delivery_id, sizeof self->delivery_id, "%s/delivery", self->name);
    self->period = s_period (config);
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
    mem_free (self->name);
    mem_free (self->source);
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

//  --- deciding ---------------------------------------------------------------------

//  The delivery alert's words for trouble (worst lane) at mono_now.
static void
s_words (own_alerts_t *self, const delivery_trouble_t *trouble, size_t lanes, int64_t mono_now)
{
    char since [40];
    time_format (clock_now_ms () - (mono_now - trouble->failing_since), since, (int) sizeof since);
    if (trouble->given_up > 0)
        snprintf (self->summary, sizeof self->summary, "%s gave up %zu notification%s to %s: %s",
                  self->program, trouble->given_up, trouble->given_up == 1 ? "" : "s",
                  trouble->lane, trouble->reason);
    else
        snprintf (self->summary, sizeof self->summary, "%s cannot deliver to %s: %s",
                  self->program, trouble->lane, trouble->reason);
    snprintf (self->detail, sizeof self->detail,
              "%s has failed to deliver to %s since %s (%zu destination%s in trouble)."
              " The last notification given up: %s. It retries a failing delivery and gives"
              " it up after its retry time; this alert clears once every destination has"
              " delivered again. Its log says every attempt.",
              self->program, trouble->lane, since, lanes, lanes == 1 ? "" : "s",
              *trouble->lost ? trouble->lost : "none");
}

//  Raised while a lane has given up a delivery, or has failed for the
//  alarm's time. Raising and clearing make a batch due at once; new words
//  while raised (another lane is the worst, more notifications given up)
//  go with the next refresh, so a thousand give-ups are one update a
//  period at the broker, not a thousand.
static void
s_decide (own_alerts_t *self, int64_t mono_now)
{
    if (self->config.alarm_ms <= 0)
        return;
    delivery_trouble_t worst;
    size_t lanes = deliveries_trouble (self->config.deliveries, &worst);
    bool raise = lanes > 0
              && (worst.given_up > 0 || mono_now - worst.failing_since >= self->config.alarm_ms);
    if (raise && (!self->raised || worst.given_up != self->given_up
                  || strcmp (worst.lane, self->lane) != 0)) {
        s_words (self, &worst, lanes, mono_now);
        snprintf (self->lane, sizeof self->lane, "%s", worst.lane);
        self->given_up = worst.given_up;
        if (self->raised) {
            log_debug ("%s/%s, at the next refresh: %s", self->source, self->delivery_id,
                       self->summary);
            return;
        }
        log_error ("telling the broker: %s/%s raised: %s", self->source, self->delivery_id,
                   self->summary);
        self->raised = self->clear_owed = true;
        self->next_send = 0;
    }
    else
    if (!raise && self->raised) {
        log_info ("telling the broker: %s/%s cleared: every destination delivers again",
                  self->source, self->delivery_id);
        self->raised = false;
        *self->lane = 0;
        self->given_up = 0;
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
    snprintf (raise, sizeof raise, "+%" PRId64, (self->config.heartbeat_ms + 999) / 1000);
    duration_format (self->config.heartbeat_ms, heartbeat, (int) sizeof heartbeat);
    duration_format (self->period, period, (int) sizeof period);
    snprintf (summary, sizeof summary, "%s stopped: not heard from for %s, its notifications"
              " are not sent", self->program, heartbeat);
    snprintf (detail, sizeof detail, "%s refreshes this alert every %s through the broker's"
              " control socket (%s). It raises when that has not happened for %s: the"
              " notifier died, was stopped, hangs, or cannot reach the broker.",
              self->program, period, self->control, heartbeat);
    s_pack_common (packer, self->heartbeat_id, raise, 6);
    wire_pack_key_string (packer, "level", "urgent");
    wire_pack_key_string (packer, "subject", self->program);
    wire_pack_key_string (packer, "summary", summary);
    wire_pack_key_string (packer, "detail", detail);
}

static void
s_pack_delivery (own_alerts_t *self, msgpack_packer *packer)
{
    if (!self->raised) {
        s_pack_common (packer, self->delivery_id, "clear", 2);
        return;
    }
    char clear [32];
    snprintf (clear, sizeof clear, "+%" PRId64, (3 * self->period + 999) / 1000);
    s_pack_common (packer, self->delivery_id, "now", 7);
    wire_pack_key_string (packer, "clear", clear);
    wire_pack_key_string (packer, "level", "urgent");
    wire_pack_key_string (packer, "subject", self->program);
    wire_pack_key_string (packer, "summary", self->summary);
    wire_pack_key_string (packer, "detail", self->detail);
}

//  The batch as things stand: the heartbeat, and the delivery alert while
//  raised or owed a clear. False when there is nothing to say.
static bool
s_pack_batch (own_alerts_t *self)
{
    bool heartbeat = self->config.heartbeat_ms > 0;
    bool delivery = self->raised || self->clear_owed;
    if (!heartbeat && !delivery)
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
    wire_pack_key_string (packer, "source", self->source);
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, (size_t) heartbeat + (size_t) delivery);
    if (heartbeat)
        s_pack_heartbeat (self, packer);
    if (delivery)
        s_pack_delivery (self, packer);
    self->in_flight_clears = delivery && !self->raised;
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
        //  once it lasts (the broker watch says more about the broker).
        if (!self->unsent_since)
            self->unsent_since = mono_now;
        if (!self->unsent_said && mono_now - self->unsent_since >= OWN_ANSWER_DEADLINE_MS) {
            log_warn ("cannot tell the broker at %s about this notifier for %d ms: %s",
                      self->control, OWN_ANSWER_DEADLINE_MS, error);
            self->unsent_said = true;
        }
        self->next_send = mono_now + OWN_RETRY_MS;
        return;
    }
    if (self->unsent_said)
        log_info ("telling the broker at %s about this notifier again", self->control);
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
            log_error ("the broker at %s refused this notifier's own alerts (%s/%s), so nobody"
                       " hears if it stops: %s", self->control, self->source,
                       self->heartbeat_id, answer->error);
        else
            log_limited (&self->log, "the broker at %s refused this notifier's own alerts"
                         " (%s/%s): %s", self->control, self->source, self->heartbeat_id,
                         answer->error);
        self->refused = true;
        self->next_send = mono_now + (answer->retry_after > 0 ? answer->retry_after
                                                               : self->period);
        return;
    }
    if (self->refused)
        log_info ("the broker at %s takes this notifier's own alerts again", self->control);
    self->refused = false;
    for (size_t index = 0; index < answer->refused_count && index < CTL_MAX_REFUSED; index++)
        log_limited (&self->log, "the broker refused this notifier's alert %s/%s: %s",
                     self->source, answer->refused [index].id, answer->refused [index].reason);
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
        log_limited (&self->log, "no answer from the broker at %s within %d ms to this"
                     " notifier's own alerts: sending them again", self->control,
                     OWN_ANSWER_DEADLINE_MS);
        self->ticket = 0;
        self->next_send = mono_now;
    }
}

void
own_alerts_work (own_alerts_t *self, int64_t mono_now)
{
    assert (self);
    s_read_answers (self, mono_now);
    s_decide (self, mono_now);
    if (!self->ticket && mono_now >= self->next_send)
        s_send (self, mono_now);
}

int64_t
own_alerts_next_wakeup (own_alerts_t *self, int64_t mono_now)
{
    assert (self);
    int64_t wait = self->ticket ? self->sent_at + OWN_ANSWER_DEADLINE_MS - mono_now
                                : self->next_send - mono_now;
    delivery_trouble_t worst;
    if (self->config.alarm_ms > 0 && !self->raised
    &&  deliveries_trouble (self->config.deliveries, &worst) > 0) {
        int64_t alarm = worst.failing_since + self->config.alarm_ms - mono_now;
        if (alarm < wait)
            wait = alarm;
    }
    return wait < 0 ? 0 : wait;
}
