/*  test_webhook_format.c — one change as one request, per format: method,
    URL, headers and body (bodies parsed back with jansson), hostile text
    that must stay data, limits cut at UTF-8 boundaries, the Matrix txnId,
    the HMAC against RFC 4231, and the target checks' messages.

    Changes are built from string literals (never freed). Time: change
    S_AT (2026-11-23T12:00:00.123Z), raised at S_RAISE.
*/
#include <gnutls/gnutls.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../check.h"
#include "alert.h"
#include "json.h"
#include "mem.h"
#include "wire.h"
#include "../../notifiers/webhook_format.h"

#define S_AT      1795435200123LL          //  2026-11-23T12:00:00.123Z
#define S_RAISE   1795434900000LL          //  five minutes before
#define S_BASE    "https://lilac.example.org/"
#define S_FFFD    "\xEF\xBF\xBD"

static char *
s_literal (const char *text)
{
    return (char *) (uintptr_t) text;
}

static wire_label_t s_labels [] = {
    { "team", "ops" },
    { "alertname", "not-this" },           //  ours wins
    { "empty", "" }                        //  left out, as Alertmanager does
};

//  A raised urgent alert web1/disk with a subject, summary, detail, labels.
static alert_change_t
s_change (const char *event)
{
    alert_change_t change;
    memset (&change, 0, sizeof change);
    change.seq = 42;
    change.at = S_AT;
    change.event = s_literal (event);
    snprintf (change.epoch.db, sizeof change.epoch.db, "%s", "0123456789abcdef");
    change.epoch.n = 3;
    change.epoch.first = 1;
    alert_t *alert = &change.alert;
    alert->source = s_literal ("web1");
    alert->id = s_literal ("disk");
    alert->subject = s_literal ("web1 disk");
    alert->summary = s_literal ("/var is 97% full");
    alert->detail = s_literal ("line 1\nline 2\n");
    alert->level = LEVEL_URGENT;
    alert->state = strcmp (event, "cleared") == 0 ? ALERT_CLEARED
                 : strcmp (event, "acked") == 0 ? ALERT_ACKED : ALERT_RAISED;
    alert->raise_at = S_RAISE;
    alert->notify_count = 1;
    alert->labels = s_labels;
    alert->label_count = 3;
    return change;
}

//  Hostile text everywhere a change has text.
static alert_change_t
s_hostile (void)
{
    alert_change_t change = s_change ("raised");
    alert_t *alert = &change.alert;
    alert->source = s_literal ("we\"b<1>");
    alert->id = s_literal ("a/b c?d#e");
    alert->subject = s_literal ("<script>alert(1)</script> @everyone @here <!channel>");
    alert->summary = s_literal ("quote \" back\\slash\r\nX-Injected: yes\n[click](http://evil)"
                                " *bold* & <@U123> bad \xFF\xFE \xC0\xAF end =?UTF-8?B?SGk=?=");
    alert->detail = s_literal ("<b>detail</b>\n@room @everyone\n\xE2\x80\xA8sep\x01\x7F");
    return change;
}

static rule_action_t
s_action (rule_action_kind_t kind)
{
    rule_action_t action = { kind, "ops-rule", "default", NULL, kind == ACTION_FLOOD_OVER ? 3 : 0 };
    return action;
}

static webhook_target_t
s_target (webhook_format_t format)
{
    webhook_target_t target;
    memset (&target, 0, sizeof target);
    target.format = format;
    target.url_base = S_BASE;
    switch (format) {
        case WEBHOOK_ALERTMANAGER: target.url = "http://127.0.0.1:1/alertmanager/hook"; break;
        case WEBHOOK_SLACK:   target.url = "https://hooks.slack.com/services/T0/B0/X"; break;
        case WEBHOOK_DISCORD: target.url = "https://discord.com/api/webhooks/1/abc"; break;
        case WEBHOOK_TEAMS:   target.url = "https://prod.example.logic.azure.com/workflows/1"; break;
        case WEBHOOK_MATRIX:
            target.url = "https://matrix.example.org/";
            target.room = "!abc:example.org";
            target.token = "syt_secret";
            break;
        case WEBHOOK_NTFY:    target.url = "https://ntfy.sh/lilac-topic"; break;
        case WEBHOOK_GOTIFY:
            target.url = "https://gotify.example.org";
            target.token = "Agotify";
            break;
        case WEBHOOK_TWILIO:
            target.account_sid = "AC0123";
            target.auth_token = "twilio-secret";
            target.from = "+15005550006";
            target.to = "+15551234567";
            break;
        case WEBHOOK_LILAC:   target.url = "http://127.0.0.1:1/lilac"; break;
    }
    return target;
}

static bool
s_build (const webhook_target_t *target, const alert_change_t *change,
         const rule_action_t *action, webhook_request_t *request)
{
    char error [256] = "";
    int rc = webhook_request_build (target, change, action, request, error, sizeof error);
    return CHECK (rc == 0, "%s: %s", webhook_format_name (target->format), error)
        && CHECK (request->body && strlen (request->body) == request->body_size,
                  "%s: body size", webhook_format_name (target->format));
}

static json_t *
s_json (const webhook_request_t *request)
{
    json_error_t error;
    json_t *root = json_loads (request->body, 0, &error);
    CHECK (root != NULL, "body is not JSON: %s: %s", error.text, request->body);
    return root;
}

static bool
s_equal (const char *got, const char *expected)
{
    return got && strcmp (got, expected) == 0;
}

static bool
s_starts (const char *text, const char *prefix)
{
    return text && strncmp (text, prefix, strlen (prefix)) == 0;
}

//  The value of header name, or NULL.
static const char *
s_header (const webhook_request_t *request, const char *name)
{
    size_t length = strlen (name);
    for (size_t index = 0; index < request->header_count; index++)
        if (strncmp (request->headers [index], name, length) == 0
        &&  strncmp (request->headers [index] + length, ": ", 2) == 0)
            return request->headers [index] + length + 2;
    return NULL;
}

