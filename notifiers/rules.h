/*  rules.h — which changes a notifier acts on, and for whom.

    A notifier's config holds `rule = NAME` sections. A rule matches a
    change on the alert's source, id and subject (globs), level (a list),
    labels ("team=ops,env=prod*": every key must be there and match its
    glob), the hour of the day and the day of the week (local time), and the
    event ("on = raised,reminder,cleared,acked,unacked"; default
    "raised,reminder"). It may also say:
    - every = DURATION: while raised and unacknowledged, act on reminders at
      most this often for one alert (reminders are acted on even if `on`
      does not list them);
    - after = DURATION: act on raised and reminder changes only once the
      alert has been raised and unacknowledged that long (escalation), and
      on cleared/acked/unacked only if this rule told someone about it;
    - limit = "N per DURATION": flood control. Past N notifications in the
      sliding window, one FLOOD_HELD action says further ones are held back
      (and they are dropped); the next match after the window has room first
      yields FLOOD_OVER, with how many were held, then its own NOTIFY.
    Suppressed alerts (suppress_until after the change) match nothing. Each
    rule names a destination (the value of the notifier's destination key,
    e.g. a Pushover user key or a command): several rules may match one
    change, but a destination gets one action per change — the first
    matching rule, in file order, decides for it.

    rules_decide keeps per-rule state (when each alert was last acted on,
    the flood window), in memory: bounded by the number of raised alerts.
*/
#ifndef LILAC_RULES_H
#define LILAC_RULES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "alert.h"
#include "config.h"
#include "config_report.h"

#define RULES_MAX_ACTIONS 32           //  actions for one change, at most

typedef enum {
    ACTION_NOTIFY,                 //  tell the destination about the change
    ACTION_FLOOD_HELD,             //  say that further alerts of this rule are held back
    ACTION_FLOOD_OVER              //  say that normal service resumes; `held` were dropped
} rule_action_kind_t;

typedef struct {
    rule_action_kind_t kind;       //  what to do
    const char *rule;              //  the rule's name (borrowed from the rules)
    const char *destination;       //  the destination key's value, or "default"
    config_t *settings;            //  the rule's section, for destination keys (borrowed)
    int64_t held;                  //  FLOOD_OVER: how many were held back
} rule_action_t;

typedef struct _rules_t rules_t;

//  Reads every `rule = NAME` section of root. extra_keys (NULL-terminated)
//  are the destination's own keys a rule may carry; destination_key (or
//  NULL) names the destination: one key ("user"), or a list ("url,format,
//  room,to") whose first key names it and whose others, when a rule sets
//  them, refine it ("URL room=!a:x"); the others must be in extra_keys. Every error is "FILE:LINE: why".
//  A config with no rule at all is an error too (a notifier that can never
//  notify is a mistake). The rules borrow root's strings and sections:
//  destroy them before root.
rules_t *rules_load (config_t *root, const char *const *extra_keys,
                     const char *destination_key, char *error, size_t error_size);
//  As rules_load, but every error of every rule is added to errors (see
//  config_report.h) rather than only the first; NULL when any was found.
rules_t *rules_load_all (config_t *root, const char *const *extra_keys,
                         const char *destination_key, config_report_t *errors);
void rules_destroy (rules_t **self_p);
size_t rules_count (rules_t *self);
//  How a destination is shown in logs and by -n, when it may hold a secret
//  (a Pushover user key, a webhook URL with its token): into out.
typedef void (rules_shown_fn) (const char *destination, char *out, size_t size);
//  Its first three characters and its length.
void rules_shown_secret (const char *destination, char *out, size_t size);
//  One paragraph per rule, saying what it understood (for `-n`);
//  destinations as shown says (NULL: as they are).
void rules_describe (rules_t *self, FILE *out, rules_shown_fn *shown);

//  Decides what to do about one change, at wall time now (ms): fills at most
//  capacity actions and returns how many. Updates the rules' state, so call
//  it once per change (not again when a delivery is retried).
size_t rules_decide (rules_t *self, const alert_change_t *change, int64_t now,
                     rule_action_t *actions, size_t capacity);

//  One NOTIFY action for every distinct destination named by any rule (the
//  first rule naming it gives the action its settings), whatever the
//  rules match, their hours, days and limits: for the notifier's own
//  messages about the broker (broker_silence). Fills at most capacity,
//  returns how many. No state changes.
size_t rules_destinations (rules_t *self, rule_action_t *actions, size_t capacity);

#endif
