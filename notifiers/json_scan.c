/*  json_scan.c — a bounded, allocation-free scan of a flat JSON object.

    Every lookup starts again at the opening brace: the objects we read are a
    few hundred bytes, so simplicity beats an index. Keys are compared after
    unescaping, up to JSON_SCAN_KEY_MAX bytes (longer keys never match ours).
    Nested arrays and objects are skipped with an explicit depth limit, so a
    hostile body cannot recurse us off the stack; numbers are read with our
    own digit loop, so there is no locale and no overflow.
*/
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "json_scan.h"

#define JSON_SCAN_KEY_MAX  64          //  bytes of a key kept for comparison

typedef struct {
    const char *at;                    //  next byte to read
    const char *end;                   //  one past the last byte
} cursor_t;

static void
s_space (cursor_t *cursor)
{
    while (cursor->at < cursor->end
       && (*cursor->at == ' ' || *cursor->at == '\t' || *cursor->at == '\n' || *cursor->at == '\r'))
        cursor->at++;
}

static int
s_hex4 (cursor_t *cursor, unsigned *value)
{
    if (cursor->end - cursor->at < 4)
        return -1;
    unsigned result = 0;
    for (int index = 0; index < 4; index++) {
        char c = *cursor->at++;
        result <<= 4;
        if (c >= '0' && c <= '9')
            result |= (unsigned) (c - '0');
        else
        if (c >= 'a' && c <= 'f')
            result |= (unsigned) (c - 'a' + 10);
        else
        if (c >= 'A' && c <= 'F')
            result |= (unsigned) (c - 'A' + 10);
        else
            return -1;
    }
    *value = result;
    return 0;
}

//  Appends bytes to out if the whole sequence fits (so UTF-8 is never cut
//  inside a character); afterwards nothing more is appended.
static void
s_put (char *out, size_t out_size, size_t *used, bool *full, const char *bytes, size_t count)
{
    if (!out || *full)
        return;
    if (*used + count + 1 > out_size) {
        *full = true;
        return;
    }
    memcpy (out + *used, bytes, count);
    *used += count;
    out [*used] = 0;
}

static size_t
s_utf8_encode (unsigned code, char *bytes)
{
    if (code < 0x80) {
        bytes [0] = (char) code;
        return 1;
    }
    if (code < 0x800) {
        bytes [0] = (char) (0xC0 | (code >> 6));
        bytes [1] = (char) (0x80 | (code & 0x3F));
        return 2;
    }
    if (code < 0x10000) {
        bytes [0] = (char) (0xE0 | (code >> 12));
        bytes [1] = (char) (0x80 | ((code >> 6) & 0x3F));
        bytes [2] = (char) (0x80 | (code & 0x3F));
        return 3;
    }
    bytes [0] = (char) (0xF0 | (code >> 18));
    bytes [1] = (char) (0x80 | ((code >> 12) & 0x3F));
    bytes [2] = (char) (0x80 | ((code >> 6) & 0x3F));
    bytes [3] = (char) (0x80 | (code & 0x3F));
    return 4;
}

//  Reads a string at the cursor (which must be at its quote), unescaping
//  into out (may be NULL to skip). 0, or -2 if malformed.
static int
s_string (cursor_t *cursor, char *out, size_t out_size)
{
    size_t used = 0;
    bool full = false;
    if (out && out_size)
        out [0] = 0;
    if (cursor->at >= cursor->end || *cursor->at != '"')
        return -2;
    cursor->at++;
    while (cursor->at < cursor->end) {
        unsigned char c = (unsigned char) *cursor->at++;
        if (c == '"')
            return 0;
        if (c < 0x20)
            return -2;                  //  raw control characters are not JSON
        if (c != '\\') {
            char byte = (char) c;
            //  Multi-byte characters are copied byte by byte; keep them whole
            //  by checking room for the whole sequence at the lead byte.
            if (c >= 0xC0) {
                size_t length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
                if ((size_t) (cursor->end - cursor->at) + 1 < length)
                    return -2;
                s_put (out, out_size, &used, &full, cursor->at - 1, length);
                cursor->at += length - 1;
            }
            else
                s_put (out, out_size, &used, &full, &byte, 1);
            continue;
        }
        if (cursor->at >= cursor->end)
            return -2;
        char escape = *cursor->at++;
        char byte;
        switch (escape) {
            case '"': byte = '"'; break;
            case '\\': byte = '\\'; break;
            case '/': byte = '/'; break;
            case 'b': byte = '\b'; break;
            case 'f': byte = '\f'; break;
            case 'n': byte = '\n'; break;
            case 'r': byte = '\r'; break;
            case 't': byte = '\t'; break;
            case 'u': {
                unsigned code;
                if (s_hex4 (cursor, &code))
                    return -2;
                if (code >= 0xD800 && code <= 0xDBFF) {
                    unsigned low;
                    if (cursor->end - cursor->at < 6 || cursor->at [0] != '\\' || cursor->at [1] != 'u')
                        return -2;
                    cursor->at += 2;
                    if (s_hex4 (cursor, &low) || low < 0xDC00 || low > 0xDFFF)
                        return -2;
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                }
                else
                if (code >= 0xDC00 && code <= 0xDFFF)
                    return -2;
                if (code == 0)
                    code = '?';         //  no NUL inside a C string
                char bytes [4];
                s_put (out, out_size, &used, &full, bytes, s_utf8_encode (code, bytes));
                continue;
            }
            default:
                return -2;
        }
        s_put (out, out_size, &used, &full, &byte, 1);
    }
    return -2;
}