static bool
s_headers_safe (const webhook_request_t *request)
{
    for (size_t index = 0; index < request->header_count; index++)
        if (strpbrk (request->headers [index], "\r\n"))
            return false;
    return true;
}

//  UTF-16 code units of UTF-8 text.
static size_t
s_units (const char *text)
{
    size_t units = 0;
    for (const unsigned char *at = (const unsigned char *) text; *at; at++)
        if ((*at & 0xC0) != 0x80)
            units += *at >= 0xF0 ? 2 : 1;
    return units;
}

//  Decoded value of name in an x-www-form-urlencoded body (fresh), or NULL.
static char *
s_form (const char *body, const char *name)
{
    size_t length = strlen (name);
    for (const char *at = body; at && *at; at = strchr (at, '&') ? strchr (at, '&') + 1 : NULL) {
        if (strncmp (at, name, length) != 0 || at [length] != '=')
            continue;
        const char *value = at + length + 1;
        char *decoded = mem_alloc (strlen (value) + 1), *out = decoded;
        for (; *value && *value != '&'; value++)
            if (*value == '+')
                *out++ = ' ';
            else
            if (*value == '%' && value [1] && value [2]) {
                char hex [3] = { value [1], value [2], 0 };
                *out++ = (char) strtol (hex, NULL, 16);
                value += 2;
            }
            else
                *out++ = *value;
        *out = 0;
        return decoded;
    }
    return NULL;
}

//  --- cases ----------------------------------------------------------------------------

static void
s_test_names (void)
{
    TEST ("format names parse both ways");
    const char *names [] = { "alertmanager", "slack", "discord", "teams", "matrix", "ntfy",
                             "gotify", "twilio", "lilac" };
    for (size_t index = 0; index < 9; index++) {
        webhook_format_t format = WEBHOOK_LILAC;
        CHECK (webhook_format_parse (names [index], &format) == 0, "%s", names [index]);
        CHECK (format == (webhook_format_t) index, "%s", names [index]);
        CHECK (strcmp (webhook_format_name (format), names [index]) == 0, "%s", names [index]);
        CHECK (strstr (webhook_format_names (), names [index]) != NULL, "%s", names [index]);
    }
    webhook_format_t format = WEBHOOK_SLACK;
    CHECK (webhook_format_parse ("Slack", &format) == -1, "case matters");
    CHECK (webhook_format_parse ("mattermost", &format) == -1, "not a format");
    CHECK (webhook_format_parse (NULL, &format) == -1, "NULL");
    CHECK (format == WEBHOOK_SLACK, "untouched on failure");
}

static void
s_check_refused (const webhook_target_t *target, const char *expected)
{
    char error [256] = "";
    CHECK (webhook_target_check (target, error, sizeof error) == -1, "accepted: %s", expected);
    CHECK (strncmp (error, expected, strlen (expected)) == 0, "'%s', expected '%s'", error,
           expected);
    webhook_request_t request;
    alert_change_t change = s_change ("raised");
    rule_action_t action = s_action (ACTION_NOTIFY);
    CHECK (webhook_request_build (target, &change, &action, &request, error,
                                  sizeof error) == -1, "built anyway: %s", expected);
    CHECK (request.body == NULL && request.url == NULL, "nothing left behind");
}

static void
s_test_target_check (void)
{
    TEST ("target checks say what is missing or wrong");
    for (webhook_format_t format = WEBHOOK_ALERTMANAGER; format <= WEBHOOK_LILAC; format++) {
        webhook_target_t target = s_target (format);
        char error [256] = "";
        CHECK (webhook_target_check (&target, error, sizeof error) == 0, "%s: %s",
               webhook_format_name (format), error);
    }
    webhook_target_t target = s_target (WEBHOOK_SLACK);
    target.url = NULL;
    s_check_refused (&target, "format slack needs url");
    target = s_target (WEBHOOK_MATRIX);
    target.room = target.token = NULL;
    s_check_refused (&target, "format matrix needs room and token");
    target.url = NULL;
    s_check_refused (&target, "format matrix needs url, room and token");
    target = s_target (WEBHOOK_MATRIX);
    target.room = "#alias:example.org";
    s_check_refused (&target, "room: not a room id");
    target = s_target (WEBHOOK_GOTIFY);
    target.token = "";
    s_check_refused (&target, "format gotify needs token");
    webhook_target_t twilio;
    memset (&twilio, 0, sizeof twilio);
    twilio.format = WEBHOOK_TWILIO;
    s_check_refused (&twilio, "format twilio needs account_sid, auth_token, from and to");
    twilio = s_target (WEBHOOK_TWILIO);
    twilio.from = NULL;
    s_check_refused (&twilio, "format twilio needs from");
    target = s_target (WEBHOOK_NTFY);
    target.url = "ftp://ntfy.sh/x";
    s_check_refused (&target, "url: not an http:// or https:// URL");
    target.url = "https://ntfy.sh/x\r\nX-Evil: 1";
    s_check_refused (&target, "url: not an http:// or https:// URL");
    target = s_target (WEBHOOK_NTFY);
    target.url_base = "https://lilac.example.org/a b";
    s_check_refused (&target, "url_base: not an http:// or https:// URL");
    target = s_target (WEBHOOK_NTFY);
    target.token = "tk_x\nX-Evil: 1";
    s_check_refused (&target, "token: only printable ASCII");
    target.format = (webhook_format_t) 99;
    s_check_refused (&target, "format: not one of alertmanager, slack");
}

