/*  webhook_format.h — one lilac change as one HTTP request for a chat or
    push service (Alertmanager receivers, Slack, Discord, Teams, Matrix,
    ntfy, Gotify, Twilio SMS, or lilac's own JSON).

    Pure: no I/O, no curl, no clock. A caller (the webhook destination)
    checks a target once at config load (webhook_target_check), then for
    each rule action builds a request (webhook_request_build), sends it as
    it likes, and frees it (webhook_request_free). Building the same change
    and action for the same target again gives the same bytes, so a retry
    is the same request (Matrix's txnId makes it idempotent at the server).

    Everything taken from a change is outside input: it is made valid UTF-8
    (U+FFFD for bad bytes) and escaped for where it goes (JSON, Slack
    mrkdwn, Discord markdown, a form, a URL, an HTTP header). No header
    value ever holds CR or LF. See webhook_format.c for what each format
    sends.
*/
#ifndef LILAC_WEBHOOK_FORMAT_H
#define LILAC_WEBHOOK_FORMAT_H

#include <stddef.h>
#include "alert.h"
#include "rules.h"

typedef enum {
    WEBHOOK_ALERTMANAGER,          //  Alertmanager's webhook payload, version "4"
    WEBHOOK_SLACK,                 //  Slack incoming webhook (Mattermost, Rocket.Chat take it)
    WEBHOOK_DISCORD,               //  Discord "execute webhook"
    WEBHOOK_TEAMS,                 //  Teams Workflows webhook, an Adaptive Card
    WEBHOOK_MATRIX,                //  Matrix client-server API, m.room.message
    WEBHOOK_NTFY,                  //  ntfy publish (text body, headers)
    WEBHOOK_GOTIFY,                //  Gotify POST /message
    WEBHOOK_TWILIO,                //  Twilio Programmable Messaging (SMS)
    WEBHOOK_LILAC                  //  the change body as JSON, plus the rule
} webhook_format_t;

//  "slack" → WEBHOOK_SLACK: 0, or -1 for a name that is not a format.
int webhook_format_parse (const char *name, webhook_format_t *format);
//  "slack"; "unknown" for a value out of range.
const char *webhook_format_name (webhook_format_t format);
//  "alertmanager, slack, ..." for error messages.
const char *webhook_format_names (void);

//  Where and how to send; every string is borrowed, NULL when unset.
typedef struct {
    webhook_format_t format;
    const char *url;               //  the endpoint (matrix: the homeserver; gotify: the
                                   //  server; twilio: the API, https://api.twilio.com
                                   //  when NULL; ntfy: the topic URL; others: the webhook)
    const char *url_base;          //  lilac-web's base URL for links, or NULL
    const char *token;             //  matrix access token; gotify app token; ntfy access token
    const char *room;              //  matrix room id "!abc:example.org"
    const char *account_sid;       //  twilio
    const char *auth_token;        //  twilio
    const char *from;              //  twilio sender number
    const char *to;                //  twilio recipient number
} webhook_target_t;

#define WEBHOOK_HEADERS_MAX 8

//  One request, owned by the caller once built (webhook_request_free).
typedef struct {
    char method [8];               //  "POST" or "PUT"
    char *url;                     //  the whole URL to call
    char *content_type;            //  "application/json", "text/plain; charset=utf-8",
                                   //  "application/x-www-form-urlencoded"
    char *body;                    //  body_size bytes (NUL-terminated too)
    size_t body_size;
    char *headers [WEBHOOK_HEADERS_MAX];   //  extra "Name: value" lines (not Content-Type)
    size_t header_count;
    char *username;                //  HTTP basic auth (twilio), or NULL
    char *password;
} webhook_request_t;

//  Builds the request for one action on one change into *request (its old
//  contents are not freed). 0, or -1 with why in error (a setting the
//  format needs, out of memory); on -1 *request holds nothing to free.
//  A NULL action is a plain notification under rule "".
int webhook_request_build (const webhook_target_t *target, const alert_change_t *change,
                           const rule_action_t *action, webhook_request_t *request,
                           char *error, size_t error_size);
//  Frees what a request holds and zeroes it. NULL is a no-op.
void webhook_request_free (webhook_request_t *request);

//  What a target of this format needs, checked at config load: 0, or -1
//  with why ("format matrix needs room and token"; "url_base: ...").
int webhook_target_check (const webhook_target_t *target, char *error, size_t error_size);

//  HMAC-SHA256 of body keyed with secret, as 64 lowercase hex digits and
//  a NUL. 0, or -1 (GnuTLS failed; out is then "").
int webhook_signature (const void *secret, size_t secret_size, const void *body, size_t size,
                       char out [65]);

#endif
