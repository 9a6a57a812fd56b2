/*  own_alerts.h — a daemon's own alerts at the broker: the word that the
    daemon itself stopped, or is in trouble, where the notifiers and the
    web UI look.

    A notifier is the last link to a human, and lilac-web the door for
    Prometheus and cron: when one dies nobody is told unless it has said so
    somewhere else beforehand. So each keeps alerts of its own at the
    broker, submitted through the control socket (`submit`, answered after
    the broker's commit), with source `own_source` (default: this host's
    name; with CURVE the certificate's source, the only one the broker
    takes unless the certificate is a relay's or gateway's) and ids under
    `own_name` (default: the program's name):

    - NAME/heartbeat (`heartbeat`, default 5m; 0 turns it off): raise in
      `heartbeat`, refreshed every fifth of it (1 s to 1 min). It raises
      at the broker when the daemon has not refreshed it for that long:
      the process died, hangs, or cannot reach the broker's control
      socket. A clean stop leaves it to raise too: a stopped notifier
      tells nobody anything.
    - NAME/TROUBLE (optional; a notifier's is `delivery`): raised and
      cleared as the owner says (own_alerts_trouble). While raised it is
      refreshed with the heartbeat and carries a clear time three
      refreshes ahead, so it clears by itself when its daemon is gone (the
      heartbeat says that) or restarted without the trouble. Raising and
      clearing go at once; new words while raised go with the next
      refresh (one update a period at the broker at most), so the other
      refreshes change nothing there.

    Both are urgent, subject the program's name. Only one submit is in
    flight; one not answered within OWN_ANSWER_DEADLINE_MS, or not
    sendable (nobody connected), is sent again after a second, with the
    state as it is then: no queue of old states is kept. A refused one is
    sent again after the broker's retry_after, else after a refresh
    period; the first refusal is logged as an error. The batch carries a
    fresh tx each time; a resent raise or clear is a refresh at the
    broker, never news.
*/
#ifndef LILAC_OWN_ALERTS_H
#define LILAC_OWN_ALERTS_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include "config.h"
#include "config_report.h"
#include "wire.h"

#define OWN_HEARTBEAT_DEFAULT_MS   (5 * 60 * 1000)
#define OWN_HEARTBEAT_MIN_MS       5000            //  or 0: off
#define OWN_ANSWER_DEADLINE_MS     10000
#define OWN_RETRY_MS               1000
#define OWN_WORDS_SIZE             2048            //  a trouble's summary or detail, at most
#define OWN_ID_SIZE                (WIRE_MAX_NAME + 34)    //  NAME/heartbeat, NAME/TROUBLE
                                                   //  (TROUBLE: 31 bytes at most)

//  --- settings ---------------------------------------------------------------------

typedef struct {
    char source [WIRE_MAX_NAME + 1];       //  own_source
    char name [WIRE_MAX_NAME + 1];         //  own_name
    int64_t heartbeat_ms;                  //  heartbeat, 0: off
} own_settings_t;

//  Reads own_source, own_name and heartbeat of section (NULL: the
//  defaults) into *settings, adding each problem to errors at its line as
//  "SECTION/KEY: why". cert: the daemon's client certificate file (NULL
//  without CURVE): own_source defaults to its source, and must be it
//  unless the certificate is a relay's or gateway's.
void own_settings_read (config_t *section, const char *program, const char *cert,
                        own_settings_t *settings, config_report_t *errors);

//  --- the alerts -------------------------------------------------------------------

typedef struct _own_alerts_t own_alerts_t;

typedef struct {
    const char *program;           //  "lilac-notify-pushover": the alerts' subject
    const own_settings_t *settings;
    const char *control;           //  the broker's control endpoint(s)
    const char *trouble;           //  the trouble alert's id after NAME/, or NULL: none
} own_alerts_config_t;

//  Connects to the broker's control socket. NULL with a reason in error.
own_alerts_t *own_alerts_new (const own_alerts_config_t *config, char *error, size_t error_size);
void own_alerts_destroy (own_alerts_t **self_p);
//  The DEALER its answers come on, for the loop's poll (borrowed).
zsock_t *own_alerts_socket (own_alerts_t *self);
//  The trouble alert as the owner sees it now: raised with these words
//  (summary and detail, cut to OWN_WORDS_SIZE), or not (words NULL). The
//  raise and the clear are logged and go at once; new words go with the
//  next refresh.
void own_alerts_trouble (own_alerts_t *self, bool raised, const char *summary,
                         const char *detail);
//  Reads answers and submits what is due. Never waits.
void own_alerts_work (own_alerts_t *self, int64_t mono_now);
//  Logs, at a clean stop, that the heartbeat will raise unless the daemon
//  is back within it.
void own_alerts_stopping (own_alerts_t *self);
//  ms until own_alerts_work has something to do.
int64_t own_alerts_next_wakeup (own_alerts_t *self, int64_t mono_now);
//  What the heartbeat is, for the log and -n ("S/N/heartbeat raises at the
//  broker when this daemon is not heard from for 5m (refreshed every 1m)",
//  or "no heartbeat (heartbeat = 0)").
void own_alerts_describe (const own_settings_t *settings, char *out, size_t size);
//  The ids, "NAME/heartbeat" and "NAME/TROUBLE", into out (OWN_ID_SIZE).
void own_alerts_id (const own_settings_t *settings, const char *which, char *out, size_t size);

#endif
