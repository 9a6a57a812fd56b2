/*  mem.h — allocation that cannot return NULL.

    Like Redis's zmalloc: a daemon that cannot get a few bytes for an alert
    has no sane way to go on, so running out of memory is logged and ends the
    program (exit 1) instead of threading NULL checks through every string
    copy. Use these for small, bounded allocations; for sizes that come from
    outside, check limits first (wire.h).
*/
#ifndef LILAC_MEM_H
#define LILAC_MEM_H

#include <stddef.h>

void *mem_alloc (size_t size);                  //  zeroed
void *mem_realloc (void *pointer, size_t size);
char *mem_strdup (const char *text);            //  NULL stays NULL
void mem_free (void *pointer);                  //  free(); NULL is a no-op

//  Replaces the string at *setting by a copy of value (NULL allowed),
//  freeing the old one: for settings read in layers (defaults, file, options).
void mem_replace (char **setting, const char *value);

#endif