static void
s_test_alertmanager (void)
{
    TEST ("alertmanager: version 4 payload with one alert");
    webhook_target_t target = s_target (WEBHOOK_ALERTMANAGER);
    alert_change_t change = s_change ("raised");
    change.alert.source = s_literal ("web 1");
    change.alert.id = s_literal ("disk/var");
    rule_action_t action = s_action (ACTION_NOTIFY);
    webhook_request_t request;
    if (!s_build (&target, &change, &action, &request))
        return;
    CHECK (strcmp (request.method, "POST") == 0, "method %s", request.method);
    CHECK (strcmp (request.url, target.url) == 0, "url %s", request.url);
    CHECK (strcmp (request.content_type, "application/json") == 0, "type");
    CHECK (request.header_count == 0 && !request.username, "no headers, no auth");
    json_t *root = s_json (&request);
    json_t *alert = json_array_get (json_object_get (root, "alerts"), 0);
    CHECK (s_equal (json_string_value (json_object_get (root, "version")), "4"), "version");
    CHECK (json_integer_value (json_object_get (root, "truncatedAlerts")) == 0
           && json_is_integer (json_object_get (root, "truncatedAlerts")), "truncatedAlerts");
    CHECK (s_equal (json_string_value (json_object_get (root, "status")), "firing"), "status");
    CHECK (s_equal (json_string_value (json_object_get (root, "receiver")), "ops-rule"), "rcv");
    CHECK (s_equal (json_string_value (json_object_get (root, "groupKey")),
                    "{}:{alertname=\"disk/var\", source=\"web 1\"}"), "groupKey %s",
           json_string_value (json_object_get (root, "groupKey")));
    CHECK (s_equal (json_string_value (json_object_get (root, "externalURL")),
                    "https://lilac.example.org"), "externalURL");
    CHECK (json_array_size (json_object_get (root, "alerts")) == 1, "one alert");
    json_t *labels = json_object_get (alert, "labels");
    CHECK (json_equal (labels, json_object_get (root, "commonLabels")), "commonLabels");
    CHECK (s_equal (json_string_value (json_object_get (labels, "alertname")), "disk/var"), "an");
    CHECK (s_equal (json_string_value (json_object_get (labels, "source")), "web 1"), "source");
    CHECK (s_equal (json_string_value (json_object_get (labels, "subject")), "web1 disk"), "sub");
    CHECK (s_equal (json_string_value (json_object_get (labels, "level")), "urgent"), "level");
    CHECK (s_equal (json_string_value (json_object_get (labels, "team")), "ops"), "own label");
    CHECK (!json_object_get (labels, "empty"), "empty label left out");
    CHECK (json_object_size (json_object_get (root, "groupLabels")) == 2, "groupLabels");
    json_t *notes = json_object_get (alert, "annotations");
    CHECK (s_equal (json_string_value (json_object_get (notes, "summary")), "/var is 97% full"),
           "summary");
    CHECK (s_equal (json_string_value (json_object_get (notes, "description")),
                    "line 1\nline 2\n"), "description");
    CHECK (s_equal (json_string_value (json_object_get (notes, "lilac_event")), "raised"), "ev");
    CHECK (s_equal (json_string_value (json_object_get (alert, "status")), "firing"), "firing");
    CHECK (s_equal (json_string_value (json_object_get (alert, "startsAt")),
                    "2026-11-23T11:55:00Z"), "startsAt %s",
           json_string_value (json_object_get (alert, "startsAt")));
    CHECK (s_equal (json_string_value (json_object_get (alert, "endsAt")),
                    "0001-01-01T00:00:00Z"), "endsAt");
    CHECK (s_equal (json_string_value (json_object_get (alert, "generatorURL")),
                    "https://lilac.example.org/alerts/web%201/disk%2Fvar"), "generatorURL %s",
           json_string_value (json_object_get (alert, "generatorURL")));
    const char *fingerprint = json_string_value (json_object_get (alert, "fingerprint"));
    CHECK (fingerprint && strlen (fingerprint) == 16
           && strspn (fingerprint, "0123456789abcdef") == 16, "fingerprint");
    char first [17] = "";
    snprintf (first, sizeof first, "%s", fingerprint ? fingerprint : "");
    json_decref (root);
    webhook_request_free (&request);

    TEST ("alertmanager: cleared is resolved, same fingerprint; another key another one");
    change = s_change ("cleared");
    change.alert.source = s_literal ("web 1");
    change.alert.id = s_literal ("disk/var");
    change.alert.raise_at = 0;
    target.url_base = NULL;
    if (!s_build (&target, &change, &action, &request))
        return;
    root = s_json (&request);
    alert = json_array_get (json_object_get (root, "alerts"), 0);
    CHECK (s_equal (json_string_value (json_object_get (root, "status")), "resolved"), "st");
    CHECK (s_equal (json_string_value (json_object_get (alert, "status")), "resolved"), "st");
    CHECK (s_equal (json_string_value (json_object_get (alert, "startsAt")),
                    "2026-11-23T12:00:00.123Z"), "startsAt: the change time");
    CHECK (s_equal (json_string_value (json_object_get (alert, "endsAt")),
                    "2026-11-23T12:00:00.123Z"), "endsAt: the change time");
    CHECK (s_equal (json_string_value (json_object_get (alert, "generatorURL")), ""), "no url");
    CHECK (s_equal (json_string_value (json_object_get (root, "externalURL")), ""), "no url");
    CHECK (s_equal (json_string_value (json_object_get (alert, "fingerprint")), first), "same");
    json_decref (root);
    webhook_request_free (&request);
    change.alert.id = s_literal ("disk/tmp");
    if (!s_build (&target, &change, &action, &request))
        return;
    root = s_json (&request);
    alert = json_array_get (json_object_get (root, "alerts"), 0);
    CHECK (!s_equal (json_string_value (json_object_get (alert, "fingerprint")), first), "other");
    json_decref (root);
    webhook_request_free (&request);
}

