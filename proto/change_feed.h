/*  change_feed.h — following the broker's changes without missing one.

    The subscriber side of architecture §3 (the Clone pattern), shared by the
    notifiers and `lilac tap`. A feed subscribes to the broker's PUB socket
    first, then asks the control socket where the stream stands (or, with a
    cursor saved on disk, for everything `since` that cursor), and then
    hands its owner every change, one at a time, in strictly increasing seq
    order with no gaps:

    - a change whose seq is at or below the cursor is a repeat: dropped;
    - a seq further ahead than the next one expected is a gap (the PUB
      socket drops messages past its high-water mark): the missing changes
      are fetched with `since`, and delivered first;
    - a hugz whose seq is ahead of what was received means the tail was
      lost: fetched with `since`;
    - no hugz for FEED_SILENCE_MS means the broker (or the path to it) is
      gone: when anything is heard again, the feed asks `since` its cursor.

    A silence's own change (topic silence.ID, alert_change_t.silence_id
    set) takes its seq like any other, from the SUB or from `since`. It is
    handed over only to an owner that asked for them (on_silence in the
    config: lilac-web's SSE stream), with the silence decoded, in seq order
    among the alerts' changes and with the same DONE / RETRY contract. For
    every other owner (the notifiers, `lilac tap`) the cursor steps over it
    as if it were DONE: the alerts it covers get `updated` changes.

    Delivery is at least once. The owner's deliver function says DONE (acted
    on, or given up for good: the cursor moves past it and, with a cursor
    file, is saved) or RETRY at a time it names (the feed holds that change
    and nothing after it is delivered until then). A process killed at any
    moment therefore repeats at most the change in flight and never skips
    one. The cursor file is written to a temporary name and renamed over the
    old one: a crash leaves the old cursor or the new one, never half of one.

    `since` answering that the cursor is older than the history the broker
    keeps (retention) cannot be healed: the feed logs it as an error and
    resumes from the broker's current seq.

    Never waiting. The feed lives in its owner's loop (a notifier, `lilac
    tap`, lilac-web's one thread next to its HTTP server) and never blocks
    it, whether the broker answers or not. Its control requests (`ping`
    for the first sync, `since` pages, `snapshot` pages) go out on one
    DEALER (ctl.h) without waiting, at most one at a time; the reply is read
    when the DEALER is readable, and a request without a reply by its
    deadline (call_timeout_ms) is given up and tried again at the feed's
    pace (1 s, or 3 s while the broker is silent). So the owner polls two
    sockets, the SUB and the DEALER (change_feed_poll_items), for at most
    change_feed_next_wakeup ms (which counts the request's deadline), and
    calls change_feed_work whenever either is readable or the time is up;
    change_feed_work returns without waiting, always. An owner on a
    ZMQ_FD-based loop (epoll) must call change_feed_work again while
    change_feed_next_wakeup says 0: ZeroMQ's descriptors signal edges.

    Snapshot. change_feed_snapshot_start pages through the broker's
    `snapshot` in the same loop: each alert is handed to the owner as its
    page arrives, and done is called once at the end (with the seq the
    first page was consistent with) or on a failure (no reply by the
    deadline, a refusal, a malformed page: the owner may start again).
    While it runs, no change is delivered (they wait in the queue), so the
    owner sees the snapshot first and then the changes after it. On a feed
    with no position yet (not synced, no cursor file) the first page's seq
    is where the feed starts: the Clone pattern.
*/
#ifndef LILAC_CHANGE_FEED_H
#define LILAC_CHANGE_FEED_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "alert.h"
#include "epoch.h"
#include "silence.h"

#define FEED_SILENCE_MS    3000        //  three missed hugz
#define FEED_PENDING_MAX   100000      //  changes held in memory ahead of delivery
#define FEED_SINCE_LIMIT   1000        //  changes asked for per `since` call

typedef enum {
    FEED_DONE,                     //  acted on or given up: move the cursor past it
    FEED_RETRY                     //  hold it; call again at *retry_at
} feed_result_t;

//  Called with each change in seq order. retry_at is a monotonic ms time
//  (zclock_mono) the owner sets when it returns FEED_RETRY.
typedef feed_result_t (change_feed_deliver_fn) (const alert_change_t *change, void *arg,
                                                int64_t *retry_at);
//  Called, for an owner that takes them, with each silence's change in its
//  place in seq order: the change (silence_id set, alert empty) and the
//  silence as the broker published it (its state as at change->at; both
//  borrowed for the call). DONE / RETRY as for deliver.
typedef feed_result_t (change_feed_silence_fn) (const alert_change_t *change,
                                                const silence_t *silence, void *arg,
                                                int64_t *retry_at);

