/*  notifier.h — what every lilac notifier shares: options, config, the
    change feed, the rules, and the loop; a destination (Pushover, exec)
    plugs in through destination_class_t and only says how to deliver.

    A notifier's config (ZPL):
      notifier    events, control, state_dir  (the broker's endpoints; where
                  the cursor is kept), broker_silence (broker_watch.h),
                  cert, server_key (CURVE)
      DEST        the destination's own section (`pushover`, `exec`)
      rule = NAME any number (see rules.h), with the destination's rule keys

    The loop polls the feed's sockets, the signalfd and the fds the
    destination watches (loop.h: libcurl's sockets, a command's pidfd).
    For each change, in order, the destination may observe it, the rules
    are asked once what to do, and the actions go to the delivery core
    (delivery.h), which runs them per destination, retries and gives up;
    the cursor file stays below the oldest change not finished everywhere.
    Each turn also asks the broker watch (broker_watch.h) whether the
    destinations must hear about the broker itself; that message goes to
    one action per destination (rules_destinations) through the same core,
    as a change with seq 0 that never holds the cursor.
*/
#ifndef LILAC_NOTIFIER_H
#define LILAC_NOTIFIER_H

#include <stdbool.h>
#include <stdint.h>
#include "change_feed.h"
#include "config.h"
#include "config_report.h"
#include "delivery.h"
#include "http.h"
#include "loop.h"
#include "rules.h"

//  What a destination may need from the notifier it runs in; open may
//  set the last two.
typedef struct {
    const char *program;           //  "lilac-notify-pushover", for logs
    const char *control;           //  the broker's control endpoint (to ack, say)
    const char *state_dir;         //  the notifier's own state directory
    loop_t *loop;                  //  the loop's watched fds (a command's pidfd)
    http_t *http;                  //  the one libcurl multi handle, in the loop
    int64_t retry_for_ms;          //  give up a failing delivery after this (1 h)
    size_t lane_window;            //  deliveries at once per destination (1)
} notifier_env_t;

typedef struct {
    const char *program;                   //  e.g. "lilac-notify-exec"
    const char *section;                   //  its config section, e.g. "exec"
    const char *const *section_keys;       //  keys allowed in that section
    const char *const *rule_keys;          //  extra keys allowed in rules
    const char *destination_key;           //  the rule key(s) naming the destination (rules.h)
    rules_shown_fn *destination_shown;     //  how logs and -n show one (NULL: as it is)
    //  Optional (may be NULL): checks the destination's section and the
    //  rules' destination keys in root as open and start would use them
    //  (commands that can run, a user key for every rule), adding each
    //  problem to errors as "FILE:LINE: why". Runs at -n, at start and on
    //  SIGHUP, before open; it logs nothing.
    void (*check) (config_t *root, config_report_t *errors);
    //  Reads its section (NULL if the file has none) and gets ready. Returns
    //  its state, or NULL with "FILE:LINE: why" (or another reason) in error.
    void *(*open) (config_t *section, notifier_env_t *env, char *error, size_t error_size);
    //  Stops what it started (HTTP calls, commands) without finishing
    //  their deliveries, and frees.
    void (*close) (void **self_p);
    //  Starts one delivery (delivery.h): ends it with delivery_finish, at
    //  once or later from its loop work. Never waits.
    void (*start) (void *self, delivery_t *delivery);
    //  Optional: sees every change of the feed, in order, whatever the
    //  rules decide (Pushover: a clear cancels an emergency at once).
    void (*observe) (void *self, const alert_change_t *change);
    //  Optional (may be NULL): background work, e.g. polling Pushover
    //  receipts, and how soon it is next needed (ms, -1 for never).
    void (*work) (void *self, int64_t mono_now);
    int64_t (*next_wakeup) (void *self, int64_t mono_now);
} destination_class_t;

//  The whole program: `PROGRAM [-c FILE] [-n] [-v]`. -n checks the config
//  as start does (every error reported, each with FILE:LINE), prints the
//  rules it understood, and exits. Returns the exit status.
int notifier_main (int argc, char *argv [], const destination_class_t *destination);

#endif
