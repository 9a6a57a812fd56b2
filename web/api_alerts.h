/*  api_alerts.h — the read side of lilac-web's API, from the mirror.

      GET /api/alerts                 every live alert, filtered:
          state=raised,acked (several, or the key repeated), source=GLOB,
          id=GLOB, label=KEY=VALUE (repeatable: all must hold), q=TEXT
          (in source, id, subject, summary or a label value; case-blind)
        → {epoch: {db, n, first}, seq, count, alerts: [...]}, raised first
          (urgent, normal, low), then acknowledged, pending, cleared; the
          epoch and seq are the ones the list is consistent with
      GET /api/alerts/SOURCE/ID       one alert → {alert: {...}}, or 404
      GET /api/alerts/SOURCE/ID/history?limit=N&before=SEQ
                                      its changes, newest first, from the
                                      broker's `history` (asked without
                                      waiting) → {changes, more, before?}
    Segments of the path are percent-decoded one by one, so an id may hold
    a '/' written %2F. Until the mirror has a whole snapshot: 503.
*/
#ifndef LILAC_API_ALERTS_H
#define LILAC_API_ALERTS_H

#include "mirror.h"
#include "web_internal.h"

enum MHD_Result api_alerts_list (web_t *web, http_request_t *request);
enum MHD_Result api_alerts_one (web_t *web, http_request_t *request);

#endif
