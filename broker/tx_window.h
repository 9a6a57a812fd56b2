/*  tx_window.h — transmission ids seen in the last few minutes.

    A sender that retries may send the same batch twice; each batch carries a
    random `tx`, and the broker drops a tx it has seen within the window.
    Memory is bounded: past TX_WINDOW_MAX ids the oldest are forgotten early
    (a duplicate that old is then applied again, which is harmless for
    alerts: the same event twice is a refresh).
*/
#ifndef LILAC_TX_WINDOW_H
#define LILAC_TX_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#define TX_WINDOW_MS   (5 * 60 * 1000)     //  how long a tx is remembered
#define TX_WINDOW_MAX  1000000             //  most ids remembered at once

typedef struct _tx_window_t tx_window_t;

tx_window_t *tx_window_new (void);
void tx_window_destroy (tx_window_t **self_p);
//  True if tx was seen within the window; otherwise remembers it and
//  returns false.
bool tx_window_seen (tx_window_t *self, const char *tx, int64_t now);
size_t tx_window_size (tx_window_t *self);

#endif
