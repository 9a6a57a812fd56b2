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
        uint32_t hash = alert_table_hash (key->source, key->id);
        for (int stage = 0; stage < ALERT_TABLE_PREFETCH_STAGES; stage++)
            alert_table_prefetch (table, hash, stage);
        agreed += alert_table_find_hashed (table, hash, key->source, key->id) == key->entry;
    }
    CHECK (agreed == KEYS, "%zu of %d keys agree", agreed, KEYS);
    const model_t *live_key = NULL;
    for (int index = 0; index < KEYS && !live_key; index++)
        live_key = model [index].entry ? &model [index] : NULL;
    if (CHECK (live_key, "no live key left"))
        CHECK (!alert_table_find_hashed (table, alert_table_hash (live_key->source,
                                         live_key->id) + 1, live_key->source, live_key->id),
               "a lookup under the wrong hash must miss");

    TEST ("counts by state follow adds, recounts and removals");
    for (size_t index = 0; index < alert_table_size (table); index++) {
        entry_t *entry = alert_table_at (table, index);
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
    for (size_t index = 0; index < alert_table_size (table); index++)
        scanned [alert_table_at (table, index)->alert.state]++;
    for (int state = ALERT_PENDING; state <= ALERT_CLEARED; state++)
        CHECK (alert_table_count (table, (alert_state_t) state) == scanned [state],
               "%s: counted %zu, scanned %zu", alert_state_name ((alert_state_t) state),
               alert_table_count (table, (alert_state_t) state), scanned [state]);

    TEST ("the dense array holds every live entry exactly once");
    size_t seen = 0;
    for (size_t index = 0; index < alert_table_size (table); index++) {
        entry_t *entry = alert_table_at (table, index);
        CHECK (entry->table_index == index, "entry %zu says it is at %zu", index,
               entry->table_index);
        seen += alert_table_find (table, entry->alert.source, entry->alert.id) == entry;
    }
    CHECK (seen == live, "found %zu of %zu live entries", seen, live);

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

    alert_table_destroy (&table);
    return check_done ();
}
