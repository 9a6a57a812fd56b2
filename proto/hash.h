/*  hash.h — FNV-1a, 64 bits: the one short, stable hash lilac uses to name
    things without showing them (a secret's fingerprint in a log), to tell
    keys apart (a Pushover tag, an Alertmanager fingerprint, a mail thread's
    root, a Matrix txnId). Not for tables an attacker fills: it is not
    keyed.
*/
#ifndef LILAC_HASH_H
#define LILAC_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV1A_START  0xcbf29ce484222325ULL   //  the offset basis

//  hash continued over size bytes.
uint64_t hash_fnv1a (uint64_t hash, const void *bytes, size_t size);
//  hash continued over a string's bytes, without its NUL (NULL is "").
uint64_t hash_fnv1a_string (uint64_t hash, const char *text);

#endif
