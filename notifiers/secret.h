/*  secret.h — reading a notifier's secrets (tokens, keys, passwords) the
    one way every destination does: the key itself in the config, else
    the file a second key names (its first line), else an environment
    variable. Logs say where a secret came from, never what it is.
*/
#ifndef LILAC_SECRET_H
#define LILAC_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include "config.h"

#define SECRET_MAX  1024               //  bytes of a secret at most

//  Reads section's key, else the file named by file_key, else $variable
//  (NULL: no variable). *value is a fresh string (free with
//  secret_free), or NULL when none of them is set. quiet: log nothing
//  (the -n check). A secret is one word of printable characters. 0, or
//  -1 with "FILE:LINE: SECTION/KEY: why" in error.
int secret_read (config_t *section, const char *key, const char *file_key,
                 const char *variable, bool quiet, char **value,
                 char *error, size_t error_size);
//  Wipes and frees *value; NULL is a no-op.
void secret_free (char **value);

#endif