typedef struct {
    const char *events;            //  the broker's PUB endpoint
    const char *control;           //  the broker's control endpoint
    const char *cursor_file;       //  where the cursor is kept, or NULL (memory only)
    int call_timeout_ms;           //  deadline of one control call (0: 5000)
    change_feed_silence_fn *on_silence;   //  silences' changes go here; NULL (the
                                          //  default): stepped over, never seen
    void *on_silence_arg;          //  its argument
} change_feed_config_t;

typedef struct _change_feed_t change_feed_t;

//  Connects the SUB (subscribed to every change and to hugz) and reads the
//  cursor file if there is one. It does not call the broker yet: the first
//  change_feed_work does, and keeps trying while the broker is away. NULL
//  with a reason in error (bad endpoint, unreadable cursor file).
change_feed_t *change_feed_new (const change_feed_config_t *config, char *error, size_t error_size);
void change_feed_destroy (change_feed_t **self_p);

//  The sockets the owner polls for input (ZMQ_POLLIN): the SUB and the
//  control DEALER. Fills items [0 .. FEED_POLL_ITEMS) and returns
//  FEED_POLL_ITEMS, or -1 when max is smaller.
#define FEED_POLL_ITEMS  2
int change_feed_poll_items (change_feed_t *self, zmq_pollitem_t *items, int max);
//  The SUB socket alone (its linger, whether input is pending).
zsock_t *change_feed_socket (change_feed_t *self);
//  Milliseconds until the feed needs change_feed_work again even if nothing
//  arrives on its sockets (a held retry, the silence watchdog, a request
//  to send or the deadline of the one in flight); at most 1000.
int64_t change_feed_next_wakeup (change_feed_t *self, int64_t mono_now);
//  Reads the replies and changes that arrived, sends the request the feed
//  needs next, and delivers in order. Never waits.
void change_feed_work (change_feed_t *self, int64_t mono_now,
                       change_feed_deliver_fn *deliver, void *arg);

//  An owner that takes changes (DONE) before it has finished them (the
//  notifiers' delivery core) says which it still needs: the cursor file is
//  never moved past seq, so a restart repeats them. UINT64_MAX (the
//  default): no hold. The feed's own position is not changed.
void change_feed_hold (change_feed_t *self, uint64_t seq);
//  The seq of the last change delivered DONE (or where the feed started).
uint64_t change_feed_cursor (change_feed_t *self);
//  The epoch the cursor belongs to (zeroed until the feed learned one).
const epoch_t *change_feed_epoch (change_feed_t *self);
//  True once the feed knows where the stream stands (first sync done).
bool change_feed_synced (change_feed_t *self);
//  Counters: gaps detected, since calls made, malformed messages dropped.
typedef struct {
    uint64_t delivered;
    uint64_t gaps;
    uint64_t catch_ups;
    uint64_t malformed;
    uint64_t epochs;               //  rewinds to a new epoch of the broker
} change_feed_stats_t;
change_feed_stats_t change_feed_stats (change_feed_t *self);

//  Starts paging through the broker's `snapshot` (see above): each(alert,
//  arg) for every live alert as its page arrives, then done once. 0, or -1
//  when a snapshot is already running.
typedef void (change_feed_alert_fn) (const alert_t *alert, void *arg);
//  rc 0: every page came, seq is the first page's; rc -1: error says why
//  (outside input: print it with care).
typedef void (change_feed_snapshot_done_fn) (int rc, uint64_t seq, const char *error,
                                             void *arg);
int change_feed_snapshot_start (change_feed_t *self, change_feed_alert_fn *each,
                                change_feed_snapshot_done_fn *done, void *arg);
//  True from change_feed_snapshot_start until its done was called.
bool change_feed_snapshot_running (change_feed_t *self);

//  --- additions -----------------------------------------------------------------

//  Called with each hugz (seq, broker time in ms) as it is read, for owners
//  that show them (`lilac tap --hugz`). NULL fn stops the calls.
typedef void (change_feed_hugz_fn) (uint64_t seq, int64_t at, void *arg);
void change_feed_on_hugz (change_feed_t *self, change_feed_hugz_fn *fn, void *arg);

//  What the feed knows of the broker's health, for owners that watch the
//  watcher (the notifiers' broker_silence). hugz may carry, only while the
//  broker is degraded (its commits failing), `degraded` (the reason, text)
//  and `degraded_since` (wall ms); a hugz without them says it is not.
#define FEED_REASON_MAX  256           //  bytes of a degraded reason kept

typedef struct {
    int64_t last_heard;            //  mono ms: anything last read from the SUB
                                   //  (the feed's creation before that)
    bool degraded;                 //  the last hugz said degraded
    char reason [FEED_REASON_MAX]; //  its reason (cut at a character), "" if not
    int64_t degraded_since;        //  wall ms, as the broker said, 0 if not
} change_feed_health_t;
change_feed_health_t change_feed_health (change_feed_t *self);

#endif
