/*  json_scan.h — reading a few top-level fields of a small JSON object.

    Pushover answers with small flat objects ({"status":1,"request":"..."},
    {"status":0,"errors":["..."]}, a receipt's integers and strings). We
    need a handful of their top-level fields, not a JSON library: these
    functions walk the object once per lookup, skip every value they do not
    want (nested values included, up to JSON_SCAN_MAX_DEPTH), and refuse
    anything malformed. They never read past `size`, never allocate, and
    write at most out_size bytes (NUL included) into the caller's buffer.

    Return convention: 0 found, -1 absent (or of another type), -2 the text
    is not a well-formed JSON object (as far as the scan had to read).
*/
#ifndef LILAC_JSON_SCAN_H
#define LILAC_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>

#define JSON_SCAN_MAX_DEPTH  16        //  nesting skipped inside a value

//  An integer: a JSON number without fraction, true (1), false (0), or a
//  string holding a decimal integer ("1"), as some APIs send.
int json_scan_int (const char *json, size_t size, const char *key, int64_t *value);
//  A string, unescaped to UTF-8 (\uXXXX included, surrogate pairs joined).
//  A value longer than the buffer is cut at a character boundary.
int json_scan_string (const char *json, size_t size, const char *key,
                      char *out, size_t out_size);
//  An array of strings, joined with separator ("; "); other elements are
//  skipped. Found (0) even when empty.
int json_scan_strings (const char *json, size_t size, const char *key,
                       const char *separator, char *out, size_t out_size);

#endif
