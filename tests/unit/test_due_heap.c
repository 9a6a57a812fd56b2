/*  test_due_heap.c — the due heap against a sorted list: random inserts,
    moves and removals must always leave the earliest entry on top.
*/
#include <stdlib.h>
#include "../check.h"
#include "../../broker/due_heap.h"

#define ENTRIES 2000

static int64_t
s_true_minimum (entry_t *entries, int count)
{
    int64_t minimum = 0;
    for (int index = 0; index < count; index++)
        if (entries [index].due_at && (!minimum || entries [index].due_at < minimum))
            minimum = entries [index].due_at;
    return minimum;
}

int
main (void)
{
    TEST ("the top is always the earliest after random sets, moves and removals");
    static entry_t entries [ENTRIES];
    for (int index = 0; index < ENTRIES; index++)
        entries [index].heap_index = ALERT_TABLE_NOWHERE;
    due_heap_t *heap = due_heap_new ();
    srand (7);
    for (int step = 0; step < 50000; step++) {
        entry_t *entry = &entries [rand () % ENTRIES];
        int64_t due = rand () % 4 == 0 ? 0 : 1 + rand () % 100000;
        due_heap_set (heap, entry, due);
        entry_t *top = due_heap_due (heap, INT64_MAX);
        int64_t minimum = s_true_minimum (entries, ENTRIES);
        if (!CHECK ((top ? top->due_at : 0) == minimum, "step %d: top %ld, minimum %ld",
                    step, top ? (long) top->due_at : 0L, (long) minimum))
            break;
        if (step % 997 == 0) {
            size_t in_heap = 0;
            for (int index = 0; index < ENTRIES; index++)
                in_heap += entries [index].heap_index != ALERT_TABLE_NOWHERE;
            CHECK (in_heap == due_heap_size (heap), "size %zu, counted %zu",
                   due_heap_size (heap), in_heap);
        }
    }
    TEST ("refreshes that only push due times later keep the earliest on top");
    for (int step = 0; step < 50000; step++) {
        entry_t *entry = &entries [rand () % ENTRIES];
        if (entry->heap_index == ALERT_TABLE_NOWHERE)
            continue;
        due_heap_set (heap, entry, entry->due_at + 1 + rand () % 1000);
        entry_t *top = due_heap_due (heap, INT64_MAX);
        int64_t minimum = s_true_minimum (entries, ENTRIES);
        if (!CHECK (top && top->due_at == minimum, "step %d: top %ld, minimum %ld",
                    step, top ? (long) top->due_at : 0L, (long) minimum))
            break;
    }
    TEST ("draining yields entries in due order");
    int64_t previous = 0;
    entry_t *top;
    while ((top = due_heap_due (heap, INT64_MAX))) {
        CHECK (top->due_at >= previous, "out of order: %ld after %ld",
               (long) top->due_at, (long) previous);
        previous = top->due_at;
        due_heap_set (heap, top, 0);
    }
    due_heap_destroy (&heap);
    return check_done ();
}
