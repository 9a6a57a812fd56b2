/*  api_silences.h — silences over HTTP: lilac's own routes and the
    Alertmanager API v2 ones amtool uses.

    lilac's own (matchers as the broker's silence_add takes them):
      GET  /api/silences              → 200 {silences: [...]}
      POST /api/silences              {matchers: {source?, id?, subject?,
                                       labels?: ["K=V", "K!=V", "K=~RE",
                                       "K!~RE"]}, starts?, ends, note?}
                                      → 200 {silence: {...}}
      POST /api/silences/ID/expire    → 200 {silence: {...}}
        errors: 400 a bad body or refused silence (the broker's reason),
        404 no such silence, 503 the broker did not answer; {"error"}.
      Times are the broker's specs ("+2h", epoch seconds) or RFC 3339.

    Alertmanager API v2 (enough for `amtool silence add|query|expire`):
      GET    /api/v2/status           a minimal status (cluster "ready")
      GET    /api/v2/silences         AM's silence objects; `filter`
                                      arguments as Alertmanager reads them
      POST   /api/v2/silences         AM's postable silence → {silenceID}
      DELETE /api/v2/silence/ID       → 200 (expires it)

    The mapping of an AM matcher {name, value, isRegex, isEqual}: the
    source label (config source_label, `instance` by default) with `=` and
    a value is the source glob (the value, glob characters escaped), so it
    covers alerts from any ingest; every other matcher is a label matcher
    with the same operator (=, !=, =~, !~), and the same meaning: a name
    with '=' or '!' is refused, an `=` value that starts with '~' becomes
    the regex of itself, isEqual and isRegex are booleans (absent or null:
    true and false, Alertmanager's defaults). Alertmanager-ingested alerts
    keep all their labels (alertname too), so `alertname=X` matches them.
    Regexes are POSIX extended (anchored), not Go's RE2: the common subset
    agrees.
    Back out, the source glob and the id and subject globs are matchers
    named source_label, `id` and `subject` (a regex when the glob has
    wildcards). `createdBy` is who lilac-web says made the request
    (web_user), never the body's; the comment is the note.

    The bodies are read by pure functions (api_silence_parse for lilac's,
    api_silence_parse_am for Alertmanager's: bytes in, the silence_add
    request's strings or a sentence out; no HTTP, no broker), which the
    routes call and the fuzz targets of tests/fuzz feed hostile bytes.
*/
#ifndef LILAC_API_SILENCES_H
#define LILAC_API_SILENCES_H

#include "silence.h"
#include "web_internal.h"

#define API_SILENCE_BODY_MAX (64 * 1024)          //  a silence's body, at most
#define API_MATCHER_SIZE     (WIRE_MAX_LABEL_KEY + WIRE_MAX_LABEL_VALUE + 8)
#define API_GLOB_SIZE        (2 * WIRE_MAX_NAME + 1)   //  a value with its escapes
#define API_TIME_SIZE        40                   //  a time spec or epoch seconds

//  A silence as a body asks for it: the strings of the broker's
//  silence_add (ctl_silence_t), "" for what the body does not say.
typedef struct {
    char source [API_GLOB_SIZE];   //  globs of at most WIRE_MAX_NAME bytes
    char id [API_GLOB_SIZE];
    char subject [API_GLOB_SIZE];
    char *labels [SILENCE_MAX_LABELS];   //  label_count matchers "K=V" (!=, =~, !~), owned
    size_t label_count;
    char starts [API_TIME_SIZE];   //  a time spec or epoch seconds, as the broker reads them
    char ends [API_TIME_SIZE];     //  the same; never "" once read
    char note [WIRE_MAX_NOTE + 1]; //  the note (Alertmanager's comment)
} api_silence_t;

//  Reads the body of POST /api/silences (size bytes, not necessarily
//  NUL-terminated) into *out, and refuses what the broker would: no
//  matcher, a label matcher silence_label_parse refuses (a bad regex),
//  times that are not times at now_ms, or an end not after the start and
//  now_ms. 0, or -1 with a sentence in error (then nothing is left to
//  free).
int api_silence_parse (const char *body, size_t size, int64_t now_ms, api_silence_t *out,
                       char *error, size_t error_size);
//  The same for Alertmanager's POST /api/v2/silences; source_label is the
//  label that names an alert's source (config source_label).
int api_silence_parse_am (const char *body, size_t size, const char *source_label,
                          int64_t now_ms, api_silence_t *out, char *error, size_t error_size);
//  Frees the label matchers of a silence read.
void api_silence_free (api_silence_t *self);
//  The broker's silence_add request for a silence read, by by, into writer
//  (initialized here; the caller frees it). The route and the fuzz target
//  pack through this one function.
void api_silence_request (const api_silence_t *silence, const char *by, wire_writer_t *writer);

enum MHD_Result api_silences_list (web_t *web, http_request_t *request);
enum MHD_Result api_silences_add (web_t *web, http_request_t *request);
enum MHD_Result api_silences_expire (web_t *web, http_request_t *request);

enum MHD_Result api_silences_am_status (web_t *web, http_request_t *request);
enum MHD_Result api_silences_am_list (web_t *web, http_request_t *request);
enum MHD_Result api_silences_am_add (web_t *web, http_request_t *request);
enum MHD_Result api_silences_am_get (web_t *web, http_request_t *request);
enum MHD_Result api_silences_am_delete (web_t *web, http_request_t *request);

#endif
