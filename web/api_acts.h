/*  api_acts.h — acting on an alert over HTTP.

      POST /api/alerts/SOURCE/ID/ack        {until?, note?}
      POST /api/alerts/SOURCE/ID/unack      {}
      POST /api/alerts/SOURCE/ID/clear      {}
      POST /api/alerts/SOURCE/ID/suppress   {until}   ("now" lifts it)
        → 200 {alert: {...}} once the broker committed the act;
          404 no such alert; 409 the broker refused it (an ack of a
          pending alert...); 400 a bad body; 503 the broker did not answer

      POST /api/actions   {act, alerts: [{source, id}...], until?, note?}
        → 200 {done: N, failed: [{source, id, error}]}: the act on each
          alert (1 to 1000), one after another; an alert the broker does
          not have, or refuses the act on, is failed with its words and the
          rest go on; when the broker stops answering the rest fail with
          the reason, and if none was done it is 503; 400 a bad body

    The body is a JSON object (or empty); `until` is a time spec ("+1h",
    "2026-12-07T09:00:00Z" is not one: seconds since the epoch or a spec)
    as the broker reads it. `by` is who lilac-web says made the request
    (web_user): never a field the client chooses.
*/
#ifndef LILAC_API_ACTS_H
#define LILAC_API_ACTS_H

#include "web_internal.h"

enum MHD_Result api_acts_one (web_t *web, http_request_t *request);
enum MHD_Result api_acts_many (web_t *web, http_request_t *request);

#endif
