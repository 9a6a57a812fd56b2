/*  config.h — the one config loader: ZPL files (ZeroMQ RFC 4) with line numbers.

    We parse ZPL ourselves rather than with zconfig because every error must
    name file:line — a wrong value as much as a syntax error — and zconfig
    does not keep line numbers. The tree is what ZPL describes: each node has
    a name, an optional value, a line, and children indented four spaces
    deeper. Paths use "/" ("broker/ingest"). Values may be quoted with " or '.

    Programs read typed values with config_string/config_duration/... which
    fill in defaults and report bad values as "FILE:LINE: key: why".
    config_check_keys() rejects keys a section does not know, so a typo is an
    error rather than a silently ignored setting.

    In messages, "path" is the node's full path from the root
    ("broker/grace"), whatever node the getter was called on; the root
    itself is named "root".
*/
#ifndef LILAC_CONFIG_H
#define LILAC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_ERROR_SIZE 512       //  enough for "file:line: message"

typedef struct _config_t config_t;

//  Loads path. On failure returns NULL and writes "FILE:LINE: why" to error.
config_t *config_load (const char *path, char *error, size_t error_size);
//  Parses text as if read from a file named `name` (for tests).
config_t *config_parse (const char *text, const char *name, char *error, size_t error_size);
//  Destroys the tree; NULL is a no-op.
void config_destroy (config_t **self_p);

//  Navigation. config_locate returns the node at path, or NULL.
config_t *config_locate (config_t *self, const char *path);
config_t *config_child (config_t *self);        //  first child or NULL
config_t *config_next (config_t *self);         //  next sibling or NULL
const char *config_name (config_t *self);
const char *config_value (config_t *self);      //  "" when the node has none
int config_line (config_t *self);
const char *config_file (config_t *self);

//  Typed getters under `self` at `path`. A missing key yields the default and
//  returns 0; a bad value returns -1 with "FILE:LINE: path: why" in error.
int config_string (config_t *self, const char *path, const char *fallback,
                   const char **value);
//  Where a key of a section is, for error messages: "FILE:LINE: NAME/KEY"
//  when section holds the key, else "NAME/KEY" (section may be NULL).
void config_key_where (config_t *section, const char *name, const char *key,
                       char *where, size_t size);
//  A fresh copy (mem_free it) of the string at path, or NULL when self is
//  NULL, the key is missing or its value is empty: optional settings.
char *config_string_copy (config_t *self, const char *path);
int config_duration (config_t *self, const char *path, int64_t fallback_ms,
                     int64_t *ms, char *error, size_t error_size);
int config_integer (config_t *self, const char *path, int64_t fallback,
                    int64_t min, int64_t max, int64_t *value,
                    char *error, size_t error_size);
int config_boolean (config_t *self, const char *path, bool fallback,
                    bool *value, char *error, size_t error_size);

//  The items of a list setting ("alice, bob", "::1 127.0.0.1"): the next
//  item of text, separated by commas or white space, into out (cut to
//  fit). Returns where the one after starts, or NULL when none is left.
//      for (const char *at = list; (at = config_list_next (at, item, sizeof item)); )
const char *config_list_next (const char *text, char *out, size_t out_size);

//  Every child of self must be named in `known` (NULL-terminated), and no
//  key (a child without children) may be set twice. Returns 0, or -1 with
//  "FILE:LINE: unknown key 'x' in section 'y'" or "FILE:LINE: 'x' is set
//  twice (first at line N)" in error.
int config_check_keys (config_t *self, const char *const *known,
                       char *error, size_t error_size);

#endif
