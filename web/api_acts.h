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
    as the broker reads it, checked here: a bad one is a 400, as is a note
    longer than the broker keeps (never cut, never dropped). `by` is who
    lilac-web says made the request (web_user): never a field the client
    chooses.

    The bodies are read by pure functions (api_act_parse, api_actions_parse:
    bytes in, a typed result or a sentence out; no HTTP, no broker), which
    the routes call and the fuzz targets of tests/fuzz feed hostile bytes.
*/
#ifndef LILAC_API_ACTS_H
#define LILAC_API_ACTS_H

#include "web_internal.h"

#define API_ACT_BODY_MAX     (16 * 1024)                //  an act's body, at most
#define API_ACTIONS_MAX      1000                       //  alerts in one POST /api/actions
#define API_ACTIONS_BODY_MAX (API_ACTIONS_MAX * 700)    //  its body, at most
#define API_UNTIL_SIZE       64                         //  until's text, NUL included
#define API_OP_SIZE          16                         //  an act's name, NUL included

//  What an act's body says; "" when it does not say it.
typedef struct {
    char until [API_UNTIL_SIZE];   //  a time spec or epoch seconds, as the broker reads them
    char note [WIRE_MAX_NOTE + 1]; //  ack's note
} api_act_body_t;

//  One alert of POST /api/actions.
typedef struct {
    char source [WIRE_MAX_NAME + 1];
    char id [WIRE_MAX_NAME + 1];
} api_act_alert_t;

//  The body of POST /api/actions.
typedef struct {
    char op [API_OP_SIZE];         //  ack, unack, clear or suppress
    api_act_body_t body;           //  until and note, for every alert
    api_act_alert_t *alerts;       //  alert_count (1..API_ACTIONS_MAX), owned
    size_t alert_count;
} api_actions_t;

//  Is op one of ack, unack, clear, suppress?
bool api_act_known (const char *op);
//  Reads the body of POST /api/alerts/SOURCE/ID/OP (size bytes, not
//  necessarily NUL-terminated; none when size is 0) for act op into *out.
//  until must be a time the broker takes (checked at now_ms: a spec but
//  "clear", or positive epoch seconds); until and note of the wrong type
//  or too long are refused, never dropped or cut. 0, or -1 with a sentence
//  in error (out is then unspecified).
int api_act_parse (const char *op, const char *body, size_t size, int64_t now_ms,
                   api_act_body_t *out, char *error, size_t error_size);
//  Reads the body of POST /api/actions into *out, as api_act_parse reads
//  until and note (api_actions_free it, whatever the result). 0, or -1
//  with a sentence in error.
int api_actions_parse (const char *body, size_t size, int64_t now_ms, api_actions_t *out,
                       char *error, size_t error_size);
//  Frees what api_actions_parse allocated; the result is empty again.
void api_actions_free (api_actions_t *self);

enum MHD_Result api_acts_one (web_t *web, http_request_t *request);
enum MHD_Result api_acts_many (web_t *web, http_request_t *request);

#endif