static void
s_test_slack (void)
{
    TEST ("slack: text with &, <, > escaped and one link of ours");
    webhook_target_t target = s_target (WEBHOOK_SLACK);
    alert_change_t change = s_hostile ();
    rule_action_t action = s_action (ACTION_NOTIFY);
    webhook_request_t request;
    if (!s_build (&target, &change, &action, &request))
        return;
    CHECK (strcmp (request.method, "POST") == 0 && strcmp (request.url, target.url) == 0, "to");
    json_t *root = s_json (&request);
    const char *text = json_string_value (json_object_get (root, "text"));
    if (CHECK (text != NULL, "no text")) {
        CHECK (strstr (text, "RAISED: &lt;script&gt;alert(1)&lt;/script&gt; @everyone") != NULL,
               "headline: %s", text);
        CHECK (strstr (text, "&lt;!channel&gt;") && strstr (text, "&lt;@U123&gt;"), "mentions");
        CHECK (strstr (text, " &amp; ") != NULL, "ampersand");
        const char *link = "<https://lilac.example.org/alerts/we%22b%3C1%3E/a%2Fb%20c%3Fd%23e"
                           "|Open in lilac>";
        CHECK (strstr (text, link) != NULL, "link: %s", text);
        //  The only '<' and '>' are our link's.
        size_t angles = 0;
        for (const char *at = text; *at; at++)
            angles += *at == '<' || *at == '>';
        CHECK (angles == 2, "%zu angle brackets", angles);
        CHECK (strstr (text, S_FFFD) != NULL, "bad bytes became U+FFFD");
        CHECK (strstr (text, "\r") == NULL, "no CR");
    }
    json_decref (root);
    webhook_request_free (&request);
}

static void
s_test_discord (void)
{
    TEST ("discord: content, embed, no mentions, markdown escaped");
    webhook_target_t target = s_target (WEBHOOK_DISCORD);
    alert_change_t change = s_hostile ();
    rule_action_t action = s_action (ACTION_NOTIFY);
    webhook_request_t request;
    if (!s_build (&target, &change, &action, &request))
        return;
    json_t *root = s_json (&request);
    const char *content = json_string_value (json_object_get (root, "content"));
    json_t *parse = json_object_get (json_object_get (root, "allowed_mentions"), "parse");
    CHECK (json_is_array (parse) && json_array_size (parse) == 0, "allowed_mentions.parse []");
    if (CHECK (content != NULL, "content")) {
        CHECK (strstr (content, "\\<script\\>") && strstr (content, "\\[click\\](http"),
               "markdown escaped: %s", content);
        CHECK (strstr (content, "\\*bold\\*") != NULL, "bold escaped");
    }
    json_t *embed = json_array_get (json_object_get (root, "embeds"), 0);
    CHECK (json_is_integer (json_object_get (embed, "color"))
           && json_integer_value (json_object_get (embed, "color")) == 0xC62828, "red");
    CHECK (s_equal (json_string_value (json_object_get (embed, "url")),
                    "https://lilac.example.org/alerts/we%22b%3C1%3E/a%2Fb%20c%3Fd%23e"), "url");
    CHECK (strstr (json_string_value (json_object_get (embed, "title")), "we\"b\\<1\\>/a/b c?d#e") != NULL,
           "title %s", json_string_value (json_object_get (embed, "title")));
    CHECK (s_equal (json_string_value (json_object_get (embed, "timestamp")),
                    "2026-11-23T12:00:00.123Z"), "timestamp");
    json_decref (root);
    webhook_request_free (&request);

    TEST ("discord: limits cut at UTF-8 boundaries and never split an escape");
    char *summary = mem_alloc (4 * 3000 + 1);
    for (size_t index = 0; index < 3000; index++)
        memcpy (summary + 4 * index, "\xF0\x9F\x94\xA5", 4);      //  U+1F525, 2 units
    change = s_change ("raised");
    change.alert.summary = summary;
    char *detail = mem_alloc (9001);
    memset (detail, '*', 9000);
    change.alert.detail = detail;
    change.alert.subject = detail;
    if (s_build (&target, &change, &action, &request)) {
        root = s_json (&request);
        content = json_string_value (json_object_get (root, "content"));
        embed = json_array_get (json_object_get (root, "embeds"), 0);
        const char *title = json_string_value (json_object_get (embed, "title"));
        const char *description = json_string_value (json_object_get (embed, "description"));
        CHECK (content && s_units (content) <= 2000 && s_units (content) >= 1990,
               "content %zu units", content ? s_units (content) : 0);
        CHECK (content && wire_utf8_valid (content, strlen (content)), "content UTF-8");
        CHECK (content && strlen (content) > 3
               && strcmp (content + strlen (content) - 3, "\xE2\x80\xA6") == 0, "ends in …");
        CHECK (title && s_units (title) <= 256, "title");
        CHECK (description && s_units (description) <= 4096, "description");
        //  Every backslash escapes a character: none is left before the "…".
        bool lone = false;
        for (const char *at = content; at && *at; at++)
            if (*at == '\\') {
                lone = lone || at [1] == 0 || (unsigned char) at [1] == 0xE2;
                at++;
            }
        CHECK (!lone, "a lone backslash: %s", content);
        json_decref (root);
        webhook_request_free (&request);
    }
    mem_free (summary);
    mem_free (detail);
}

