/*  secret.c — a notifier's secrets, read one way. See secret.h.

    The value is trimmed and must be one word of printable characters: it
    goes into forms, URLs and headers, where a space or a newline would
    change what is sent. Buffers that held a secret are wiped.
*/
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "mem.h"
#include "secret.h"

//  "FILE:LINE: SECTION/KEY" for a key of section, or "SECTION/KEY".
static void
s_where (config_t *section, const char *key, char *where, size_t size)
{
    config_key_where (section, section ? config_name (section) : "?", key, where, size);
}

int
secret_read (config_t *section, const char *key, const char *file_key, const char *variable,
               bool quiet, char **value, char *error, size_t error_size)
{
    const char *inline_value = NULL, *file = NULL;
    if (section) {
        config_string (section, key, NULL, &inline_value);
        config_string (section, file_key, NULL, &file);
    }
    char where [400];
    char text [SECRET_MAX + 2] = "";
    *value = NULL;
    if (inline_value && *inline_value && file && *file) {
        s_where (section, file_key, where, sizeof where);
        snprintf (error, error_size, "%s: %s is set too: give one of them", where, key);
        return -1;
    }
    if (inline_value && *inline_value) {
        snprintf (text, sizeof text, "%s", inline_value);
        if (!quiet)
            log_info ("%s from the config file", key);
    }
    else
    if (file && *file) {
        s_where (section, file_key, where, sizeof where);
        FILE *handle = fopen (file, "r");
        if (!handle) {
            snprintf (error, error_size, "%s: cannot read %s: %s", where, file, strerror (errno));
            return -1;
        }
        if (!fgets (text, sizeof text, handle))
            text [0] = 0;
        fclose (handle);
        text [strcspn (text, "\r\n")] = 0;
        if (!*text) {
            snprintf (error, error_size, "%s: %s holds no %s on its first line", where, file, key);
            return -1;
        }
        if (!quiet)
            log_info ("%s from file %s", key, file);
    }
    else
    if (variable && getenv (variable) && *getenv (variable)) {
        snprintf (text, sizeof text, "%s", getenv (variable));
        if (!quiet)
            log_info ("%s from $%s", key, variable);
    }
    else
        return 0;
    //  Trim, then insist on one plain word: it goes into a form and a URL.
    size_t length = strlen (text);
    while (length && isspace ((unsigned char) text [length - 1]))
        text [--length] = 0;
    const char *start = text;
    while (isspace ((unsigned char) *start))
        start++;
    bool plain = *start != 0 && strlen (start) <= SECRET_MAX;
    for (const char *at = start; *at; at++)
        if (!isgraph ((unsigned char) *at))
            plain = false;
    if (!plain) {
        s_where (section, inline_value && *inline_value ? key : file_key, where, sizeof where);
        snprintf (error, error_size, "%s: the %s must be one word of printable characters"
                  " (at most %d)", where, key, SECRET_MAX);
        explicit_bzero (text, sizeof text);
        return -1;
    }
    *value = mem_strdup (start);
    explicit_bzero (text, sizeof text);
    return 0;
}

void
secret_free (char **value)
{
    if (!value || !*value)
        return;
    explicit_bzero (*value, strlen (*value));
    mem_free (*value);
    *value = NULL;
}
