/*  epoch.h — which database, and which unbroken run of its seqs, a message
    belongs to (architecture §10).

    A seq alone cannot tell a subscriber that the broker's history was
    replaced under it: a deleted or restored database, or a power loss with
    the last commits unwritten, starts the seqs again at a number it has
    already seen, with other bodies. So the broker stamps an epoch on hugz,
    ping and every change:
    - db: random at the database's creation (16 hex digits);
    - n: bumped at every start that did not follow a clean stop (and, later,
      at every takeover);
    - first: the first seq of that epoch.
    A subscriber holding a cursor in one epoch that sees another rewinds to
    first - 1 (or takes a snapshot); one that sees its own db with a lower n
    ignores it (a stale broker). On the wire: `epoch: {db, n, first}`.
*/
#ifndef LILAC_EPOCH_H
#define LILAC_EPOCH_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EPOCH_DB_SIZE 17               //  16 hex digits and a NUL

typedef struct {
    char db [EPOCH_DB_SIZE];           //  the database's id, "" when unknown
    uint64_t n;                        //  the epoch's number, 0 when unknown
    uint64_t first;                    //  its first seq
} epoch_t;

//  Packs the key "epoch" and its map into a map being packed.
void epoch_pack (msgpack_packer *packer, const epoch_t *epoch);
//  Reads map.epoch into *epoch: 0 with *present false when the key is
//  absent (an older broker: *epoch zeroed), 0 with it filled, or
//  WIRE_MALFORMED with a reason.
int epoch_decode (const msgpack_object *map, epoch_t *epoch, bool *present,
                  char *error, size_t error_size);
//  Same db, n and first.
bool epoch_equal (const epoch_t *a, const epoch_t *b);
//  True when known is set and other is its own database at a lower n: a
//  stale broker whose messages are to be ignored.
bool epoch_is_stale (const epoch_t *known, const epoch_t *other);
//  "db/n@first", for logs.
void epoch_format (const epoch_t *epoch, char *buffer, size_t size);
//  Fills db with 16 random hex digits. 0, or -1 (no randomness).
int epoch_new_db_id (char db [EPOCH_DB_SIZE]);

#endif
