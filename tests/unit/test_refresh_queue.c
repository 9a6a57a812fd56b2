/*  test_refresh_queue.c — the broker's refresh queue keeps arrival order
    across wrap-around and growth, against a plain counter model.
*/
#include "../check.h"
#include "../../broker/refresh_queue.h"

#define ENTRIES 5000

int
main (void)
{
    static entry_t entries [ENTRIES];
    refresh_queue_t *queue = refresh_queue_new ();
    size_t pushed = 0, popped = 0;

    TEST ("pushes and pops in bursts come out in arrival order, with their ticks and marks");
    for (int round = 0; round < 40 && pushed < ENTRIES; round++) {
        //  push more than pop, so the ring wraps and then grows
        for (int count = 0; count < 97 + round * 7 && pushed < ENTRIES; count++, pushed++)
            refresh_queue_push (queue, &entries [pushed], (int64_t) pushed * 3, pushed * 7);
        size_t pop = refresh_queue_size (queue) * 2 / 3;
        for (size_t index = 0; index < refresh_queue_size (queue); index++) {
            int64_t since;
            entry_t *entry = refresh_queue_peek (queue, index, &since);
            if (!CHECK (entry == &entries [popped + index] && since == (int64_t) (popped + index) * 3
                        && refresh_queue_mark (queue, index) == (popped + index) * 7,
                        "round %d, position %zu: entry %td, since %lld", round, index,
                        entry - entries, (long long) since))
                break;
        }
        refresh_queue_pop (queue, pop);
        popped += pop;
        CHECK (refresh_queue_size (queue) == pushed - popped, "size %zu, expected %zu",
               refresh_queue_size (queue), pushed - popped);
    }

    TEST ("popping everything empties it, and it fills again from the start");
    refresh_queue_pop (queue, refresh_queue_size (queue));
    CHECK (refresh_queue_size (queue) == 0, "size %zu", refresh_queue_size (queue));
    refresh_queue_push (queue, &entries [0], 42, 0);
    int64_t since = 0;
    CHECK (refresh_queue_peek (queue, 0, &since) == &entries [0] && since == 42, "first entry");
    refresh_queue_destroy (&queue);
    CHECK (queue == NULL, "destroy leaves NULL");
    return check_done ();
}
