/*  json.h — every JSON lilac reads or writes, through jansson.

    jansson (libjansson-dev) is the one JSON library of the project
    (README "Two commands": why each dependency is there); this module is the little lilac adds on top of it:
    - writing: a msgpack object (a reply, a change, a frame seen by tap)
      becomes a json_t, and a json_t becomes one line of compact text;
    - reading: a JSON object from outside (an HTTP API's answer), with a
      size limit, and a few typed getters over it.

    msgpack → JSON, value by value: maps become objects in their own key
    order (duplicate keys: the last one wins, as a JSON reader would keep
    it); arrays, booleans and nil map as they are; integers stay integers,
    except a positive one above INT64_MAX, which becomes the nearest real
    (jansson's integers are int64, and JSON readers hold numbers as doubles
    anyway); floats are reals, NaN and infinities null; strings and bin
    are strings, every byte that is not UTF-8 replaced by U+FFFD; ext is
    null. A map key that is a string or bin is its bytes (U+FFFD as above,
    and for NUL bytes too: jansson, lilac's own reader, refuses keys with
    NUL); any other key is its own compact JSON text (7 → "7", [1] → "[1]").
    So every text written here reads back with jansson (JSON_ALLOW_NUL:
    string values keep their NUL bytes, as \u0000).
    Values nested deeper than JSON_MSGPACK_DEPTH are null. msgpack_objects
    from wire_doc_new are at most WIRE_MAX_DEPTH deep; the bound is for
    objects msgpack-c unpacked itself (tap reads any frame on the bus).

    jansson names everything json_*; our names are checked against its
    header at every build (this file includes it: a clash does not compile).
    Every function here returns NULL (or -1) when an allocation fails and
    leaves nothing allocated behind.
*/
#ifndef LILAC_JSON_H
#define LILAC_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <msgpack.h>

#define JSON_MSGPACK_DEPTH  64         //  msgpack nesting converted; deeper is null

//  --- writing ----------------------------------------------------------------------------

//  The JSON value of a msgpack object (see above); NULL object is null.
//  A new reference (json_decref it), or NULL when out of memory.
json_t *json_from_msgpack (const msgpack_object *object);
//  A JSON string of size bytes, any that are not UTF-8 replaced by U+FFFD
//  (NUL bytes are kept: jansson writes them as \u0000). NULL text is null.
//  A new reference, or NULL when out of memory.
json_t *json_string_lossy (const char *text, size_t size);
//  One line of compact JSON (no white space, keys in insertion order, no
//  newline). Any value, not only objects and arrays. A fresh string (free
//  it with free()), or NULL when value is NULL or out of memory.
char *json_text (const json_t *value);
//  json_text of json_from_msgpack: what `lilac` and `lilac tap` print.
char *json_text_from_msgpack (const msgpack_object *object);

//  --- reading ----------------------------------------------------------------------------

//  Parses text (size bytes, need not be NUL-terminated) as one JSON object:
//  at most max_size bytes, nothing but white space after it, no duplicate
//  keys, no NUL inside strings, nesting as deep as jansson allows (2048).
//  A new reference, or NULL with the reason in error ("too large", "not an
//  object", or jansson's "line:column: text").
json_t *json_read_object (const char *text, size_t size, size_t max_size,
                          char *error, size_t error_size);
//  The typed getters read one member of object (NULL object: absent).
//  Return 0 found, -1 absent or of another type; *value / out untouched
//  unless found.
//  An integer: a JSON integer, true (1), false (0), or a string holding a
//  decimal integer ("1"), as some APIs send.
int json_get_int (const json_t *object, const char *key, int64_t *value);
//  A string, copied into out (out_size bytes, NUL included). cut: a longer
//  one is cut at a character boundary; !cut: a longer one is not found (an
//  identifier cut short is a wrong identifier).
int json_get_string (const json_t *object, const char *key, char *out, size_t out_size,
                     bool cut);
//  An array's strings joined with separator, cut at a character boundary
//  to fit out; other elements are skipped. Found (0) even when empty.
int json_get_strings (const json_t *object, const char *key, const char *separator,
                      char *out, size_t out_size);

#endif
