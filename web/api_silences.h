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
    source label (config source_label, `instance` by default) with `=` is
    the source glob (the value, glob characters escaped), so it covers
    alerts from any ingest; every other matcher is a label matcher with the
    same operator (=, !=, =~, !~). Alertmanager-ingested alerts keep all
    their labels (alertname too), so `alertname=X` matches them. Regexes
    are POSIX extended (anchored), not Go's RE2: the common subset agrees.
    Back out, the source glob and the id and subject globs are matchers
    named source_label, `id` and `subject` (a regex when the glob has
    wildcards). `createdBy` is who lilac-web says made the request
    (web_user), never the body's; the comment is the note.
*/
#ifndef LILAC_API_SILENCES_H
#define LILAC_API_SILENCES_H

#include "web_internal.h"

enum MHD_Result api_silences_list (web_t *web, http_request_t *request);
enum MHD_Result api_silences_add (web_t *web, http_request_t *request);
enum MHD_Result api_silences_expire (web_t *web, http_request_t *request);

enum MHD_Result api_silences_am_status (web_t *web, http_request_t *request);
enum MHD_Result api_silences_am_list (web_t *web, http_request_t *request);
enum MHD_Result api_silences_am_add (web_t *web, http_request_t *request);
enum MHD_Result api_silences_am_get (web_t *web, http_request_t *request);
enum MHD_Result api_silences_am_delete (web_t *web, http_request_t *request);

#endif
