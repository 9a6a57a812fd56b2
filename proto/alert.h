/*  alert.h — the alert record, as every program sees it.

    An alert is keyed by (source, id). The broker owns the truth; this record
    is what it stores, publishes in every change body (alert_pack) and
    returns from list/get/snapshot, and what subscribers decode (alert_decode).
    On the wire it is a map; fields that are unset (NULL strings, zero times)
    are left out, and a decoder treats a missing field as unset.

    Wire keys: source id subject summary detail level state raise_at clear_at
    suppress_until acked_at ack_until acked_by ack_note notify_count
    notified_at created_at updated_at changed_at seq labels{} silenced_by.
    Times are ms since the epoch.
*/
#ifndef LILAC_ALERT_H
#define LILAC_ALERT_H

#include <msgpack.h>
#include <stdint.h>
#include "epoch.h"
#include "wire.h"

typedef enum {
    ALERT_PENDING,                 //  has a raise time in the future
    ALERT_RAISED,                  //  raised, nobody acknowledged it
    ALERT_ACKED,                   //  raised and acknowledged by a human
    ALERT_CLEARED                  //  all is well
} alert_state_t;

typedef enum {
    LEVEL_LOW,
    LEVEL_NORMAL,
    LEVEL_URGENT
} alert_level_t;

typedef struct {
    char *source;                  //  who sends it (host or monitoring system)
    char *id;                      //  human label, e.g. "heartbeat"
    char *subject;                 //  what it is about; NULL means the source
    char *summary;                 //  one line for a phone
    char *detail;                  //  free text
    alert_level_t level;           //  urgent, normal or low
    alert_state_t state;           //  see alert_state_t
    int64_t raise_at;              //  when it raises / raised; 0 none
    int64_t clear_at;              //  when it clears by itself; 0 none
    int64_t suppress_until;        //  no notifications before this; 0 none
    int64_t acked_at;              //  when acknowledged; 0 when not acked
    int64_t acted_at;              //  last human ack, unack or clear; 0 never: an
                                   //  event older than this cannot undo it
    int64_t ack_until;             //  acknowledgement expires; 0 never
    char *acked_by;                //  who acknowledged, NULL when not acked
    char *ack_note;                //  their note, or NULL
    int64_t notify_count;          //  1 at raise, +1 per reminder
    int64_t notified_at;           //  when it was last raised or reminded
    int64_t created_at;            //  first event for this key
    int64_t updated_at;            //  last event received for this key
    int64_t changed_at;            //  last state change
    uint64_t seq;                  //  seq of this alert's last published change
    char *silenced_by;             //  id of the live silence that covers it, or NULL
                                   //  (notifiers skip it, as while suppressed)
    wire_label_t *labels;          //  label_count entries, owned
    size_t label_count;
} alert_t;

const char *alert_state_name (alert_state_t state);      //  "pending", ...
//  The line for a phone: the summary, else the subject, else the id
//  (never NULL).
const char *alert_headline (const alert_t *alert);
int alert_state_parse (const char *name, alert_state_t *state);   //  0 / -1
//  "raised" or "raised,acked,pending" into *states, a bit (1 << state) for
//  each. 0, or -1 with "'NAME' is not a state (...)" in error.
int alert_states_parse (const char *text, unsigned *states, char *error, size_t error_size);
const char *alert_level_name (alert_level_t level);      //  "urgent", ...
int alert_level_parse (const char *name, alert_level_t *level);   //  0 / -1

//  Packs the alert as one map (see above).
void alert_pack (msgpack_packer *packer, const alert_t *alert);
//  Decodes a map packed by alert_pack into a zeroed *alert (strings are
//  fresh copies). Returns 0 or WIRE_MALFORMED; nothing leaks on failure.
int alert_decode (const msgpack_object *map, alert_t *alert,
                  char *error, size_t error_size);
//  Frees the strings and labels and zeroes the record. NULL is a no-op.
void alert_clear_fields (alert_t *alert);
//  Deep copy of labels; returns 0 or -1 on out of memory.
int alert_copy_labels (wire_label_t **to, size_t *to_count,
                       const wire_label_t *from, size_t from_count);
void alert_free_labels (wire_label_t **labels, size_t *count);

//  --- change messages --------------------------------------------------------

//  The change that says an alert is gone (retention deleted it): its body
//  carries the alert as it was; a mirror drops the alert, and no notifier
//  rule acts on it.
#define ALERT_EVENT_DELETED "deleted"

typedef struct {
    uint64_t seq;                  //  broker-wide sequence number
    int64_t at;                    //  broker time of the change, ms
    char *event;                   //  pending raised reminder acked unacked cleared updated
                                   //  deleted
    alert_t alert;                 //  the whole row after the change (empty for a
                                   //  silence change)
    char *silence_id;              //  a silence change (event "silence", topic
                                   //  silence.ID): that silence's id; else NULL
    epoch_t epoch;                 //  the epoch it was published in (zeroed: none given)
} alert_change_t;

//  Packs a change body {v, seq, at, event, alert, epoch?} (epoch NULL: left out).
void alert_change_pack (msgpack_packer *packer, uint64_t seq, int64_t at,
                        const char *event, const alert_t *alert, const epoch_t *epoch);
//  Decodes a change body: an alert's, or a silence's (event "silence":
//  only its id is read, into silence_id; silence.h decodes the rest).
//  Returns 0 or WIRE_MALFORMED.
int alert_change_decode (const msgpack_object *map, alert_change_t *change,
                         char *error, size_t error_size);
void alert_change_free (alert_change_t *change);
//  Writes the topic "EVENT.LEVEL.SOURCE.ID" into buffer (truncated to size).
void alert_topic (char *buffer, size_t size, const char *event, const alert_t *alert);
//  The topic a decoded change was published on: alert_topic, or
//  "silence.ID" for a silence change.
void alert_change_topic (char *buffer, size_t size, const alert_change_t *change);

#endif
