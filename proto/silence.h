/*  silence.h — a silence: which alerts it covers, and when.

    A silence is Alertmanager's maintenance window in lilac: while it is
    live (starts <= now < ends) every alert its matchers all match carries
    its id in `silenced_by`, and notifiers skip such an alert as they skip a
    suppressed one. The broker makes the id (a UUID), keeps silences in its
    database and publishes each change of one on topic `silence.ID`.

    Matchers, all of which must match (an empty set is refused: a silence of
    everything is never what someone meant):
    - source, id, subject: fnmatch(3) globs (subject defaults to the source,
      as for alerts);
    - labels: strings "NAME=VALUE", "NAME!=VALUE", "NAME=~RE", "NAME!~RE";
      RE is a POSIX extended regex anchored at both ends (it must match the
      whole value); a label the alert lacks counts as the empty string, as in
      Alertmanager.

    On the wire a silence is a map {id, matchers: {source?, id?, subject?,
    labels?: [...]}, starts, ends, created_at, by, note?, expired_by?, seq,
    state} — state ("pending", "active", "expired") as at the time packed.
    A silence change body is {v, seq, at, event: "silence", silence, epoch}.

    Limits: SILENCE_MAX_LABELS label matchers, each string within wire.h's
    label limits; a regex neither too costly for glibc (repetitions of
    repetitions: regcomp copies what it repeats) nor with back-references
    (silence.c says why).
*/
#ifndef LILAC_SILENCE_H
#define LILAC_SILENCE_H

#include <msgpack.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include "alert.h"
#include "epoch.h"

#define SILENCE_ID_SIZE      37            //  a UUID, 36 characters, and NUL
#define SILENCE_MAX_LABELS   WIRE_MAX_LABELS   //  label matchers per silence
#define SILENCE_EVENT        "silence"     //  the event of a silence change
#define SILENCE_TOPIC_PREFIX "silence."    //  its topic is this and the id

typedef enum {
    SILENCE_EQUAL,                 //  =
    SILENCE_NOT_EQUAL,             //  !=
    SILENCE_REGEX,                 //  =~
    SILENCE_NOT_REGEX              //  !~
} silence_op_t;

//  One label matcher.
typedef struct {
    char *name;                    //  the label's name
    silence_op_t op;               //  how it compares
    char *value;                   //  the value or the regex, as written
    regex_t regex;                 //  the anchored regex (REGEX, NOT_REGEX)
} silence_label_t;

typedef struct {
    char id [SILENCE_ID_SIZE];     //  UUID, "" before the broker gives one
    char *source;                  //  glob or NULL
    char *alert_id;                //  glob on the alert's id, or NULL
    char *subject;                 //  glob or NULL
    silence_label_t *labels;       //  label_count matchers, owned
    size_t label_count;
    int64_t starts;                //  ms: live from
    int64_t ends;                  //  ms: live until (excluded)
    int64_t created_at;            //  ms
    char *by;                      //  who made it
    char *note;                    //  why, or NULL
    char *expired_by;              //  who ended it early, or NULL
    uint64_t seq;                  //  seq of its last change, 0 before the first
    char announced [8];            //  the state its last change published
} silence_t;

//  Parses one label matcher "NAME=VALUE" (or !=, =~, !~) into *label,
//  compiling a regex. 0, or -1 with a sentence in error (a bad regex says
//  why, in regerror's words).
int silence_label_parse (const char *text, silence_label_t *label,
                         char *error, size_t error_size);
void silence_label_free (silence_label_t *label);
//  Does the matcher hold for value (a label's value, "" when absent)?
bool silence_label_matches (const silence_label_t *label, const char *value);
//  "NAME=VALUE" again, into buffer.
void silence_label_format (const silence_label_t *label, char *buffer, size_t size);

//  A fresh silence with nothing set; silence_destroy frees it (NULL is a
//  no-op).
silence_t *silence_new (void);
void silence_destroy (silence_t **self_p);

//  Reads a `matchers` map into self (whose matchers must be empty). 0, or
//  WIRE_MALFORMED / -1 with a sentence in error.
int silence_matchers_decode (const msgpack_object *map, silence_t *self,
                             char *error, size_t error_size);
//  Decodes a silence packed by silence_pack. NULL with a sentence in error.
silence_t *silence_decode (const msgpack_object *map, char *error, size_t error_size);
//  Packs the silence as one map, its state as at now.
void silence_pack (msgpack_packer *packer, const silence_t *self, int64_t now);
//  Packs a change body {v, seq, at, event, silence, epoch (if not NULL)}.
void silence_change_pack (msgpack_packer *packer, uint64_t seq, int64_t at,
                          const silence_t *self, const epoch_t *epoch);

//  "pending" before starts, "active" while live, "expired" from ends.
const char *silence_state (const silence_t *self, int64_t now);
bool silence_live (const silence_t *self, int64_t now);
//  Do all of its matchers match the alert (whatever the time)?
bool silence_matches (const silence_t *self, const alert_t *alert);

//  Writes a fresh random UUID (version 4) into id. 0, or -1 when the
//  kernel gave no randomness.
int silence_make_id (char id [SILENCE_ID_SIZE]);
//  Is text a UUID as silence_make_id writes them (lower-case hex)?
bool silence_id_valid (const char *text);


#endif
