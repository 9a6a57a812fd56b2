/*  epoch.c — the epoch stamp and its codec. See epoch.h.
*/
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include "epoch.h"
#include "error_text.h"
#include "wire.h"

void
epoch_pack (msgpack_packer *packer, const epoch_t *epoch)
{
    wire_pack_key (packer, "epoch");
    msgpack_pack_map (packer, 3);
    wire_pack_key_string (packer, "db", epoch->db);
    wire_pack_key (packer, "n");
    msgpack_pack_uint64 (packer, epoch->n);
    wire_pack_key (packer, "first");
    msgpack_pack_uint64 (packer, epoch->first);
}

static bool
s_is_db_id (const char *text)
{
    return strlen (text) == EPOCH_DB_SIZE - 1
        && strspn (text, "0123456789abcdef") == EPOCH_DB_SIZE - 1;
}

int
epoch_decode (const msgpack_object *map, epoch_t *epoch, bool *present,
              char *error, size_t error_size)
{
    memset (epoch, 0, sizeof (epoch_t));
    *present = false;
    const msgpack_object *stamp = wire_get (map, "epoch");
    if (!stamp)
        return 0;
    if (stamp->type != MSGPACK_OBJECT_MAP)
        return error_text (error, error_size, WIRE_MALFORMED, "epoch: not a map");
    const msgpack_object *db = wire_get (stamp, "db");
    const msgpack_object *n = wire_get (stamp, "n");
    const msgpack_object *first = wire_get (stamp, "first");
    if (!db || db->type != MSGPACK_OBJECT_STR || db->via.str.size != EPOCH_DB_SIZE - 1)
        return error_text (error, error_size, WIRE_MALFORMED, "epoch.db: not 16 hex digits");
    memcpy (epoch->db, db->via.str.ptr, EPOCH_DB_SIZE - 1);
    epoch->db [EPOCH_DB_SIZE - 1] = 0;
    if (!s_is_db_id (epoch->db)
    ||  !n || n->type != MSGPACK_OBJECT_POSITIVE_INTEGER
    ||  !first || first->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        memset (epoch, 0, sizeof (epoch_t));
        return error_text (error, error_size, WIRE_MALFORMED,
                           "epoch: wants {db: 16 hex digits, n, first} (positive integers)");
    }
    epoch->n = n->via.u64;
    epoch->first = first->via.u64;
    *present = true;
    return 0;
}

bool
epoch_equal (const epoch_t *a, const epoch_t *b)
{
    return strcmp (a->db, b->db) == 0 && a->n == b->n && a->first == b->first;
}

bool
epoch_is_stale (const epoch_t *known, const epoch_t *other)
{
    return *known->db && strcmp (known->db, other->db) == 0 && other->n < known->n;
}

void
epoch_format (const epoch_t *epoch, char *buffer, size_t size)
{
    snprintf (buffer, size, "%s/%" PRIu64 "@%" PRIu64, *epoch->db ? epoch->db : "-",
              epoch->n, epoch->first);
}

int
epoch_new_db_id (char db [EPOCH_DB_SIZE])
{
    uint8_t bytes [8];
    if (getrandom (bytes, sizeof bytes, 0) != (ssize_t) sizeof bytes)
        return -1;
    for (size_t index = 0; index < sizeof bytes; index++)
        snprintf (db + 2 * index, 3, "%02x", bytes [index]);
    return 0;
}