static void
s_test_teams (void)
{
    TEST ("teams: an Adaptive Card in a message, text in TextRuns, OpenUrl");
    webhook_target_t target = s_target (WEBHOOK_TEAMS);
    alert_change_t change = s_hostile ();
    rule_action_t action = s_action (ACTION_NOTIFY);
    webhook_request_t request;
    if (!s_build (&target, &change, &action, &request))
        return;
    json_t *root = s_json (&request);
    json_t *attachment = json_array_get (json_object_get (root, "attachments"), 0);
    json_t *card = json_object_get (attachment, "content");
    CHECK (s_equal (json_string_value (json_object_get (root, "type")), "message"), "type");
    CHECK (s_equal (json_string_value (json_object_get (attachment, "contentType")),
                    "application/vnd.microsoft.card.adaptive"), "contentType");
    CHECK (s_equal (json_string_value (json_object_get (card, "type")), "AdaptiveCard"), "card");
    CHECK (s_equal (json_string_value (json_object_get (card, "version")), "1.4"), "version");
    json_t *body = json_object_get (card, "body");
    json_t *first = json_array_get (json_object_get (json_array_get (body, 0), "inlines"), 0);
    CHECK (s_equal (json_string_value (json_object_get (json_array_get (body, 0), "type")),
                    "RichTextBlock"), "RichTextBlock");
    const char *headline = json_string_value (json_object_get (first, "text"));
    CHECK (headline && strncmp (headline, "RAISED: <script>alert(1)</script> @everyone", 43) == 0,
           "headline verbatim: %s", headline);
    CHECK (s_equal (json_string_value (json_object_get (first, "type")), "TextRun"), "run");
    CHECK (json_array_size (body) >= 5, "detail lines: %zu blocks", json_array_size (body));
    json_t *open = json_array_get (json_object_get (card, "actions"), 0);
    CHECK (s_equal (json_string_value (json_object_get (open, "type")), "Action.OpenUrl"), "act");
    CHECK (strncmp (json_string_value (json_object_get (open, "url")), S_BASE "alerts/", 33) == 0,
           "OpenUrl url");
    json_decref (root);
    webhook_request_free (&request);
    target.url_base = NULL;
    if (!s_build (&target, &change, &action, &request))
        return;
    root = s_json (&request);
    card = json_object_get (json_array_get (json_object_get (root, "attachments"), 0), "content");
    CHECK (json_object_get (card, "actions") == NULL, "no OpenUrl without url_base");
    json_decref (root);
    webhook_request_free (&request);
}

//  The txnId of the request built for target, change, action (fresh).
static char *
s_txn (const webhook_target_t *target, const alert_change_t *change,
       const rule_action_t *action)
{
    webhook_request_t request;
    if (!s_build (target, change, action, &request))
        return mem_strdup ("");
    char *txn = mem_strdup (strrchr (request.url, '/') + 1);
    webhook_request_free (&request);
    return txn;
}

static void
s_test_matrix (void)
{
    TEST ("matrix: PUT to the room with a bearer token, m.text, no mentions");
    webhook_target_t target = s_target (WEBHOOK_MATRIX);
    alert_change_t change = s_hostile ();
    rule_action_t action = s_action (ACTION_NOTIFY);
    webhook_request_t request;
    if (!s_build (&target, &change, &action, &request))
        return;
    CHECK (strcmp (request.method, "PUT") == 0, "method");
    const char *prefix = "https://matrix.example.org/_matrix/client/v3/rooms/%21abc%3Aexample.org"
                         "/send/m.room.message/lilac.01234567.3.42.n.";
    CHECK (strncmp (request.url, prefix, strlen (prefix)) == 0, "url %s", request.url);
    CHECK (s_equal (s_header (&request, "Authorization"), "Bearer syt_secret"), "auth");
    CHECK (s_headers_safe (&request), "headers");
    json_t *root = s_json (&request);
    const char *body = json_string_value (json_object_get (root, "body"));
    CHECK (s_equal (json_string_value (json_object_get (root, "msgtype")), "m.text"), "msgtype");
    CHECK (body && strstr (body, "<script>") && strstr (body, "@room"), "verbatim: %s", body);
    CHECK (json_is_object (json_object_get (root, "m.mentions"))
           && json_object_size (json_object_get (root, "m.mentions")) == 0, "m.mentions {}");
    json_decref (root);
    webhook_request_free (&request);

    TEST ("matrix: txnId is the same on a retry and differs per change, action, room");
    change = s_change ("raised");
    char *base = s_txn (&target, &change, &action);
    char *again = s_txn (&target, &change, &action);
    CHECK (strcmp (base, again) == 0, "retry: %s %s", base, again);
    change.seq = 43;
    char *other_seq = s_txn (&target, &change, &action);
    change.seq = 42;
    change.epoch.n = 4;
    char *other_epoch = s_txn (&target, &change, &action);
    change.epoch.n = 3;
    rule_action_t over = s_action (ACTION_FLOOD_OVER);
    char *other_action = s_txn (&target, &change, &over);
    webhook_target_t room = target;
    room.room = "!other:example.org";
    char *other_room = s_txn (&room, &change, &action);
    change.seq = 0;
    char *broker = s_txn (&target, &change, &action);
    change.at += 1;
    char *broker_later = s_txn (&target, &change, &action);
    char *all [] = { base, other_seq, other_epoch, other_action, other_room, broker,
                           broker_later };
    for (size_t one = 0; one < 7; one++)
        for (size_t two = one + 1; two < 7; two++)
            CHECK (strcmp (all [one], all [two]) != 0, "same: %s", all [one]);
    CHECK (strstr (broker, ".at1795435200123.") != NULL, "seq 0 uses at: %s", broker);
    for (size_t one = 0; one < 7; one++) {
        CHECK (strspn (all [one], "abcdefghijklmnopqrstuvwxyz0123456789.") == strlen (all [one]),
               "path-safe: %s", all [one]);
        mem_free (all [one]);
    }
    mem_free (again);
}

//  Decodes RFC 2047 "=?UTF-8?B?...?=" words separated by spaces (fresh).
static char *
s_decode_2047 (const char *value)
{
    char *out = mem_alloc (strlen (value) + 1);
    size_t used = 0;
    const char *at = value;
    while ((at = strstr (at, "=?UTF-8?B?"))) {
        at += 10;
        const char *end = strstr (at, "?=");
        if (!end)
            break;
        gnutls_datum_t in = { (unsigned char *) (uintptr_t) at, (unsigned) (end - at) };
        gnutls_datum_t decoded = { NULL, 0 };
        if (gnutls_base64_decode2 (&in, &decoded) == 0) {
            memcpy (out + used, decoded.data, decoded.size);
            used += decoded.size;
            gnutls_free (decoded.data);
        }
        at = end + 2;
    }
    out [used] = 0;
    return out;
}

