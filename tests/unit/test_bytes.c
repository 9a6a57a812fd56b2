/*  test_bytes.c — bytes.h against memcmp and memcpy: every size from 0 to
    40 (each word width, and each way a last word overlaps), a difference
    at every position, and buffers exactly as long as the string, so a
    read past its end is ASan's to see.
*/
#include <stdlib.h>
#include <string.h>
#include "../check.h"
#include "bytes.h"

#define SIZES 40

//  A fresh allocation of exactly size bytes (at least one), filled from seed.
static unsigned char *
s_filled (size_t size, unsigned seed)
{
    unsigned char *bytes = malloc (size ? size : 1);
    if (!bytes)
        abort ();
    for (size_t index = 0; index < size; index++)
        bytes [index] = (unsigned char) (seed + 31 * index);
    return bytes;
}

int
main (void)
{
    TEST ("bytes_equal: the same bytes are equal, and one byte changed anywhere is not");
    size_t wrong = 0;
    for (size_t size = 0; size <= SIZES; size++) {
        unsigned char *left = s_filled (size, 7), *right = s_filled (size, 7);
        wrong += !bytes_equal (left, right, size);
        for (size_t at = 0; at < size; at++)
            for (unsigned flip = 1; flip < 256; flip <<= 1) {
                right [at] ^= (unsigned char) flip;
                wrong += bytes_equal (left, right, size) != (memcmp (left, right, size) == 0);
                right [at] ^= (unsigned char) flip;
            }
        free (left);
        free (right);
    }
    CHECK (wrong == 0, "%zu answers differ from memcmp's", wrong);

    TEST ("bytes_copy_short: copies exactly size bytes, from 0 to 16, and nothing beside");
    wrong = 0;
    for (size_t size = 0; size <= 16; size++) {
        unsigned char *from = s_filled (size, 3);
        unsigned char to [18];
        memset (to, 0xee, sizeof to);
        bytes_copy_short (to + 1, from, size);
        wrong += size && memcmp (to + 1, from, size) != 0;
        wrong += to [0] != 0xee || to [size + 1] != 0xee;
        free (from);
    }
    CHECK (wrong == 0, "%zu copies wrong", wrong);

    TEST ("bytes_load: each width reads its bytes, zero-extended");
    const unsigned char word [8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    uint64_t eight;
    uint32_t four;
    uint16_t two;
    memcpy (&eight, word, 8);
    memcpy (&four, word, 4);
    memcpy (&two, word, 2);
    CHECK (bytes_load (word, 8) == eight && bytes_load (word, 4) == four
           && bytes_load (word, 2) == two && bytes_load (word, 1) == 1, "a load differs");
    CHECK (bytes_width (1) == 1 && bytes_width (3) == 2 && bytes_width (7) == 4
           && bytes_width (8) == 8 && bytes_width (40) == 8, "widths");
    return check_done ();
}
