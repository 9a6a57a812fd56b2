/*  alert_table.c — a hash for lookups plus a dense array for iteration.
    See alert_table.h.

    The hash key is "source\x1fid": names never hold control characters
    (wire_name_valid), so the unit separator cannot be ambiguous.
*/
#include <assert.h>
#include <czmq.h>
#include <string.h>
#include "alert_table.h"
#include "mem.h"
#include "wire.h"

struct _alert_table_t {
    zhashx_t *by_key;              //  "source\x1fid" → entry_t *, not owned
    entry_t **entries;             //  dense array of owned entries
    size_t size;                   //  entries in use
    size_t capacity;               //  entries allocated
};

#define KEY_SIZE (2 * WIRE_MAX_NAME + 2)

static void
s_key (char *key, const char *source, const char *id)
{
    snprintf (key, KEY_SIZE, "%s\x1f%s", source, id);
}

alert_table_t *
alert_table_new (void)
{
    alert_table_t *self = mem_alloc (sizeof (alert_table_t));
    self->by_key = zhashx_new ();
    if (!self->by_key) {
        mem_free (self);
        return NULL;
    }
    return self;
}

void
alert_table_destroy (alert_table_t **self_p)
{
    if (!*self_p)
        return;
    alert_table_t *self = *self_p;
    for (size_t index = 0; index < self->size; index++) {
        alert_clear_fields (&self->entries [index]->alert);
        mem_free (self->entries [index]);
    }
    mem_free (self->entries);
    zhashx_destroy (&self->by_key);
    mem_free (self);
    *self_p = NULL;
}

entry_t *
alert_table_find (alert_table_t *self, const char *source, const char *id)
{
    char key [KEY_SIZE];
    s_key (key, source, id);
    return zhashx_lookup (self->by_key, key);
}

entry_t *
alert_table_add (alert_table_t *self, const char *source, const char *id)
{
    char key [KEY_SIZE];
    s_key (key, source, id);
    assert (!zhashx_lookup (self->by_key, key));
    if (self->size == self->capacity) {
        self->capacity = self->capacity ? self->capacity * 2 : 1024;
        self->entries = mem_realloc (self->entries, self->capacity * sizeof (entry_t *));
    }
    entry_t *entry = mem_alloc (sizeof (entry_t));
    entry->alert.source = mem_strdup (source);
    entry->alert.id = mem_strdup (id);
    entry->alert.state = ALERT_CLEARED;
    entry->alert.level = LEVEL_NORMAL;
    entry->heap_index = ALERT_TABLE_NOWHERE;
    entry->table_index = self->size;
    self->entries [self->size++] = entry;
    if (zhashx_insert (self->by_key, key, entry))
        assert (false);     //  cannot happen: we looked the key up above
    return entry;
}

void
alert_table_remove (alert_table_t *self, entry_t *entry)
{
    assert (entry->heap_index == ALERT_TABLE_NOWHERE);
    assert (entry->table_index < self->size && self->entries [entry->table_index] == entry);
    char key [KEY_SIZE];
    s_key (key, entry->alert.source, entry->alert.id);
    zhashx_delete (self->by_key, key);
    entry_t *last = self->entries [--self->size];
    self->entries [entry->table_index] = last;
    last->table_index = entry->table_index;
    alert_clear_fields (&entry->alert);
    mem_free (entry);
}

size_t
alert_table_size (alert_table_t *self)
{
    return self->size;
}

entry_t *
alert_table_at (alert_table_t *self, size_t index)
{
    assert (index < self->size);
    return self->entries [index];
}
