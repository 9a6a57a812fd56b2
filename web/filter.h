/*  filter.h — which alerts a request asks for: the filters of GET
    /api/alerts and GET /api/stream, read from its query once and kept (a
    stream applies them to every change for as long as it lasts).

      state=raised,acked (several, or the key repeated), source=GLOB,
      id=GLOB, label=KEY=VALUE (repeatable: all must hold), q=TEXT (in
      source, id, subject, summary or a label value; case-blind)
*/
#ifndef LILAC_FILTER_H
#define LILAC_FILTER_H

#include <stdbool.h>
#include "alert.h"
#include "http.h"
#include "wire.h"

#define FILTER_VALUES 16           //  labels a filter holds, at most

typedef struct {
    bool states [4];               //  alert_state_t wanted (all false: any)
    char source [WIRE_MAX_NAME + 1];   //  glob, "" for any
    char id [WIRE_MAX_NAME + 1];       //  glob, "" for any
    char q [WIRE_MAX_NAME + 1];        //  text, "" for any
    char labels [FILTER_VALUES][WIRE_MAX_NAME + 1];   //  "KEY=VALUE"
    size_t label_count;
    char error [200];              //  a bad filter, "" when all are good
} filter_t;

//  Reads the request's query into filter. 0, or -1 with filter->error.
int filter_read (filter_t *filter, http_request_t *request);
bool filter_matches (const filter_t *filter, const alert_t *alert);

#endif