static void
s_test_ntfy (void)
{
    TEST ("ntfy: text body, Title, X-Priority, Tags, Click, Authorization");
    webhook_target_t target = s_target (WEBHOOK_NTFY);
    target.token = "tk_abc";
    alert_change_t change = s_change ("raised");
    rule_action_t action = s_action (ACTION_NOTIFY);
    webhook_request_t request;
    if (!s_build (&target, &change, &action, &request))
        return;
    CHECK (strcmp (request.method, "POST") == 0 && strcmp (request.url, target.url) == 0, "to");
    CHECK (strcmp (request.content_type, "text/plain; charset=utf-8") == 0, "type");
    CHECK (s_equal (request.body, "web1/disk \xC2\xB7 urgent\n\nline 1\nline 2"),
           "body '%s'", request.body);
    CHECK (s_equal (s_header (&request, "Title"), "=?UTF-8?B?UkFJU0VEOiB3ZWIxIGRpc2sg4oCUIC92YXIgaXMgOTclIGZ1bGw=?="), "Title %s", s_header (&request, "Title"));
    char *title = s_decode_2047 (s_header (&request, "Title"));
    CHECK (strcmp (title, "RAISED: web1 disk \xE2\x80\x94 /var is 97% full") == 0, "%s", title);
    mem_free (title);
    CHECK (s_equal (s_header (&request, "X-Priority"), "5"), "priority urgent");
    CHECK (s_equal (s_header (&request, "Tags"), "rotating_light,urgent"), "tags");
    CHECK (s_equal (s_header (&request, "Click"), S_BASE "alerts/web1/disk"), "click");
    CHECK (s_equal (s_header (&request, "Authorization"), "Bearer tk_abc"), "auth");
    webhook_request_free (&request);

    TEST ("ntfy: cleared is quieter; ASCII title plain; no token, no url_base");
    change = s_change ("cleared");
    change.alert.summary = NULL;
    change.alert.level = LEVEL_NORMAL;
    target.token = NULL;
    target.url_base = NULL;
    if (!s_build (&target, &change, &action, &request))
        return;
    CHECK (s_equal (s_header (&request, "Title"), "CLEARED: web1 disk"), "title");
    CHECK (s_equal (s_header (&request, "X-Priority"), "2"), "priority");
    CHECK (s_equal (s_header (&request, "Tags"), "white_check_mark,normal"), "tags");
    CHECK (!s_header (&request, "Authorization") && !s_header (&request, "Click"), "none");
    webhook_request_free (&request);

    TEST ("ntfy: hostile title is encoded, headers stay one line, body bounded");
    change = s_hostile ();
    char *detail = mem_alloc (20001);
    memset (detail, 'x', 20000);
    for (size_t index = 100; index < 20000; index += 101)
        detail [index] = '\n';
    change.alert.detail = detail;
    target.url_base = S_BASE;
    if (s_build (&target, &change, &action, &request)) {
        CHECK (s_headers_safe (&request), "CR/LF in a header");
        const char *value = s_header (&request, "Title");
        CHECK (value && strncmp (value, "=?UTF-8?B?", 10) == 0, "encoded: %s", value);
        for (const unsigned char *at = (const unsigned char *) value; at && *at; at++)
            CHECK (*at >= 0x20 && *at < 0x7F, "byte 0x%02x in Title", *at);
        for (const char *word = value; word && *word; ) {
            const char *space = strchr (word, ' ');
            size_t length = space ? (size_t) (space - word) : strlen (word);
            CHECK (length <= 75, "encoded word of %zu bytes", length);
            word = space ? space + 1 : word + length;
        }
        char *decoded = s_decode_2047 (value);
        CHECK (strstr (decoded, "X-Injected: yes") && strstr (decoded, "=?UTF-8?B?SGk=?=")
               && !strpbrk (decoded, "\r\n") && wire_utf8_valid (decoded, strlen (decoded)),
               "decoded: %s", decoded);
        mem_free (decoded);
        CHECK (request.body_size <= 4000 && wire_utf8_valid (request.body, request.body_size),
               "body %zu bytes", request.body_size);
        webhook_request_free (&request);
    }
    mem_free (detail);
}

static void
s_test_gotify (void)
{
    TEST ("gotify: POST /message with X-Gotify-Key, title, message, priority, extras");
    webhook_target_t target = s_target (WEBHOOK_GOTIFY);
    target.url = "https://gotify.example.org/sub/";
    alert_change_t change = s_change ("raised");
    rule_action_t action = s_action (ACTION_NOTIFY);
    webhook_request_t request;
    if (!s_build (&target, &change, &action, &request))
        return;
    CHECK (strcmp (request.url, "https://gotify.example.org/sub/message") == 0, "%s", request.url);
    CHECK (s_equal (s_header (&request, "X-Gotify-Key"), "Agotify"), "key");
    json_t *root = s_json (&request);
    CHECK (s_equal (json_string_value (json_object_get (root, "title")),
                    "RAISED: web1 disk \xE2\x80\x94 /var is 97% full"), "title");
    CHECK (strncmp (json_string_value (json_object_get (root, "message")), "web1/disk", 9) == 0,
           "message");
    CHECK (json_integer_value (json_object_get (root, "priority")) == 8, "priority");
    json_t *extras = json_object_get (root, "extras");
    json_t *click = json_object_get (json_object_get (extras, "client::notification"), "click");
    CHECK (s_equal (json_string_value (json_object_get (click, "url")),
                    S_BASE "alerts/web1/disk"), "click url");
    CHECK (s_equal (json_string_value (json_object_get (json_object_get (extras,
                    "client::display"), "contentType")), "text/plain"), "plain");
    json_decref (root);
    webhook_request_free (&request);
    change.alert.level = LEVEL_LOW;
    change.event = s_literal ("acked");
    change.alert.acked_by = s_literal ("ann");
    change.alert.ack_note = s_literal ("on it");
    target.url_base = NULL;
    if (!s_build (&target, &change, &action, &request))
        return;
    root = s_json (&request);
    CHECK (json_integer_value (json_object_get (root, "priority")) == 2, "quiet");
    CHECK (strstr (json_string_value (json_object_get (root, "message")),
                   "acknowledged by ann: on it") != NULL, "who");
    CHECK (!json_object_get (json_object_get (root, "extras"), "client::notification"), "click");
    json_decref (root);
    webhook_request_free (&request);
}

