/*  hash.c — FNV-1a, 64 bits. See hash.h. */
#include <string.h>
#include "hash.h"

#define HASH_FNV1A_PRIME  0x100000001b3ULL

uint64_t
hash_fnv1a (uint64_t hash, const void *bytes, size_t size)
{
    const unsigned char *byte = bytes;
    for (size_t index = 0; index < size; index++)
        hash = (hash ^ byte [index]) * HASH_FNV1A_PRIME;
    return hash;
}

uint64_t
hash_fnv1a_string (uint64_t hash, const char *text)
{
    return text ? hash_fnv1a (hash, text, strlen (text)) : hash;
}
