/*  bytes.h — short byte strings read a word at a time.

    Keys, names and ids are a few bytes to a few dozen: a libc call
    (strcmp, memcmp) or a byte loop for each costs more than the bytes do
    on the ingest path (perf). These read them in words of 8, 4, 2 or 1
    bytes, the last word overlapping the one before it instead of a byte
    loop for the tail, and never a byte outside the string.
*/
#ifndef LILAC_BYTES_H
#define LILAC_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

//  The 8, 4, 2 or 1 bytes at bytes, zero-extended: one load.
static inline uint64_t
bytes_load (const void *bytes, size_t width)
{
    uint64_t word;
    uint32_t half;
    uint16_t quarter;
    if (width == 8)
        memcpy (&word, bytes, 8);
    else
    if (width == 4)
        memcpy (&half, bytes, 4), word = half;
    else
    if (width == 2)
        memcpy (&quarter, bytes, 2), word = quarter;
    else
        word = *(const unsigned char *) bytes;
    return word;
}

//  The widest word no longer than size (which is at least 1).
static inline size_t
bytes_width (size_t size)
{
    return size >= 8 ? 8 : size >= 4 ? 4 : size >= 2 ? 2 : 1;
}

//  True if the size bytes at a and at b are the same.
static inline bool
bytes_equal (const void *a, const void *b, size_t size)
{
    if (size == 0)
        return true;
    const unsigned char *left = a, *right = b;
    size_t width = bytes_width (size);
    uint64_t differ = bytes_load (left + size - width, width)
                    ^ bytes_load (right + size - width, width);
    for (size_t index = 0; index + width <= size; index += width)
        differ |= bytes_load (left + index, width) ^ bytes_load (right + index, width);
    return differ == 0;
}

//  Stores the low width bytes (8, 4, 2 or 1) of word at at: one store.
static inline void
bytes_store (void *at, uint64_t word, size_t width)
{
    uint32_t half = (uint32_t) word;
    uint16_t quarter = (uint16_t) word;
    if (width == 8)
        memcpy (at, &word, 8);
    else
    if (width == 4)
        memcpy (at, &half, 4);
    else
    if (width == 2)
        memcpy (at, &quarter, 2);
    else
        *(unsigned char *) at = (unsigned char) word;
}

//  Copies size bytes, at most 16, from src to dst (which do not overlap):
//  the first and the last word, which overlap each other when size is not
//  a word's, no call.
static inline void
bytes_copy_short (void *dst, const void *src, size_t size)
{
    if (size == 0)
        return;
    unsigned char *to = dst;
    const unsigned char *from = src;
    size_t width = bytes_width (size);
    uint64_t first = bytes_load (from, width), last = bytes_load (from + size - width, width);
    bytes_store (to, first, width);
    bytes_store (to + size - width, last, width);
}

#endif