static void
s_test_twilio (void)
{
    TEST ("twilio: form To, From, Body with basic auth to the Messages resource");
    webhook_target_t target = s_target (WEBHOOK_TWILIO);
    alert_change_t change = s_change ("raised");
    change.alert.summary = s_literal ("a+b & c=d %");
    rule_action_t action = s_action (ACTION_NOTIFY);
    webhook_request_t request;
    if (!s_build (&target, &change, &action, &request))
        return;
    CHECK (strcmp (request.url, "https://api.twilio.com/2010-04-01/Accounts/AC0123/Messages.json")
           == 0, "%s", request.url);
    CHECK (strcmp (request.content_type, "application/x-www-form-urlencoded") == 0, "type");
    CHECK (s_equal (request.username, "AC0123") && s_equal (request.password, "twilio-secret"),
           "basic auth");
    char *to = s_form (request.body, "To"), *from = s_form (request.body, "From");
    char *body = s_form (request.body, "Body");
    CHECK (s_equal (to, "+15551234567") && s_equal (from, "+15005550006"), "To, From");
    CHECK (s_starts (body, "RAISED: web1 disk \xE2\x80\x94 a+b & c=d %\nweb1/disk"), "Body %s", body);
    CHECK (body && strstr (body, S_BASE "alerts/web1/disk"), "link");
    mem_free (to);
    mem_free (from);
    mem_free (body);
    webhook_request_free (&request);

    TEST ("twilio: Body at most 1600 characters; url override without trailing /");
    target.url = "http://127.0.0.1:9/";
    char *detail = mem_alloc (4 * 2000 + 1);
    for (size_t index = 0; index < 2000; index++)
        memcpy (detail + 4 * index, index % 50 ? "\xE2\x82\xAC" "a" : "\n\xE2\x82\xAC" , 4);
    change.alert.detail = detail;
    if (s_build (&target, &change, &action, &request)) {
        CHECK (strncmp (request.url, "http://127.0.0.1:9/2010-04-01/", 30) == 0, "%s",
               request.url);
        body = s_form (request.body, "Body");
        CHECK (body && s_units (body) <= 1600 && wire_utf8_valid (body, strlen (body)),
               "Body %zu units", body ? s_units (body) : 0);
        mem_free (body);
        webhook_request_free (&request);
    }
    mem_free (detail);
}

static void
s_test_lilac (void)
{
    TEST ("lilac: the change body as JSON, with the rule");
    webhook_target_t target = s_target (WEBHOOK_LILAC);
    alert_change_t change = s_change ("raised");
    rule_action_t action = s_action (ACTION_NOTIFY);
    webhook_request_t request;
    if (!s_build (&target, &change, &action, &request))
        return;
    json_t *root = s_json (&request);
    wire_writer_t writer;
    wire_writer_init (&writer);
    alert_change_pack (&writer.packer, change.seq, change.at, change.event, &change.alert,
                       &change.epoch);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    CHECK (msgpack_unpack_next (&unpacked, writer.buffer.data, writer.buffer.size, &offset)
           == MSGPACK_UNPACK_SUCCESS, "unpack");
    json_t *expected = json_from_msgpack (&unpacked.data);
    json_object_set_new (expected, "rule", json_string ("ops-rule"));
    CHECK (json_equal (root, expected), "not the change body: %s", request.body);
    CHECK (json_integer_value (json_object_get (root, "seq")) == 42
           && json_object_get (json_object_get (root, "epoch"), "n"), "seq, epoch");
    json_decref (expected);
    msgpack_unpacked_destroy (&unpacked);
    wire_writer_free (&writer);
    json_decref (root);
    webhook_request_free (&request);
}

//  The body's text as a reader sees it, for flood checks (fresh).
static char *
s_readable (const webhook_request_t *request, webhook_format_t format)
{
    if (format == WEBHOOK_TWILIO)
        return s_form (request->body, "Body");
    if (format == WEBHOOK_NTFY) {
        const char *header = s_header (request, "Title");
        char *title = s_starts (header, "=?") ? s_decode_2047 (header) : mem_strdup (header);
        char *both = mem_alloc (strlen (title) + request->body_size + 2);
        sprintf (both, "%s\n%s", title, request->body);
        mem_free (title);
        return both;
    }
    json_t *root = json_loads (request->body, 0, NULL);
    char *text = root ? json_dumps (root, JSON_COMPACT) : NULL;
    json_decref (root);
    char *copy = mem_strdup (text ? text : "");
    free (text);
    if (format == WEBHOOK_DISCORD) {          //  markdown escapes (JSON-escaped) away
        char *out = copy;
        for (const char *at = copy; *at; at++) {
            if (at [0] == '\\' && at [1] == '\\' && at [2] && at [2] != '\\') {
                at++;
                continue;
            }
            *out++ = *at;
        }
        *out = 0;
    }
    return copy;
}