//  Skips one value of any type. 0, or -2.
static int
s_skip (cursor_t *cursor, int depth)
{
    if (depth > JSON_SCAN_MAX_DEPTH)
        return -2;
    s_space (cursor);
    if (cursor->at >= cursor->end)
        return -2;
    char c = *cursor->at;
    if (c == '"')
        return s_string (cursor, NULL, 0);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        cursor->at++;
        s_space (cursor);
        if (cursor->at < cursor->end && *cursor->at == close) {
            cursor->at++;
            return 0;
        }
        while (true) {
            if (c == '{') {
                s_space (cursor);
                if (s_string (cursor, NULL, 0))
                    return -2;
                s_space (cursor);
                if (cursor->at >= cursor->end || *cursor->at != ':')
                    return -2;
                cursor->at++;
            }
            if (s_skip (cursor, depth + 1))
                return -2;
            s_space (cursor);
            if (cursor->at >= cursor->end)
                return -2;
            if (*cursor->at == ',') {
                cursor->at++;
                continue;
            }
            if (*cursor->at == close) {
                cursor->at++;
                return 0;
            }
            return -2;
        }
    }
    //  A number or a literal: a run of the characters they are made of.
    const char *start = cursor->at;
    while (cursor->at < cursor->end
       &&  strchr ("0123456789+-.eEtruefalsn", *cursor->at) && *cursor->at)
        cursor->at++;
    return cursor->at > start ? 0 : -2;
}

//  Leaves the cursor at the value of key in the top-level object.
static int
s_find (const char *json, size_t size, const char *key, cursor_t *cursor)
{
    if (!json || !key)
        return -2;
    cursor->at = json;
    cursor->end = json + size;
    s_space (cursor);
    if (cursor->at >= cursor->end || *cursor->at != '{')
        return -2;
    cursor->at++;
    s_space (cursor);
    if (cursor->at < cursor->end && *cursor->at == '}')
        return -1;
    while (true) {
        char name [JSON_SCAN_KEY_MAX + 1];
        s_space (cursor);
        if (s_string (cursor, name, sizeof name))
            return -2;
        s_space (cursor);
        if (cursor->at >= cursor->end || *cursor->at != ':')
            return -2;
        cursor->at++;
        s_space (cursor);
        if (strcmp (name, key) == 0)
            return 0;
        if (s_skip (cursor, 1))
            return -2;
        s_space (cursor);
        if (cursor->at >= cursor->end)
            return -2;
        if (*cursor->at == '}')
            return -1;
        if (*cursor->at != ',')
            return -2;
        cursor->at++;
    }
}

static int
s_integer_text (const char *text, const char *end, int64_t *value)
{
    bool negative = false;
    if (text < end && *text == '-') {
        negative = true;
        text++;
    }
    if (text >= end || *text < '0' || *text > '9')
        return -1;
    int64_t result = 0;
    while (text < end && *text >= '0' && *text <= '9') {
        if (result > (INT64_MAX - 9) / 10)
            return -1;
        result = result * 10 + (*text++ - '0');
    }
    if (text < end && (*text == '.' || *text == 'e' || *text == 'E'))
        return -1;
    *value = negative ? -result : result;
    return 0;
}

int
json_scan_int (const char *json, size_t size, const char *key, int64_t *value)
{
    cursor_t cursor;
    int rc = s_find (json, size, key, &cursor);
    if (rc)
        return rc;
    const char *end = cursor.end;
    if (cursor.at < end && *cursor.at == '"') {
        char text [32];
        if (s_string (&cursor, text, sizeof text))
            return -2;
        return s_integer_text (text, text + strlen (text), value);
    }
    if ((size_t) (end - cursor.at) >= 4 && memcmp (cursor.at, "true", 4) == 0) {
        *value = 1;
        return 0;
    }
    if ((size_t) (end - cursor.at) >= 5 && memcmp (cursor.at, "false", 5) == 0) {
        *value = 0;
        return 0;
    }
    return s_integer_text (cursor.at, end, value);
}

int
json_scan_string (const char *json, size_t size, const char *key, char *out, size_t out_size)
{
    if (out && out_size)
        out [0] = 0;
    cursor_t cursor;
    int rc = s_find (json, size, key, &cursor);
    if (rc)
        return rc;
    if (cursor.at >= cursor.end || *cursor.at != '"')
        return -1;
    return s_string (&cursor, out, out_size);
}

int
json_scan_strings (const char *json, size_t size, const char *key, const char *separator,
                   char *out, size_t out_size)
{
    if (out && out_size)
        out [0] = 0;
    cursor_t cursor;
    int rc = s_find (json, size, key, &cursor);
    if (rc)
        return rc;
    if (cursor.at >= cursor.end || *cursor.at != '[')
        return -1;
    cursor.at++;
    size_t used = 0;
    bool first = true;
    while (true) {
        s_space (&cursor);
        if (cursor.at >= cursor.end)
            return -2;
        if (*cursor.at == ']')
            return 0;
        if (*cursor.at == '"') {
            char item [1024];
            if (s_string (&cursor, item, sizeof item))
                return -2;
            if (out && out_size) {
                int written = snprintf (out + used, out_size - used, "%s%s",
                                        first ? "" : separator, item);
                if (written > 0)
                    used += (size_t) written < out_size - used ? (size_t) written : out_size - used - 1;
            }
            first = false;
        }
        else
        if (s_skip (&cursor, 2))
            return -2;
        s_space (&cursor);
        if (cursor.at < cursor.end && *cursor.at == ',')
            cursor.at++;
        else
        if (cursor.at < cursor.end && *cursor.at == ']')
            return 0;
        else
            return -2;
    }
}
