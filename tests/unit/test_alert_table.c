/*  test_alert_table.c — the broker's alert table against a plain array:
    random adds, finds and removals, enough of them to grow the hash several
    times and to make removal shift long probe runs back.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../check.h"
#include "../../broker/alert_table.h"

#define KEYS 5000

typedef struct {
    char source [16];
    char id [16];
    entry_t *entry;                //  what the table should hold, or NULL
} model_t;

//  A snapshot's pager as control.c pages: from an ordinal cursor, `page`
//  entries, holes skipped; returns the next cursor, 0 when done.
static uint64_t
s_page (alert_table_t *table, uint64_t cursor, size_t page, int *seen_counts, int keys)
{
    size_t span = alert_table_span (table);
    size_t position = alert_table_seek (table, cursor);
    for (size_t count = 0; position < span && count < page; position++) {
        entry_t *entry = alert_table_at (table, position);
        if (!entry)
            continue;
        int key = atoi (entry->alert.id);
        if (key >= 0 && key < keys)
            seen_counts [key]++;
        count++;
    }
    return position < span ? alert_table_ordinal (table, position) : 0;
}

//  Paging slowly through thousands of entries while most of them are
//  removed (retention) and others added between pages: every entry that
//  lives from the first page to the last is seen exactly once.
static void
s_test_paging (void)
{
    TEST ("a snapshot paging while entries are removed and added sees each survivor once");
    enum { PAGING_KEYS = 6000, PAGE = 25 };
    static entry_t *entries [PAGING_KEYS + PAGING_KEYS];
    static int seen_counts [PAGING_KEYS + PAGING_KEYS];
    static bool removed [PAGING_KEYS + PAGING_KEYS];
    alert_table_t *table = alert_table_new ();
    char id [16];
    for (int key = 0; key < PAGING_KEYS; key++) {
        snprintf (id, sizeof id, "%d", key);
        entries [key] = alert_table_add (table, "paged", id);
    }
    srand (13);
    int added = PAGING_KEYS, removals = 0, pages = 0;
    uint64_t cursor = 0;
    do {
        cursor = s_page (table, cursor, PAGE, seen_counts, PAGING_KEYS + PAGING_KEYS);
        pages++;
        //  Between two pages: remove some entries (on both sides of the
        //  cursor) and add a few
        for (int step = 0; step < 40; step++) {
            int key = rand () % PAGING_KEYS;
            if (!removed [key] && rand () % 4 != 0) {
                alert_table_remove (table, entries [key]);
                removed [key] = true;
                removals++;
            }
        }
        if (cursor && added < PAGING_KEYS + PAGING_KEYS) {
            snprintf (id, sizeof id, "%d", added);
            entries [added++] = alert_table_add (table, "paged", id);
        }
    } while (cursor && pages < 100000);
    int twice = 0, missed = 0;
    for (int key = 0; key < added; key++) {
        twice += seen_counts [key] > 1;
        missed += !removed [key] && seen_counts [key] != 1;
    }
    CHECK (removals > PAGING_KEYS / 2, "only %d removals while paging", removals);
    CHECK (twice == 0, "%d entries seen twice", twice);
    CHECK (missed == 0, "%d surviving entries missed (%d pages, %d removals)",
           missed, pages, removals);
    alert_table_destroy (&table);
}

int
main (void)
{
    static model_t model [KEYS];
    for (int index = 0; index < KEYS; index++) {
        snprintf (model [index].source, sizeof model [index].source, "host%d", index % 7);
        snprintf (model [index].id, sizeof model [index].id, "check-%d", index);
    }
    alert_table_t *table = alert_table_new ();
    srand (11);

    TEST ("finds, adds and removals agree with a plain array");
    size_t live = 0;
    for (int step = 0; step < 200000; step++) {
        model_t *key = &model [rand () % KEYS];
        entry_t *found = alert_table_find (table, key->source, key->id);
        if (!CHECK (found == key->entry, "step %d: %s/%s found %p, expected %p",
                    step, key->source, key->id, (void *) found, (void *) key->entry))
            break;
        if (!found) {
            key->entry = alert_table_add (table, key->source, key->id);
            live++;
            CHECK (strcmp (key->entry->alert.id, key->id) == 0, "added the wrong id");
        }
        else
        if (rand () % 3 == 0) {
            alert_table_remove (table, found);
            key->entry = NULL;
            live--;
        }
    }
    CHECK (alert_table_size (table) == live, "size %zu, expected %zu",
           alert_table_size (table), live);

    TEST ("prefetched lookups by hash find what plain lookups find");
    size_t agreed = 0;
    for (int index = 0; index < KEYS; index++) {
        model_t *key = &model [index];
        alert_source_t source = alert_table_source (key->source);
        alert_key_t found = alert_table_key (&source, key->id);
        CHECK (!key->entry || found.hash == key->entry->key_hash,
               "a caller's key and the table's disagree on the hash");
        alert_table_prefetch_slot (table, found.hash);
        alert_table_prefetch_entry (table, found.hash);
        agreed += alert_table_find_key (table, &found) == key->entry;
    }
    CHECK (agreed == KEYS, "%zu of %d keys agree", agreed, KEYS);
    const model_t *live_key = NULL;
    for (int index = 0; index < KEYS && !live_key; index++)
        live_key = model [index].entry ? &model [index] : NULL;
    if (CHECK (live_key, "no live key left")) {
        alert_source_t source = alert_table_source (live_key->source);
        alert_key_t wrong = alert_table_key (&source, live_key->id);
        wrong.hash++;
        CHECK (!alert_table_find_key (table, &wrong), "a lookup under the wrong hash must miss");
    }

    TEST ("counts by state follow adds, recounts and removals");
    for (size_t index = 0; index < alert_table_span (table); index++) {
        entry_t *entry = alert_table_at (table, index);
        if (!entry)
            continue;
        entry->alert.state = (alert_state_t) (index % (ALERT_CLEARED + 1));
        alert_table_recount (table, entry);
    }
    for (int index = 0; index < KEYS; index += 5)
        if (model [index].entry) {
            alert_table_remove (table, model [index].entry);
            model [index].entry = NULL;
            live--;
        }
    size_t scanned [ALERT_CLEARED + 1] = { 0 };
    for (size_t index = 0; index < alert_table_span (table); index++)
        if (alert_table_at (table, index))
            scanned [alert_table_at (table, index)->alert.state]++;
    for (int state = ALERT_PENDING; state <= ALERT_CLEARED; state++)
        CHECK (alert_table_count (table, (alert_state_t) state) == scanned [state],
               "%s: counted %zu, scanned %zu", alert_state_name ((alert_state_t) state),
               alert_table_count (table, (alert_state_t) state), scanned [state]);

    TEST ("the array holds every live entry exactly once, in ordinal order");
    size_t seen = 0;
    for (size_t index = 0; index < alert_table_span (table); index++) {
        if (index > 0)
            CHECK (alert_table_ordinal (table, index - 1) < alert_table_ordinal (table, index),
                   "ordinals out of order at %zu", index);
        entry_t *entry = alert_table_at (table, index);
        if (!entry)
            continue;
        CHECK (entry->table_index == index, "entry %zu says it is at %zu", index,
               entry->table_index);
        seen += alert_table_find (table, entry->alert.source, entry->alert.id) == entry;
    }
    CHECK (seen == live, "found %zu of %zu live entries", seen, live);
    CHECK (alert_table_span (table) - alert_table_size (table) <= alert_table_span (table) / 4,
           "%zu holes in %zu positions: not compacted",
           alert_table_span (table) - alert_table_size (table), alert_table_span (table));

    s_test_paging ();

    TEST ("the same id under two sources is two alerts");
    entry_t *one = alert_table_add (table, "a", "same");
    entry_t *two = alert_table_add (table, "b", "same");
    CHECK (one != two && alert_table_find (table, "a", "same") == one
           && alert_table_find (table, "b", "same") == two, "sources were mixed up");
    CHECK (!alert_table_find (table, "a\x1fsame", ""), "the separator was ambiguous");

    TEST ("adopting a loaded alert takes over its fields but keeps its own key");
    alert_t loaded = { .source = strdup ("c"), .id = strdup ("loaded"),
                       .subject = strdup ("disk"), .state = ALERT_RAISED };
    entry_t *adopted = alert_table_adopt (table, &loaded);
    CHECK (alert_table_find (table, "c", "loaded") == adopted, "not found after adopt");
    CHECK (adopted->alert.state == ALERT_RAISED && strcmp (adopted->alert.subject, "disk") == 0,
           "fields were not taken over");
    CHECK (!loaded.source && !loaded.subject, "the loaded alert was not emptied");

    TEST ("a detached entry is out of the table, its key free for a new one, and kept");
    size_t size_before = alert_table_size (table);
    alert_table_detach (table, one);
    CHECK (!alert_table_find (table, "a", "same") && alert_table_size (table) == size_before - 1,
           "still found after detach");
    entry_t *again = alert_table_add (table, "a", "same");
    CHECK (alert_table_find (table, "a", "same") == again && again != one,
           "the key's new entry is not the one found");
    CHECK (strcmp (one->alert.source, "a") == 0 && strcmp (one->alert.id, "same") == 0,
           "the detached entry lost its key");
    alert_table_entry_free (&one);
    CHECK (!one, "freed");

    alert_table_destroy (&table);
    return check_done ();
}