static void
s_test_flood (void)
{
    TEST ("every format: flood held and over are plain messages");
    alert_change_t change = s_change ("raised");
    rule_action_t held = s_action (ACTION_FLOOD_HELD);
    rule_action_t over = s_action (ACTION_FLOOD_OVER);
    for (webhook_format_t format = WEBHOOK_ALERTMANAGER; format <= WEBHOOK_LILAC; format++) {
        webhook_target_t target = s_target (format);
        webhook_request_t request;
        if (!s_build (&target, &change, &held, &request))
            continue;
        char *text = s_readable (&request, format);
        if (format == WEBHOOK_LILAC)
            CHECK (strstr (text, "\"flood\":\"held\"") && strstr (text, "\"rule\":\"ops-rule\""),
                   "lilac held: %s", text);
        else
            CHECK (strstr (text, "further alerts of rule ops-rule are held back") != NULL,
                   "%s held: %s", webhook_format_name (format), text);
        mem_free (text);
        webhook_request_free (&request);
        if (!s_build (&target, &change, &over, &request))
            continue;
        text = s_readable (&request, format);
        if (format == WEBHOOK_LILAC)
            CHECK (strstr (text, "\"flood\":\"over\"") && strstr (text, "\"held\":3"),
                   "lilac over: %s", text);
        else
            CHECK (strstr (text, "normal service resumes: 3 alerts were held back") != NULL,
                   "%s over: %s", webhook_format_name (format), text);
        if (format == WEBHOOK_ALERTMANAGER)
            CHECK (strstr (text, "\"status\":\"resolved\"") && strstr (text, "lilac_flood"),
                   "over resolves the flood alert: %s", text);
        mem_free (text);
        webhook_request_free (&request);
    }
}

static void
s_test_hostile_all (void)
{
    TEST ("every format: hostile text stays data, seq 0 broker message builds");
    alert_change_t hostile = s_hostile ();
    alert_change_t broker = s_change ("raised");
    broker.seq = 0;
    memset (&broker.epoch, 0, sizeof broker.epoch);
    broker.alert.source = s_literal ("lilac");
    broker.alert.id = s_literal ("broker");
    broker.alert.subject = NULL;
    broker.alert.labels = NULL;
    broker.alert.label_count = 0;
    rule_action_t action = s_action (ACTION_NOTIFY);
    for (webhook_format_t format = WEBHOOK_ALERTMANAGER; format <= WEBHOOK_LILAC; format++) {
        webhook_target_t target = s_target (format);
        webhook_request_t request;
        if (s_build (&target, &broker, NULL, &request))
            webhook_request_free (&request);
        if (!s_build (&target, &hostile, &action, &request))
            continue;
        const char *name = webhook_format_name (format);
        CHECK (s_headers_safe (&request), "%s: CR/LF in a header", name);
        CHECK (!strpbrk (request.url, " \r\n\"<>"), "%s: url %s", name, request.url);
        CHECK (wire_utf8_valid (request.body, request.body_size), "%s: body UTF-8", name);
        if (format == WEBHOOK_NTFY || format == WEBHOOK_TWILIO) {
            char *text = s_readable (&request, format);
            CHECK (wire_utf8_valid (text, strlen (text)) && strstr (text, S_FFFD), "%s", name);
            mem_free (text);
        }
        else {
            json_t *root = s_json (&request);
            char *text = s_readable (&request, format);
            CHECK (strstr (text, S_FFFD) != NULL, "%s: U+FFFD for bad bytes", name);
            CHECK (!strstr (text, "\xFF"), "%s: raw bad byte", name);
            mem_free (text);
            json_decref (root);
        }
        webhook_request_free (&request);
    }
}

static void
s_test_bounded (void)
{
    TEST ("every format: a change far past the wire's limits still makes a bounded request");
    char *huge = mem_alloc (100001);
    memset (huge, 'y', 100000);
    for (size_t index = 50; index < 100000; index += 77)
        huge [index] = '\n';
    alert_change_t change = s_change ("raised");
    change.alert.subject = change.alert.summary = change.alert.detail = huge;
    rule_action_t action = s_action (ACTION_NOTIFY);
    for (webhook_format_t format = WEBHOOK_ALERTMANAGER; format <= WEBHOOK_LILAC; format++) {
        webhook_target_t target = s_target (format);
        webhook_request_t request;
        if (!s_build (&target, &change, &action, &request))
            continue;
        //  Alertmanager and lilac carry the whole detail, as the change does.
        bool whole = format == WEBHOOK_ALERTMANAGER || format == WEBHOOK_LILAC;
        CHECK (whole || request.body_size < 20000, "%s: %zu bytes",
               webhook_format_name (format), request.body_size);
        for (size_t index = 0; index < request.header_count; index++)
            CHECK (strlen (request.headers [index]) < 4096, "%s: header of %zu bytes",
                   webhook_format_name (format), strlen (request.headers [index]));
        webhook_request_free (&request);
    }
    mem_free (huge);
}

static void
s_test_signature (void)
{
    TEST ("webhook_signature: HMAC-SHA256 of RFC 4231 test cases 1 and 2");
    char out [65];
    unsigned char key [20];
    memset (key, 0x0b, sizeof key);
    CHECK (webhook_signature (key, sizeof key, "Hi There", 8, out) == 0, "case 1");
    CHECK (strcmp (out, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7") == 0,
           "case 1: %s", out);
    const char *data = "what do ya want for nothing?";
    CHECK (webhook_signature ("Jefe", 4, data, strlen (data), out) == 0, "case 2");
    CHECK (strcmp (out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843") == 0,
           "case 2: %s", out);
    CHECK (webhook_signature ("k", 1, "", 0, out) == 0 && strlen (out) == 64, "empty body");

    TEST ("webhook_request_free: NULL and a zeroed request are no-ops");
    webhook_request_free (NULL);
    webhook_request_t request;
    memset (&request, 0, sizeof request);
    webhook_request_free (&request);
    CHECK (request.body == NULL, "still zero");
}

int
main (void)
{
    s_test_names ();
    s_test_target_check ();
    s_test_alertmanager ();
    s_test_slack ();
    s_test_discord ();
    s_test_teams ();
    s_test_matrix ();
    s_test_ntfy ();
    s_test_gotify ();
    s_test_twilio ();
    s_test_lilac ();
    s_test_flood ();
    s_test_hostile_all ();
    s_test_bounded ();
    s_test_signature ();
    return check_done ();
}
