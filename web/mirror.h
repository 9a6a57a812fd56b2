/*  mirror.h — lilac-web's live copy of every alert (architecture §9).

    The Clone pattern through the change feed: a snapshot pages in every
    live alert, then every change after it updates the copy (a `deleted`
    change drops the alert). Lists and, later, the UI and the SSE stream
    read it, so a page view never asks the broker anything. When the feed
    follows the broker into a new epoch (a new or replaced database), the
    copy is dropped and paged in again.

    The feed hands it the silences' changes too (change_feed on_silence):
    they change no alert here (the alerts a silence covers get `updated`
    changes of their own), but they move the seq and go to the stream in
    their place among the alerts' changes, kept in the same ring.

    It lives in lilac-web's loop: the owner polls mirror_poll_items, for
    at most mirror_next_wakeup ms, and calls mirror_work; nothing waits.
*/
#ifndef LILAC_MIRROR_H
#define LILAC_MIRROR_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include "alert.h"
#include "change_feed.h"
#include "epoch.h"

typedef struct _mirror_t mirror_t;

//  Follows the broker at events (PUB) and control. NULL with a reason.
mirror_t *mirror_new (const char *events, const char *control, char *error, size_t error_size);
void mirror_destroy (mirror_t **self_p);

int mirror_poll_items (mirror_t *self, zmq_pollitem_t *items, int max);
int64_t mirror_next_wakeup (mirror_t *self, int64_t mono_now);
void mirror_work (mirror_t *self, int64_t mono_now);

//  True once a snapshot came whole (the copy is complete).
bool mirror_ready (mirror_t *self);
//  True while ready and the broker's bus was heard within silence_ms.
bool mirror_live (mirror_t *self, int64_t silence_ms);
//  The seq the copy is consistent with (the last change, an alert's or a
//  silence's), and its epoch.
uint64_t mirror_seq (mirror_t *self);
const epoch_t *mirror_epoch (mirror_t *self);
size_t mirror_size (mirror_t *self);
//  The alert, or NULL (borrowed until the next mirror_work).
const alert_t *mirror_find (mirror_t *self, const char *source, const char *id);
//  Calls each for every alert, in no order.
typedef void (mirror_each_fn) (const alert_t *alert, void *arg);
void mirror_each (mirror_t *self, mirror_each_fn *each, void *arg);

//  --- the recent changes, for the SSE stream ---------------------------------------

#define MIRROR_RECENT  4096            //  changes kept for clients that resume

//  One change as the stream sends it: an alert's, or a silence's (event
//  "silence", alert NULL).
typedef struct {
    uint64_t epoch_n;              //  the epoch's number
    uint64_t seq;
    const char *event;             //  "raised", "deleted", ..., "silence"
    const alert_t *alert;          //  the alert after it (borrowed); NULL for a silence
    const char *json;              //  {seq, at, event, alert} as JSON text, or for a
                                   //  silence the silence as GET /api/silences writes
                                   //  one, state as at the change (borrowed)
} mirror_change_t;

//  Called with every change applied (a silence's too), after the copy was
//  updated; and with NULL when listeners must reload: the copy starts over
//  (a new epoch), or a change could not be kept for them (logged).
typedef void (mirror_change_fn) (const mirror_change_t *change, void *arg);
void mirror_on_change (mirror_t *self, mirror_change_fn *fn, void *arg);
//  Calls each for every kept change with seq > after in epoch_n, in order.
//  True when they are all there (after is at or past the oldest kept one
//  less one, in the current epoch); false: the client must start over.
bool mirror_replay (mirror_t *self, uint64_t epoch_n, uint64_t after,
                    mirror_change_fn *each, void *arg);

#endif
