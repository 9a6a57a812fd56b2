/*  mem.c — allocation that ends the program instead of returning NULL.
    See mem.h for why.
*/
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "mem.h"

static void
s_out_of_memory (size_t size)
{
    log_fatal ("out of memory allocating %zu bytes", size);
}

void *
mem_alloc (size_t size)
{
    void *pointer = calloc (1, size ? size : 1);
    if (!pointer)
        s_out_of_memory (size);
    return pointer;
}

void *
mem_realloc (void *pointer, size_t size)
{
    void *resized = realloc (pointer, size ? size : 1);
    if (!resized)
        s_out_of_memory (size);
    return resized;
}

char *
mem_strdup (const char *text)
{
    if (!text)
        return NULL;
    size_t size = strlen (text) + 1;
    char *copy = malloc (size);
    if (!copy)
        s_out_of_memory (size);
    memcpy (copy, text, size);
    return copy;
}

void
mem_free (void *pointer)
{
    free (pointer);
}

void
mem_replace (char **setting, const char *value)
{
    mem_free (*setting);
    *setting = mem_strdup (value);
}
