/*  webhook_format.c — one change as one HTTP request (see webhook_format.h).

    First a change becomes a message_t: plain, valid UTF-8 text in a few
    parts — a headline ("RAISED: SUBJECT — SUMMARY", or for flood control
    "lilac: further alerts of rule R are held back" / "lilac: normal
    service resumes: N alerts were held back (rule R)"), where it is
    ("SOURCE/ID · LEVEL"), who acknowledged it (acked changes), the first
    WEBHOOK_DETAIL_LINES lines of the detail (at most WEBHOOK_DETAIL_BYTES),
    and a link (url_base/alerts/SOURCE/ID, both parts percent-encoded as
    lilac-web's own links are; url_base itself for flood messages). Bytes
    that are not UTF-8 become U+FFFD; one-line parts have every control
    character (CR and LF among them) turned into a space and are cut to
    WEBHOOK_LINE_BYTES, the detail keeps its newlines and tabs. So every
    message is bounded (Teams refuses more than 28 KB) whatever the change
    holds. Then each format renders those parts, escaped for where they
    land:

    alertmanager  POST url, JSON: Alertmanager's webhook payload version "4"
                  (notify/webhook/webhook.go, template/template.go): one
                  alert; labels alertname (the id), source, subject, level
                  and the alert's own labels (ours win a clash; empty values
                  are left out, as Alertmanager does); annotations summary,
                  description (the detail, when there is one), lilac_event;
                  times as Go writes them (RFC 3339, UTC, trailing zeros of
                  the fraction dropped); fingerprint FNV-1a 64 of source and
                  id. Flood: alertname lilac_flood with label rule, firing
                  when held, resolved when over (same fingerprint).
    slack         POST url, JSON {text}: mrkdwn with &, < and > written as
                  &amp; &lt; &gt; (Slack's "escaping" rule), so no <!here>,
                  <@U…> or <url|label> can come from an alert; our link is
                  the one <url|Open in lilac>.
    discord       POST url, JSON {content, embeds [{title, description, url,
                  color, timestamp}], allowed_mentions {parse: []}}: a
                  backslash before \ * _ ~ ` | < > [ ] anywhere and # - at a
                  line's start (no bold, masked link, mention or heading
                  from an alert); content ≤ 2000, title ≤ 256, description
                  ≤ 4096 characters; allowed_mentions makes @everyone,
                  @here, <@id> ping nobody.
    teams         POST url, JSON {type: message, attachments: [an Adaptive
                  Card 1.4]}: every part in a RichTextBlock's TextRun (a
                  TextRun is never read as markdown, a TextBlock is: alert
                  text stays text), Action.OpenUrl with the link.
    matrix        PUT url/_matrix/client/v3/rooms/ROOM/send/m.room.message/
                  TXN with Authorization: Bearer TOKEN, JSON {msgtype:
                  m.text, body, m.mentions: {}} (an empty m.mentions turns
                  off the legacy push rules that ping on "@room" or a name
                  in the body). TXN = lilac.DB.N.SEQ.KIND.ROOM: the epoch's
                  db (first 8 digits) and n, the seq (or "at" and the
                  change's time for seq 0), the action (n notify, h held,
                  o over) and FNV-1a of the room: the same for a retry,
                  different for another change, action or room.
    ntfy          POST url (the topic), text/plain body (≤ 4000 bytes: past
                  ntfy's 4096-byte message limit it becomes an attachment),
                  headers Title, X-Priority, Tags, Click (the link), and
                  Authorization: Bearer TOKEN when there is a token. A Title
                  with non-ASCII bytes (or "=?", which ntfy would decode) is
                  RFC 2047 encoded: =?UTF-8?B?…?= words of ≤ 75 bytes, cut
                  at character boundaries. X-Priority, not Priority: ntfy
                  reads both, and ignores a "Priority: u=…" that proxies
                  add for RFC 9218. Priority: urgent 5, normal 4, low 3 for
                  raised, reminder and unacked; 2 for anything else (cleared,
                  acked, ...); 3 for flood messages.
    gotify        POST url/message, X-Gotify-Key: TOKEN, JSON {title,
                  message, priority, extras}: priority urgent 8, normal 5,
                  low 3 when paging, 2 otherwise, 4 for flood; extras say
                  the message is text/plain and, with a link,
                  client::notification.click.url.
    twilio        POST url/2010-04-01/Accounts/SID/Messages.json, basic auth
                  SID:AUTH_TOKEN, form To, From, Body (≤ 1600 characters:
                  headline, where, link, then what fits of the detail).
    lilac         POST url, JSON of the change body exactly as the broker
                  publishes it (alert_change_pack → json_from_msgpack), with
                  "rule"; flood actions add "flood" (held/over) and "held".

    Character limits (Discord, Twilio) are counted in UTF-16 code units, as
    JavaScript counts: a character outside the BMP counts two. That is never
    less than a count of code points, so the text fits whichever way the
    service counts. A cut text ends in "…" and never splits a character
    (nor a Discord backslash escape).

    Memory: strings come from mem_* (the program ends when out of memory);
    jansson's failures are reported as "out of memory" errors.
*/
#include <ctype.h>
#include <gnutls/crypto.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "hash.h"
#include "json.h"
#include "mem.h"
#include "webhook_format.h"
#include "wire.h"

#define WEBHOOK_DETAIL_LINES      10          //  detail lines in a message, at most
#define WEBHOOK_DETAIL_BYTES      2000        //  detail bytes in a message, at most
#define WEBHOOK_LINE_BYTES        1100        //  bytes of a one-line part, at most
#define WEBHOOK_TWILIO_DEFAULT    "https://api.twilio.com"
#define WEBHOOK_DISCORD_CONTENT   2000        //  Discord: content, characters
#define WEBHOOK_DISCORD_TITLE     256         //  Discord: embed title
#define WEBHOOK_DISCORD_TEXT      4096        //  Discord: embed description
#define WEBHOOK_TWILIO_BODY       1600        //  Twilio: Body, characters
#define WEBHOOK_NTFY_BODY         4000        //  ntfy: body bytes (its limit is 4096)
#define WEBHOOK_RFC2047_CHUNK     45          //  bytes per encoded word: 60 base64 digits
#define WEBHOOK_ZERO_TIME         "0001-01-01T00:00:00Z"   //  Go's zero time.Time
#define WEBHOOK_TIME_MAX_MS       253402300799999LL        //  9999-12-31T23:59:59.999Z
#define WEBHOOK_ELLIPSIS          "\xE2\x80\xA6"
#define WEBHOOK_REPLACEMENT       "\xEF\xBF\xBD"           //  U+FFFD
#define WEBHOOK_LINK_TITLE        "Open in lilac"

static const char *const s_format_names [] = {
    "alertmanager", "slack", "discord", "teams", "matrix", "ntfy", "gotify", "twilio", "lilac"
};
#define WEBHOOK_FORMAT_COUNT (sizeof s_format_names / sizeof s_format_names [0])

//  How loud a message is, for priorities, colours and tags.
typedef enum {
    TONE_PAGE,                     //  raised, reminder, unacked: someone should look
    TONE_CLEARED,                  //  all is well again
    TONE_ACKED,                    //  someone is on it
    TONE_QUIET,                    //  pending, updated, deleted, ...
    TONE_FLOOD                     //  flood control speaking
} tone_t;

//  A change in words; every string clean UTF-8, owned.
typedef struct {
    char *headline;                //  one line: "RAISED: subject — summary"
    char *where;                   //  one line: "source/id · urgent"
    char *extra;                   //  one line or NULL: who acknowledged, their note
    char *detail;                  //  the detail's first lines, or NULL
    char *link;                    //  the alert's page (or url_base), or NULL
    char *rule;                    //  the rule's name
    tone_t tone;                   //  how loud
    rule_action_kind_t kind;       //  notify, or which flood message
    alert_level_t level;           //  the alert's level
} message_t;

//  A growing string.
typedef struct {
    char *data;                    //  NUL-terminated, owned
    size_t size;                   //  bytes before the NUL
    size_t capacity;               //  bytes allocated
} text_t;

//  --- text -------------------------------------------------------------------------------

static void
s_text_add (text_t *text, const char *bytes, size_t size)
{
    if (text->size + size + 1 > text->capacity) {
        size_t capacity = text->capacity ? text->capacity : 64;
        while (text->size + size + 1 > capacity)
            capacity *= 2;
        text->data = mem_realloc (text->data, capacity);
        text->capacity = capacity;
    }
    memcpy (text->data + text->size, bytes, size);
    text->size += size;
    text->data [text->size] = 0;
}

static void
s_text_adds (text_t *text, const char *string)
{
    s_text_add (text, string, strlen (string));
}

//  The string built (never NULL); text is empty again.
static char *
s_text_take (text_t *text)
{
    char *data = text->data ? text->data : mem_strdup ("");
    memset (text, 0, sizeof *text);
    return data;
}

//  Bytes in the UTF-8 sequence starting with lead (clean text only).
static size_t
s_char_size (unsigned char lead)
{
    return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

//  A clean copy of raw (NULL: ""): bytes that are not UTF-8 become U+FFFD;
//  control characters (C0, DEL, C1, U+2028/9) become a space, except that
//  a multiline text keeps LF and tab and drops CR.
static char *
s_clean (const char *raw, bool multiline)
{
    text_t text = { 0 };
    size_t size = raw ? strlen (raw) : 0;
    for (size_t at = 0; at < size; ) {
        unsigned char byte = (unsigned char) raw [at];
        size_t length = 1;
        while (length <= 4 && at + length <= size && !wire_utf8_valid (raw + at, length))
            length++;
        if (length > 4 || at + length > size) {
            s_text_adds (&text, WEBHOOK_REPLACEMENT);
            at++;
            continue;
        }
        bool c1 = length == 2 && byte == 0xC2 && (unsigned char) raw [at + 1] < 0xA0;
        bool separator = length == 3 && memcmp (raw + at, "\xE2\x80\xA8", 2) == 0
                         && ((unsigned char) raw [at + 2] & 0xFE) == 0xA8;
        if (multiline && (byte == '\n' || byte == '\t'))
            s_text_add (&text, raw + at, 1);
        else
        if (multiline && byte == '\r')
            ;
        else
        if (byte < 0x20 || byte == 0x7F || c1 || separator)
            s_text_adds (&text, " ");
        else
            s_text_add (&text, raw + at, length);
        at += length;
    }
    return s_text_take (&text);
}

//  UTF-16 code units of one character of clean text.
static size_t
s_char_units (size_t char_size)
{
    return char_size == 4 ? 2 : 1;
}

//  A copy of clean text cut to max units (UTF-16 code units) or, with
//  by_bytes, to max bytes; a cut one ends in "…" (within the limit). With
//  pairs, a backslash and the character after it are kept or cut together.
static char *
s_cut (const char *clean, size_t max, bool by_bytes, bool pairs)
{
    size_t total = 0, length = strlen (clean);
    for (size_t at = 0; at < length; at += s_char_size ((unsigned char) clean [at]))
        total += by_bytes ? s_char_size ((unsigned char) clean [at])
                          : s_char_units (s_char_size ((unsigned char) clean [at]));
    if (total <= max)
        return mem_strdup (clean);
    size_t room = max - (by_bytes ? strlen (WEBHOOK_ELLIPSIS) : 1);
    size_t used = 0, at = 0;
    while (at < length) {
        size_t group = s_char_size ((unsigned char) clean [at]);
        if (pairs && clean [at] == '\\' && at + 1 < length)
            group += s_char_size ((unsigned char) clean [at + 1]);
        size_t cost = by_bytes ? group : 0;
        for (size_t inner = at; !by_bytes && inner < at + group;
             inner += s_char_size ((unsigned char) clean [inner]))
            cost += s_char_units (s_char_size ((unsigned char) clean [inner]));
        if (used + cost > room)
            break;
        used += cost;
        at += group;
    }
    text_t text = { 0 };
    s_text_add (&text, clean, at);
    s_text_adds (&text, WEBHOOK_ELLIPSIS);
    return s_text_take (&text);
}

//  s_clean of one line, cut to WEBHOOK_LINE_BYTES.
static char *
s_clean_line (const char *raw)
{
    char *clean = s_clean (raw, false);
    char *cut = s_cut (clean, WEBHOOK_LINE_BYTES, true, false);
    mem_free (clean);
    return cut;
}

//  Slack mrkdwn: &, <, > as entities (Slack's documented escaping).
static char *
s_escape_slack (const char *clean)
{
    text_t text = { 0 };
    for (const char *at = clean; *at; at++)
        if (*at == '&')
            s_text_adds (&text, "&amp;");
        else
        if (*at == '<')
            s_text_adds (&text, "&lt;");
        else
        if (*at == '>')
            s_text_adds (&text, "&gt;");
        else
            s_text_add (&text, at, 1);
    return s_text_take (&text);
}

//  Discord markdown: a backslash before every character that can start
//  formatting, a masked link or a mention (\ * _ ~ ` | < > [ ]), and
//  before # and - at the start of a line (headings, subtext, lists).
static char *
s_escape_discord (const char *clean)
{
    text_t text = { 0 };
    bool line_start = true;
    for (const char *at = clean; *at; at++) {
        if (strchr ("\\*_~`|<>[]", *at) || (line_start && (*at == '#' || *at == '-')))
            s_text_adds (&text, "\\");
        s_text_add (&text, at, 1);
        line_start = *at == '\n' || (line_start && *at == ' ');
    }
    return s_text_take (&text);
}

//  Percent-encoding: all but A-Z a-z 0-9 - . _ ~; form: space as '+'.
static char *
s_percent (const char *raw, bool form)
{
    text_t text = { 0 };
    for (const unsigned char *at = (const unsigned char *) (raw ? raw : ""); *at; at++) {
        char hex [4];
        if (isalnum (*at) && *at < 0x80)
            s_text_add (&text, (const char *) at, 1);
        else
        if (strchr ("-._~", *at))
            s_text_add (&text, (const char *) at, 1);
        else
        if (form && *at == ' ')
            s_text_adds (&text, "+");
        else {
            snprintf (hex, sizeof hex, "%%%02X", *at);
            s_text_adds (&text, hex);
        }
    }
    return s_text_take (&text);
}

//  The string without trailing '/' (a fresh copy).
static char *
s_strip_slash (const char *url)
{
    char *copy = mem_strdup (url);
    size_t length = strlen (copy);
    while (length > 0 && copy [length - 1] == '/')
        copy [--length] = 0;
    return copy;
}

static char *
s_concat (const char *first, const char *second)
{
    text_t text = { 0 };
    s_text_adds (&text, first);
    s_text_adds (&text, second);
    return s_text_take (&text);
}


//  ms since the epoch as Go writes a UTC time.Time (RFC 3339, the fraction
//  without trailing zeros); clamped to 1970 .. 9999.
static void
s_time_text (int64_t ms, char *out, size_t size)
{
    if (ms < 0)
        ms = 0;
    if (ms > WEBHOOK_TIME_MAX_MS)
        ms = WEBHOOK_TIME_MAX_MS;
    time_t seconds = (time_t) (ms / 1000);
    struct tm parts;
    if (!gmtime_r (&seconds, &parts)
    ||  strftime (out, size, "%Y-%m-%dT%H:%M:%S", &parts) == 0) {
        snprintf (out, size, "%s", "1970-01-01T00:00:00Z");
        return;
    }
    char fraction [8] = "";
    if (ms % 1000) {
        snprintf (fraction, sizeof fraction, ".%03d", (int) (ms % 1000));
        for (size_t length = strlen (fraction); fraction [length - 1] == '0'; length--)
            fraction [length - 1] = 0;
    }
    size_t used = strlen (out);
    snprintf (out + used, size - used, "%sZ", fraction);
}

//  RFC 4648 base64 of size bytes.
static void
s_base64 (text_t *text, const unsigned char *bytes, size_t size)
{
    static const char digits [] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t at = 0; at < size; at += 3) {
        uint32_t group = (uint32_t) bytes [at] << 16;
        if (at + 1 < size)
            group |= (uint32_t) bytes [at + 1] << 8;
        if (at + 2 < size)
            group |= bytes [at + 2];
        char quad [4] = { digits [group >> 18], digits [(group >> 12) & 63],
                          at + 1 < size ? digits [(group >> 6) & 63] : '=',
                          at + 2 < size ? digits [group & 63] : '=' };
        s_text_add (text, quad, 4);
    }
}

//  A header value for clean one-line text: as it is when printable ASCII
//  without "=?", else RFC 2047 encoded words =?UTF-8?B?…?= (≤ 75 bytes
//  each, split at character boundaries, separated by a space).
static char *
s_header_text (const char *clean)
{
    bool plain = !strstr (clean, "=?");
    for (const unsigned char *at = (const unsigned char *) clean; *at && plain; at++)
        plain = *at >= 0x20 && *at < 0x7F;
    if (plain)
        return mem_strdup (clean);
    text_t text = { 0 };
    size_t length = strlen (clean);
    for (size_t at = 0; at < length; ) {
        size_t chunk = 0;
        while (at + chunk < length) {
            size_t next = s_char_size ((unsigned char) clean [at + chunk]);
            if (chunk + next > WEBHOOK_RFC2047_CHUNK)
                break;
            chunk += next;
        }
        s_text_adds (&text, at ? " =?UTF-8?B?" : "=?UTF-8?B?");
        s_base64 (&text, (const unsigned char *) clean + at, chunk);
        s_text_adds (&text, "?=");
        at += chunk;
    }
    return s_text_take (&text);
}

//  --- the message ------------------------------------------------------------------------

static bool
s_event_is (const alert_change_t *change, const char *event)
{
    return change->event && strcmp (change->event, event) == 0;
}

static tone_t
s_tone (const alert_change_t *change, const rule_action_t *action)
{
    if (action && action->kind != ACTION_NOTIFY)
        return TONE_FLOOD;
    if (s_event_is (change, "cleared") || change->alert.state == ALERT_CLEARED)
        return TONE_CLEARED;
    if (s_event_is (change, "raised") || s_event_is (change, "reminder")
    ||  s_event_is (change, "unacked"))
        return TONE_PAGE;
    if (s_event_is (change, "acked"))
        return TONE_ACKED;
    return TONE_QUIET;
}

static bool
s_has (const char *text)
{
    return text && *text;
}

//  The first WEBHOOK_DETAIL_LINES lines of the detail, clean; NULL when
//  there is none. Leading and trailing empty lines are dropped; "…" says
//  more was left out.
static char *
s_detail (const char *raw)
{
    char *clean = s_clean (raw, true);
    const char *start = clean;
    while (*start == '\n')
        start++;
    const char *end = start;
    for (int lines = 0; *end && lines < WEBHOOK_DETAIL_LINES; lines++) {
        const char *newline = strchr (end, '\n');
        end = newline ? newline + 1 : end + strlen (end);
    }
    bool more = false;
    for (const char *rest = end; *rest; rest++)
        more = more || (*rest != '\n' && *rest != ' ' && *rest != '\t');
    while (end > start && (end [-1] == '\n' || end [-1] == ' ' || end [-1] == '\t'))
        end--;
    text_t text = { 0 };
    s_text_add (&text, start, (size_t) (end - start));
    if (more)
        s_text_adds (&text, "\n" WEBHOOK_ELLIPSIS);
    mem_free (clean);
    char *joined = s_text_take (&text);
    char *detail = s_cut (joined, WEBHOOK_DETAIL_BYTES, true, false);
    mem_free (joined);
    if (!*detail) {
        mem_free (detail);
        return NULL;
    }
    return detail;
}

//  url_base/alerts/SOURCE/ID, or NULL without url_base.
static char *
s_alert_link (const webhook_target_t *target, const alert_t *alert)
{
    if (!s_has (target->url_base))
        return NULL;
    char *base = s_strip_slash (target->url_base);
    char *source = s_percent (alert->source, false);
    char *id = s_percent (alert->id, false);
    text_t text = { 0 };
    s_text_adds (&text, base);
    s_text_adds (&text, "/alerts/");
    s_text_adds (&text, source);
    s_text_adds (&text, "/");
    s_text_adds (&text, id);
    mem_free (base);
    mem_free (source);
    mem_free (id);
    return s_text_take (&text);
}

//  "RAISED: subject — summary" (subject defaults to the source).
static char *
s_headline (const alert_change_t *change)
{
    const alert_t *alert = &change->alert;
    char *event = s_clean (s_has (change->event) ? change->event : "change", false);
    for (char *at = event; *at; at++)
        *at = (char) toupper ((unsigned char) *at);
    text_t text = { 0 };
    s_text_adds (&text, event);
    s_text_adds (&text, ": ");
    s_text_adds (&text, s_has (alert->subject) ? alert->subject
                      : s_has (alert->source) ? alert->source : "?");
    if (s_has (alert->summary)) {
        s_text_adds (&text, " \xE2\x80\x94 ");
        s_text_adds (&text, alert->summary);
    }
    mem_free (event);
    char *raw = s_text_take (&text);
    char *headline = s_clean_line (raw);
    mem_free (raw);
    return headline;
}

//  "source/id · level", clean.
static char *
s_where (const alert_t *alert, const char *prefix)
{
    text_t text = { 0 };
    s_text_adds (&text, prefix);
    s_text_adds (&text, alert->source ? alert->source : "");
    s_text_adds (&text, "/");
    s_text_adds (&text, alert->id ? alert->id : "");
    s_text_adds (&text, " \xC2\xB7 ");
    s_text_adds (&text, alert_level_name (alert->level));
    char *raw = s_text_take (&text);
    char *where = s_clean_line (raw);
    mem_free (raw);
    return where;
}

//  "acknowledged by X: note", clean; NULL unless an acked change says who.
static char *
s_extra (const alert_change_t *change)
{
    const alert_t *alert = &change->alert;
    if (!s_event_is (change, "acked") || !s_has (alert->acked_by))
        return NULL;
    text_t text = { 0 };
    s_text_adds (&text, "acknowledged by ");
    s_text_adds (&text, alert->acked_by);
    if (s_has (alert->ack_note)) {
        s_text_adds (&text, ": ");
        s_text_adds (&text, alert->ack_note);
    }
    char *raw = s_text_take (&text);
    char *extra = s_clean_line (raw);
    mem_free (raw);
    return extra;
}

//  The flood message's headline, clean.
static char *
s_flood_headline (const rule_action_t *action, const char *rule)
{
    const char *limit = NULL;
    if (!action->settings || config_string (action->settings, "limit", NULL, &limit) != 0)
        limit = NULL;
    char *clean_limit = limit ? s_clean (limit, false) : NULL;
    size_t size = strlen (rule) + (clean_limit ? strlen (clean_limit) : 0) + 128;
    char *raw = mem_alloc (size);
    if (action->kind == ACTION_FLOOD_HELD)
        snprintf (raw, size, "lilac: further alerts of rule %s are held back%s%s%s", rule,
                  clean_limit ? " (limit " : "", clean_limit ? clean_limit : "",
                  clean_limit ? ")" : "");
    else
        snprintf (raw, size, "lilac: normal service resumes: %" PRId64 " alert%s held back"
                  " (rule %s)", action->held, action->held == 1 ? " was" : "s were", rule);
    mem_free (clean_limit);
    char *headline = s_clean_line (raw);
    mem_free (raw);
    return headline;
}

static void
s_message_free (message_t *message)
{
    mem_free (message->headline);
    mem_free (message->where);
    mem_free (message->extra);
    mem_free (message->detail);
    mem_free (message->link);
    mem_free (message->rule);
    memset (message, 0, sizeof *message);
}

static void
s_message_make (const webhook_target_t *target, const alert_change_t *change,
                const rule_action_t *action, message_t *message)
{
    memset (message, 0, sizeof *message);
    const alert_t *alert = &change->alert;
    message->rule = s_clean_line (action && action->rule ? action->rule : "");
    message->tone = s_tone (change, action);
    message->kind = action ? action->kind : ACTION_NOTIFY;
    message->level = alert->level >= LEVEL_LOW && alert->level <= LEVEL_URGENT ? alert->level
                                                                              : LEVEL_NORMAL;
    if (message->tone == TONE_FLOOD) {
        message->headline = s_flood_headline (action, message->rule);
        message->where = s_where (alert, action->kind == ACTION_FLOOD_HELD ? "the last one: "
                                                                           : "this one: ");
        message->link = s_has (target->url_base) ? s_strip_slash (target->url_base) : NULL;
        return;
    }
    message->headline = s_headline (change);
    message->where = s_where (alert, "");
    message->extra = s_extra (change);
    message->detail = s_has (alert->detail) ? s_detail (alert->detail) : NULL;
    message->link = s_alert_link (target, alert);
}

//  headline, where, extra and (with_detail) the detail, one per line; and
//  the link at the end (link_last) or after where.
static char *
s_plain (const message_t *message, bool with_detail, bool link_last)
{
    text_t text = { 0 };
    s_text_adds (&text, message->headline);
    s_text_adds (&text, "\n");
    s_text_adds (&text, message->where);
    if (message->link && !link_last) {
        s_text_adds (&text, "\n");
        s_text_adds (&text, message->link);
    }
    if (message->extra) {
        s_text_adds (&text, "\n");
        s_text_adds (&text, message->extra);
    }
    if (with_detail && message->detail) {
        s_text_adds (&text, "\n\n");
        s_text_adds (&text, message->detail);
    }
    if (message->link && link_last) {
        s_text_adds (&text, "\n\n");
        s_text_adds (&text, message->link);
    }
    return s_text_take (&text);
}

//  --- the request ------------------------------------------------------------------------

//  Adds "name: value", every control character of value made a space.
//  0, or -1 when the request has WEBHOOK_HEADERS_MAX already.
static int
s_header (webhook_request_t *request, const char *name, const char *value)
{
    if (request->header_count == WEBHOOK_HEADERS_MAX)
        return -1;
    text_t text = { 0 };
    s_text_adds (&text, name);
    s_text_adds (&text, ": ");
    size_t from = text.size;
    s_text_adds (&text, value);
    for (size_t at = from; at < text.size; at++)
        if ((unsigned char) text.data [at] < 0x20 || text.data [at] == 0x7F)
            text.data [at] = ' ';
    request->headers [request->header_count++] = s_text_take (&text);
    return 0;
}

static void
s_request_start (webhook_request_t *request, const char *method, char *url,
                 const char *content_type)
{
    memset (request, 0, sizeof *request);
    snprintf (request->method, sizeof request->method, "%s", method);
    request->url = url;
    request->content_type = mem_strdup (content_type);
}

//  The body from a JSON value (taken). 0, or -1 when out of memory.
static int
s_json_body (webhook_request_t *request, json_t *root)
{
    char *json = root ? json_text (root) : NULL;
    json_decref (root);
    if (!json)
        return -1;
    request->body = json;               //  malloc'd, as mem_free expects
    request->body_size = strlen (json);
    return 0;
}

static void
s_text_body (webhook_request_t *request, char *body)
{
    request->body = body;
    request->body_size = strlen (body);
}

//  object[key] = a clean string (taken NULL: left out). 0, or -1.
static int
s_put (json_t *object, const char *key, const char *value)
{
    if (!value)
        return 0;
    return json_object_set_new (object, key, json_string_lossy (value, strlen (value)));
}

static int
s_put_int (json_t *object, const char *key, int64_t value)
{
    return json_object_set_new (object, key, json_integer (value));
}

//  --- alertmanager -----------------------------------------------------------------------

//  Go's strconv.Quote, near enough, for a groupKey.
static void
s_go_quote (text_t *text, const char *clean)
{
    s_text_adds (text, "\"");
    for (const char *at = clean; *at; at++)
        if (*at == '"' || *at == '\\') {
            s_text_adds (text, "\\");
            s_text_add (text, at, 1);
        }
        else
            s_text_add (text, at, 1);
    s_text_adds (text, "\"");
}

//  labels[key] = value, both made clean; an empty value is left out.
static int
s_put_label (json_t *labels, const char *key, const char *value)
{
    if (!s_has (value) || !s_has (key))
        return 0;
    char *clean_key = s_clean (key, false);
    char *clean_value = s_clean (value, false);
    int rc = s_put (labels, clean_key, clean_value);
    mem_free (clean_key);
    mem_free (clean_value);
    return rc;
}

static json_t *
s_am_labels (const alert_change_t *change, const message_t *message)
{
    const alert_t *alert = &change->alert;
    json_t *labels = json_object ();
    bool ok = labels != NULL;
    if (message->tone == TONE_FLOOD)
        ok = ok && s_put (labels, "alertname", "lilac_flood") == 0
                && s_put (labels, "source", "lilac") == 0
                && s_put_label (labels, "rule", message->rule) == 0;
    else {
        for (size_t index = 0; ok && index < alert->label_count; index++)
            ok = s_put_label (labels, alert->labels [index].key,
                              alert->labels [index].value) == 0;
        ok = ok && s_put_label (labels, "alertname", alert->id) == 0
                && s_put_label (labels, "source", alert->source) == 0
                && s_put_label (labels, "subject", s_has (alert->subject) ? alert->subject
                                                                         : alert->source) == 0
                && s_put (labels, "level", alert_level_name (message->level)) == 0;
    }
    if (!ok)
        json_decref (labels);
    return ok ? labels : NULL;
}

static json_t *
s_am_annotations (const alert_change_t *change, const message_t *message)
{
    const alert_t *alert = &change->alert;
    json_t *annotations = json_object ();
    char *summary = message->tone == TONE_FLOOD ? mem_strdup (message->headline)
                  : s_clean (s_has (alert->summary) ? alert->summary : message->headline, false);
    char *description = message->tone == TONE_FLOOD ? mem_strdup (message->where)
                      : s_has (alert->detail) ? s_clean (alert->detail, true) : NULL;
    char *event = s_clean (change->event, false);
    bool ok = annotations
        && s_put (annotations, "summary", summary) == 0
        && s_put (annotations, "description", description) == 0
        && s_put (annotations, "lilac_event", message->tone == TONE_FLOOD ? "flood" : event) == 0;
    mem_free (summary);
    mem_free (description);
    mem_free (event);
    if (!ok)
        json_decref (annotations);
    return ok ? annotations : NULL;
}

static char *
s_am_fingerprint (const alert_change_t *change, const message_t *message)
{
    uint64_t hash = HASH_FNV1A_START;
    if (message->tone == TONE_FLOOD)
        hash = hash_fnv1a_string (hash_fnv1a_string (hash, "lilac_flood\xFF"), message->rule);
    else
        hash = hash_fnv1a_string (hash_fnv1a_string (hash_fnv1a_string (hash, change->alert.source), "\xFF"), change->alert.id);
    char *text = mem_alloc (17);
    snprintf (text, 17, "%016" PRIx64, hash);
    return text;
}

static bool
s_am_resolved (const alert_change_t *change, const message_t *message)
{
    if (message->tone == TONE_FLOOD)
        return message->kind == ACTION_FLOOD_OVER;
    return change->alert.state == ALERT_CLEARED;
}

static json_t *
s_am_alert (const alert_change_t *change, const message_t *message, json_t *labels,
            json_t *annotations)
{
    bool resolved = s_am_resolved (change, message);
    int64_t starts = change->alert.raise_at > 0 && message->tone != TONE_FLOOD
                     ? change->alert.raise_at : change->at;
    char starts_at [40], ends_at [40];
    s_time_text (starts, starts_at, sizeof starts_at);
    if (resolved)
        s_time_text (change->at, ends_at, sizeof ends_at);
    else
        snprintf (ends_at, sizeof ends_at, "%s", WEBHOOK_ZERO_TIME);
    char *fingerprint = s_am_fingerprint (change, message);
    json_t *alert = json_object ();
    bool ok = alert
        && s_put (alert, "status", resolved ? "resolved" : "firing") == 0
        && json_object_set (alert, "labels", labels) == 0
        && json_object_set (alert, "annotations", annotations) == 0
        && s_put (alert, "startsAt", starts_at) == 0
        && s_put (alert, "endsAt", ends_at) == 0
        && s_put (alert, "generatorURL", message->link && message->tone != TONE_FLOOD
                                         ? message->link : "") == 0
        && s_put (alert, "fingerprint", fingerprint) == 0;
    mem_free (fingerprint);
    if (!ok)
        json_decref (alert);
    return ok ? alert : NULL;
}

//  The two group labels: alertname and source (for flood: lilac_flood
//  and the rule), clean.
static void
s_am_group_values (const alert_change_t *change, const message_t *message,
                   char **alertname, char **second)
{
    bool flood = message->tone == TONE_FLOOD;
    *alertname = s_clean (flood ? "lilac_flood" : change->alert.id, false);
    *second = s_clean (flood ? message->rule : change->alert.source, false);
}

//  The groupKey Alertmanager would write: {}:{alertname="x", source="y"}.
static char *
s_am_group_key (const alert_change_t *change, const message_t *message)
{
    char *alertname, *second;
    s_am_group_values (change, message, &alertname, &second);
    text_t key = { 0 };
    s_text_adds (&key, "{}:{alertname=");
    s_go_quote (&key, alertname);
    s_text_adds (&key, message->tone == TONE_FLOOD ? ", rule=" : ", source=");
    s_go_quote (&key, second);
    s_text_adds (&key, "}");
    mem_free (alertname);
    mem_free (second);
    return s_text_take (&key);
}

static json_t *
s_am_group_labels (const alert_change_t *change, const message_t *message)
{
    char *alertname, *second;
    s_am_group_values (change, message, &alertname, &second);
    json_t *group = json_object ();
    bool ok = group
        && s_put_label (group, "alertname", alertname) == 0
        && s_put_label (group, message->tone == TONE_FLOOD ? "rule" : "source", second) == 0;
    mem_free (alertname);
    mem_free (second);
    if (!ok)
        json_decref (group);
    return ok ? group : NULL;
}

//  The payload around one alert; labels, annotations and alert are shared
//  (not taken). NULL when out of memory.
static json_t *
s_am_root (const alert_change_t *change, const message_t *message, const char *external,
           json_t *labels, json_t *annotations, json_t *alert)
{
    char *group_key = s_am_group_key (change, message);
    json_t *root = json_object ();
    bool ok = root
        && s_put (root, "version", "4") == 0
        && s_put (root, "groupKey", group_key) == 0
        && s_put_int (root, "truncatedAlerts", 0) == 0
        && s_put (root, "status", s_am_resolved (change, message) ? "resolved" : "firing") == 0
        && s_put (root, "receiver", message->rule) == 0
        && json_object_set_new (root, "groupLabels", s_am_group_labels (change, message)) == 0
        && json_object_set (root, "commonLabels", labels) == 0
        && json_object_set (root, "commonAnnotations", annotations) == 0
        && s_put (root, "externalURL", external) == 0
        && json_object_set_new (root, "alerts", json_pack ("[O]", alert)) == 0;
    mem_free (group_key);
    if (!ok)
        json_decref (root);
    return ok ? root : NULL;
}

static int
s_build_alertmanager (const webhook_target_t *target, const alert_change_t *change,
                      const message_t *message, webhook_request_t *request)
{
    s_request_start (request, "POST", mem_strdup (target->url), "application/json");
    char *external = s_strip_slash (s_has (target->url_base) ? target->url_base : "");
    json_t *labels = s_am_labels (change, message);
    json_t *annotations = s_am_annotations (change, message);
    json_t *alert = labels && annotations ? s_am_alert (change, message, labels, annotations)
                                          : NULL;
    json_t *root = alert ? s_am_root (change, message, external, labels, annotations, alert)
                         : NULL;
    json_decref (labels);
    json_decref (annotations);
    json_decref (alert);
    mem_free (external);
    return s_json_body (request, root);
}

//  --- slack, discord, teams --------------------------------------------------------------

static int
s_build_slack (const webhook_target_t *target, const message_t *message,
               webhook_request_t *request)
{
    s_request_start (request, "POST", mem_strdup (target->url), "application/json");
    message_t words = *message;
    words.link = NULL;
    char *plain = s_plain (&words, true, true);
    char *escaped = s_escape_slack (plain);
    text_t text = { 0 };
    s_text_adds (&text, escaped);
    if (message->link) {
        s_text_adds (&text, "\n<");
        s_text_adds (&text, message->link);
        s_text_adds (&text, "|" WEBHOOK_LINK_TITLE ">");
    }
    char *body = s_text_take (&text);
    json_t *root = json_object ();
    if (root && s_put (root, "text", body)) {
        json_decref (root);
        root = NULL;
    }
    mem_free (plain);
    mem_free (escaped);
    mem_free (body);
    return s_json_body (request, root);
}

static int
s_discord_color (const message_t *message)
{
    switch (message->tone) {
        case TONE_PAGE:
            return message->level == LEVEL_URGENT ? 0xC62828
                 : message->level == LEVEL_NORMAL ? 0xEF6C00 : 0x1565C0;
        case TONE_CLEARED: return 0x2E7D32;
        case TONE_FLOOD:   return 0x6A1B9A;
        case TONE_ACKED:
        case TONE_QUIET:   break;
    }
    return 0x757575;
}

//  clean escaped for Discord and cut to max characters.
static char *
s_discord_text (const char *clean, size_t max)
{
    char *escaped = s_escape_discord (clean);
    char *cut = s_cut (escaped, max, false, true);
    mem_free (escaped);
    return cut;
}

static json_t *
s_discord_embed (const alert_change_t *change, const message_t *message)
{
    text_t text = { 0 };
    if (message->extra)
        s_text_adds (&text, message->extra);
    if (message->extra && message->detail)
        s_text_adds (&text, "\n\n");
    if (message->detail)
        s_text_adds (&text, message->detail);
    char *description_raw = s_text_take (&text);
    char *title = s_discord_text (message->where, WEBHOOK_DISCORD_TITLE);
    char *description = *description_raw
                        ? s_discord_text (description_raw, WEBHOOK_DISCORD_TEXT) : NULL;
    char timestamp [40];
    s_time_text (change->at, timestamp, sizeof timestamp);
    json_t *embed = json_object ();
    bool ok = embed
        && s_put (embed, "title", title) == 0
        && s_put (embed, "description", description) == 0
        && s_put (embed, "url", message->link) == 0
        && s_put_int (embed, "color", s_discord_color (message)) == 0
        && s_put (embed, "timestamp", timestamp) == 0;
    mem_free (description_raw);
    mem_free (title);
    mem_free (description);
    if (!ok)
        json_decref (embed);
    return ok ? embed : NULL;
}

static int
s_build_discord (const webhook_target_t *target, const alert_change_t *change,
                 const message_t *message, webhook_request_t *request)
{
    s_request_start (request, "POST", mem_strdup (target->url), "application/json");
    char *content = s_discord_text (message->headline, WEBHOOK_DISCORD_CONTENT);
    json_t *embed = s_discord_embed (change, message);
    json_t *embeds = json_array ();
    json_t *mentions = json_pack ("{s:[]}", "parse");
    json_t *root = json_object ();
    bool ok = embed && embeds && mentions && root
        && s_put (root, "content", content) == 0
        && json_array_append (embeds, embed) == 0
        && json_object_set (root, "embeds", embeds) == 0
        && json_object_set (root, "allowed_mentions", mentions) == 0;
    json_decref (embed);
    json_decref (embeds);
    json_decref (mentions);
    mem_free (content);
    if (!ok) {
        json_decref (root);
        root = NULL;
    }
    return s_json_body (request, root);
}

static const char *
s_teams_color (const message_t *message)
{
    switch (message->tone) {
        case TONE_PAGE:
            return message->level == LEVEL_URGENT ? "Attention"
                 : message->level == LEVEL_NORMAL ? "Warning" : "Accent";
        case TONE_CLEARED: return "Good";
        case TONE_FLOOD:   return "Warning";
        case TONE_ACKED:
        case TONE_QUIET:   break;
    }
    return "Default";
}

//  A RichTextBlock holding one TextRun of clean text (never markdown).
static json_t *
s_teams_line (const char *clean, bool headline, const message_t *message, bool subtle)
{
    json_t *run = json_pack ("{s:s}", "type", "TextRun");
    bool ok = run && s_put (run, "text", clean) == 0;
    if (ok && headline)
        ok = s_put (run, "weight", "Bolder") == 0 && s_put (run, "size", "Medium") == 0
          && s_put (run, "color", s_teams_color (message)) == 0;
    if (ok && subtle)
        ok = json_object_set_new (run, "isSubtle", json_true ()) == 0;
    json_t *block = ok ? json_pack ("{s:s, s:s, s:[o]}", "type", "RichTextBlock",
                                    "spacing", headline ? "Default" : "Small", "inlines", run)
                       : NULL;
    if (!block && !ok)
        json_decref (run);
    return block;
}

//  The card's body: headline, where, extra, one block per detail line.
static json_t *
s_teams_body (const message_t *message)
{
    json_t *body = json_array ();
    bool ok = body
        && json_array_append_new (body, s_teams_line (message->headline, true, message,
                                                     false)) == 0
        && json_array_append_new (body, s_teams_line (message->where, false, message,
                                                     true)) == 0
        && (!message->extra
            || json_array_append_new (body, s_teams_line (message->extra, false, message,
                                                         false)) == 0);
    char *detail = message->detail ? mem_strdup (message->detail) : NULL;
    for (char *line = detail, *next = NULL; ok && line; line = next) {
        next = strchr (line, '\n');
        if (next)
            *next++ = 0;
        ok = json_array_append_new (body, s_teams_line (*line ? line : " ", false, message,
                                                        false)) == 0;
    }
    mem_free (detail);
    if (!ok)
        json_decref (body);
    return ok ? body : NULL;
}

static int
s_build_teams (const webhook_target_t *target, const message_t *message,
               webhook_request_t *request)
{
    s_request_start (request, "POST", mem_strdup (target->url), "application/json");
    json_t *card = json_pack ("{s:s, s:s, s:s, s:{s:s}, s:o}",
                              "$schema", "http://adaptivecards.io/schemas/adaptive-card.json",
                              "type", "AdaptiveCard", "version", "1.4",
                              "msteams", "width", "Full", "body", s_teams_body (message));
    if (card && message->link) {
        json_t *open = json_pack ("{s:s, s:s, s:s}", "type", "Action.OpenUrl",
                                  "title", WEBHOOK_LINK_TITLE, "url", message->link);
        if (json_object_set_new (card, "actions", json_pack ("[o]", open))) {
            json_decref (card);
            card = NULL;
        }
    }
    json_t *root = card
        ? json_pack ("{s:s, s:[{s:s, s:n, s:o}]}", "type", "message", "attachments",
                     "contentType", "application/vnd.microsoft.card.adaptive",
                     "contentUrl", "content", card)
        : NULL;
    return s_json_body (request, root);
}

//  --- matrix, ntfy, gotify, twilio -------------------------------------------------------

//  lilac.DB.N.SEQ.KIND.ROOM (see the file comment).
static char *
s_matrix_txn (const webhook_target_t *target, const alert_change_t *change,
              const rule_action_t *action)
{
    char db [9] = "";
    size_t used = 0;
    for (const char *at = change->epoch.db; *at && used < 8; at++)
        if (isxdigit ((unsigned char) *at))
            db [used++] = (char) tolower ((unsigned char) *at);
    db [used] = 0;
    char seq [48];
    if (change->seq)
        snprintf (seq, sizeof seq, "%" PRIu64, change->seq);
    else
        snprintf (seq, sizeof seq, "at%" PRId64, change->at);
    const char *kind = !action || action->kind == ACTION_NOTIFY ? "n"
                     : action->kind == ACTION_FLOOD_HELD ? "h" : "o";
    uint32_t room = (uint32_t) hash_fnv1a_string (HASH_FNV1A_START, target->room);
    size_t size = 128;
    char *txn = mem_alloc (size);
    snprintf (txn, size, "lilac.%s.%" PRIu64 ".%s.%s.%08" PRIx32, *db ? db : "0",
              change->epoch.n, seq, kind, room);
    return txn;
}

static int
s_build_matrix (const webhook_target_t *target, const alert_change_t *change,
                const rule_action_t *action, const message_t *message,
                webhook_request_t *request)
{
    char *base = s_strip_slash (target->url);
    char *room = s_percent (target->room, false);
    char *txn = s_matrix_txn (target, change, action);
    text_t url = { 0 };
    s_text_adds (&url, base);
    s_text_adds (&url, "/_matrix/client/v3/rooms/");
    s_text_adds (&url, room);
    s_text_adds (&url, "/send/m.room.message/");
    s_text_adds (&url, txn);
    s_request_start (request, "PUT", s_text_take (&url), "application/json");
    mem_free (base);
    mem_free (room);
    mem_free (txn);
    char *bearer = s_concat ("Bearer ", target->token);
    int rc = s_header (request, "Authorization", bearer);
    mem_free (bearer);
    char *plain = s_plain (message, true, true);
    json_t *root = json_pack ("{s:s, s:s%, s:{}}", "msgtype", "m.text", "body", plain,
                              strlen (plain), "m.mentions");
    mem_free (plain);
    if (rc) {
        json_decref (root);
        return -1;
    }
    return s_json_body (request, root);
}

static int
s_ntfy_priority (const message_t *message)
{
    if (message->tone == TONE_FLOOD)
        return 3;
    if (message->tone != TONE_PAGE)
        return 2;
    return message->level == LEVEL_URGENT ? 5 : message->level == LEVEL_NORMAL ? 4 : 3;
}

static const char *
s_ntfy_tag (const message_t *message)
{
    switch (message->tone) {
        case TONE_PAGE:
            return message->level == LEVEL_URGENT ? "rotating_light"
                 : message->level == LEVEL_NORMAL ? "warning" : "information_source";
        case TONE_CLEARED: return "white_check_mark";
        case TONE_ACKED:   return "eyes";
        case TONE_FLOOD:   return "hourglass";
        case TONE_QUIET:   break;
    }
    return "bell";
}

static int
s_build_ntfy (const webhook_target_t *target, const message_t *message,
              webhook_request_t *request)
{
    s_request_start (request, "POST", mem_strdup (target->url), "text/plain; charset=utf-8");
    message_t words = *message;
    words.link = NULL;
    char *plain = s_plain (&words, true, true);
    //  The headline is the Title; the body starts after it.
    const char *rest = strchr (plain, '\n');
    s_text_body (request, s_cut (rest ? rest + 1 : plain, WEBHOOK_NTFY_BODY, true, false));
    mem_free (plain);
    char *title = s_header_text (message->headline);
    char priority [4], tags [64];
    snprintf (priority, sizeof priority, "%d", s_ntfy_priority (message));
    snprintf (tags, sizeof tags, "%s,%s", s_ntfy_tag (message),
              message->tone == TONE_FLOOD ? "lilac" : alert_level_name (message->level));
    int rc = s_header (request, "Title", title) || s_header (request, "X-Priority", priority)
          || s_header (request, "Tags", tags)
          || (message->link && s_header (request, "Click", message->link));
    mem_free (title);
    if (rc == 0 && s_has (target->token)) {
        char *bearer = s_concat ("Bearer ", target->token);
        rc = s_header (request, "Authorization", bearer);
        mem_free (bearer);
    }
    return rc ? -1 : 0;
}

static int
s_gotify_priority (const message_t *message)
{
    if (message->tone == TONE_FLOOD)
        return 4;
    if (message->tone != TONE_PAGE)
        return 2;
    return message->level == LEVEL_URGENT ? 8 : message->level == LEVEL_NORMAL ? 5 : 3;
}

static int
s_build_gotify (const webhook_target_t *target, const message_t *message,
                webhook_request_t *request)
{
    char *base = s_strip_slash (target->url);
    s_request_start (request, "POST", s_concat (base, "/message"), "application/json");
    mem_free (base);
    if (s_header (request, "X-Gotify-Key", target->token))
        return -1;
    message_t words = *message;
    words.link = NULL;
    char *plain = s_plain (&words, true, true);
    const char *rest = strchr (plain, '\n');
    json_t *extras = json_pack ("{s:{s:s}}", "client::display", "contentType", "text/plain");
    if (extras && message->link
    &&  json_object_set_new (extras, "client::notification",
                             json_pack ("{s:{s:s}}", "click", "url", message->link))) {
        json_decref (extras);
        extras = NULL;
    }
    json_t *root = extras
        ? json_pack ("{s:s, s:s, s:i, s:o}", "title", message->headline,
                     "message", rest ? rest + 1 : plain, "priority", s_gotify_priority (message),
                     "extras", extras)
        : NULL;
    mem_free (plain);
    return s_json_body (request, root);
}

static void
s_form_add (text_t *form, const char *name, const char *value)
{
    char *encoded = s_percent (value, true);
    if (form->size)
        s_text_adds (form, "&");
    s_text_adds (form, name);
    s_text_adds (form, "=");
    s_text_adds (form, encoded);
    mem_free (encoded);
}

static int
s_build_twilio (const webhook_target_t *target, const message_t *message,
                webhook_request_t *request)
{
    char *base = s_strip_slash (s_has (target->url) ? target->url : WEBHOOK_TWILIO_DEFAULT);
    char *account = s_percent (target->account_sid, false);
    text_t url = { 0 };
    s_text_adds (&url, base);
    s_text_adds (&url, "/2010-04-01/Accounts/");
    s_text_adds (&url, account);
    s_text_adds (&url, "/Messages.json");
    s_request_start (request, "POST", s_text_take (&url), "application/x-www-form-urlencoded");
    mem_free (base);
    mem_free (account);
    char *plain = s_plain (message, true, false);
    char *body = s_cut (plain, WEBHOOK_TWILIO_BODY, false, false);
    text_t form = { 0 };
    s_form_add (&form, "To", target->to);
    s_form_add (&form, "From", target->from);
    s_form_add (&form, "Body", body);
    s_text_body (request, s_text_take (&form));
    request->username = mem_strdup (target->account_sid);
    request->password = mem_strdup (target->auth_token);
    mem_free (plain);
    mem_free (body);
    return 0;
}

//  --- lilac ------------------------------------------------------------------------------

//  The change body as the broker packs it, as JSON. NULL when out of memory.
static json_t *
s_change_json (const alert_change_t *change)
{
    const epoch_t *epoch = change->epoch.db [0] || change->epoch.n ? &change->epoch : NULL;
    wire_writer_t writer;
    wire_writer_init (&writer);
    alert_change_pack (&writer.packer, change->seq, change->at, change->event, &change->alert,
                       epoch);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    json_t *root = NULL;
    if (msgpack_unpack_next (&unpacked, writer.buffer.data, writer.buffer.size, &offset)
        == MSGPACK_UNPACK_SUCCESS)
        root = json_from_msgpack (&unpacked.data);
    msgpack_unpacked_destroy (&unpacked);
    wire_writer_free (&writer);
    return root;
}

static int
s_build_lilac (const webhook_target_t *target, const alert_change_t *change,
               const rule_action_t *action, const message_t *message,
               webhook_request_t *request)
{
    s_request_start (request, "POST", mem_strdup (target->url), "application/json");
    json_t *root = s_change_json (change);
    bool ok = root && json_is_object (root)
        && s_put (root, "rule", action && action->rule ? action->rule : "") == 0;
    if (ok && message->tone == TONE_FLOOD)
        ok = s_put (root, "flood", message->kind == ACTION_FLOOD_HELD ? "held" : "over") == 0
          && (message->kind != ACTION_FLOOD_OVER || s_put_int (root, "held", action->held) == 0);
    if (!ok) {
        json_decref (root);
        root = NULL;
    }
    return s_json_body (request, root);
}

//  --- checks -----------------------------------------------------------------------------

//  A URL we put in a request or a header: http(s)://, then printable ASCII
//  without space, quotes or angle brackets.
static bool
s_url_valid (const char *url)
{
    if (strncmp (url, "http://", 7) != 0 && strncmp (url, "https://", 8) != 0)
        return false;
    size_t scheme = url [4] == 's' ? 8 : 7;
    if (!url [scheme] || url [scheme] == '/')
        return false;
    for (const unsigned char *at = (const unsigned char *) url; *at; at++)
        if (*at <= 0x20 || *at >= 0x7F || strchr ("\"<>\\^`{|}", *at))
            return false;
    return true;
}

//  A secret for a header or basic auth: printable ASCII, no space.
static bool
s_secret_valid (const char *secret)
{
    for (const unsigned char *at = (const unsigned char *) secret; *at; at++)
        if (*at <= 0x20 || *at >= 0x7F)
            return false;
    return true;
}

//  "format F needs a, b and c" for the settings missing; 0 when none is.
static int
s_needs (const webhook_target_t *target, const char *const names [], const char *const values [],
         size_t count, char *error, size_t error_size)
{
    const char *missing [8];
    size_t missing_count = 0;
    for (size_t index = 0; index < count; index++)
        if (!s_has (values [index]))
            missing [missing_count++] = names [index];
    if (missing_count == 0)
        return 0;
    size_t used = (size_t) snprintf (error, error_size, "format %s needs",
                                     webhook_format_name (target->format));
    for (size_t index = 0; index < missing_count && used < error_size; index++)
        used += (size_t) snprintf (error + used, error_size - used, "%s%s",
                                   index == 0 ? " " : index + 1 == missing_count ? " and " : ", ",
                                   missing [index]);
    return -1;
}

static int
s_check_needs (const webhook_target_t *target, char *error, size_t error_size)
{
    static const char *const twilio [] = { "account_sid", "auth_token", "from", "to" };
    static const char *const matrix [] = { "url", "room", "token" };
    static const char *const gotify [] = { "url", "token" };
    static const char *const other [] = { "url" };
    if (target->format == WEBHOOK_TWILIO) {
        const char *values [] = { target->account_sid, target->auth_token, target->from,
                                  target->to };
        return s_needs (target, twilio, values, 4, error, error_size);
    }
    if (target->format == WEBHOOK_MATRIX) {
        const char *values [] = { target->url, target->room, target->token };
        //  The homeserver is named in the message only when it is the one missing.
        if (s_has (target->url))
            return s_needs (target, matrix + 1, values + 1, 2, error, error_size);
        return s_needs (target, matrix, values, 3, error, error_size);
    }
    if (target->format == WEBHOOK_GOTIFY) {
        const char *values [] = { target->url, target->token };
        return s_needs (target, gotify, values, 2, error, error_size);
    }
    const char *values [] = { target->url };
    return s_needs (target, other, values, 1, error, error_size);
}

static int
s_check_values (const webhook_target_t *target, char *error, size_t error_size)
{
    if (s_has (target->url) && !s_url_valid (target->url))
        snprintf (error, error_size, "url: not an http:// or https:// URL of printable ASCII"
                  " without spaces, quotes or <>");
    else
    if (s_has (target->url_base) && !s_url_valid (target->url_base))
        snprintf (error, error_size, "url_base: not an http:// or https:// URL of printable"
                  " ASCII without spaces, quotes or <>");
    else
    if (s_has (target->token) && !s_secret_valid (target->token))
        snprintf (error, error_size, "token: only printable ASCII without spaces");
    else
    if (target->format == WEBHOOK_MATRIX
    &&  (target->room [0] != '!' || !strchr (target->room, ':') || !s_secret_valid (target->room)))
        snprintf (error, error_size, "room: not a room id like !abc:example.org (an alias"
                  " #name:server will not do)");
    else
    if (target->format == WEBHOOK_TWILIO
    &&  (!s_secret_valid (target->account_sid) || strchr (target->account_sid, ':')
         || !s_secret_valid (target->auth_token)))
        snprintf (error, error_size, "account_sid, auth_token: only printable ASCII without"
                  " spaces (and no ':' in account_sid)");
    else
        return 0;
    return -1;
}

//  --- the API ----------------------------------------------------------------------------

int
webhook_format_parse (const char *name, webhook_format_t *format)
{
    for (size_t index = 0; name && index < WEBHOOK_FORMAT_COUNT; index++)
        if (strcmp (name, s_format_names [index]) == 0) {
            *format = (webhook_format_t) index;
            return 0;
        }
    return -1;
}

const char *
webhook_format_name (webhook_format_t format)
{
    return (size_t) format < WEBHOOK_FORMAT_COUNT ? s_format_names [format] : "unknown";
}

const char *
webhook_format_names (void)
{
    return "alertmanager, slack, discord, teams, matrix, ntfy, gotify, twilio, lilac";
}

int
webhook_target_check (const webhook_target_t *target, char *error, size_t error_size)
{
    if ((size_t) target->format >= WEBHOOK_FORMAT_COUNT) {
        snprintf (error, error_size, "format: not one of %s", webhook_format_names ());
        return -1;
    }
    if (s_check_needs (target, error, error_size))
        return -1;
    return s_check_values (target, error, error_size);
}

static int
s_build (const webhook_target_t *target, const alert_change_t *change,
         const rule_action_t *action, const message_t *message, webhook_request_t *request)
{
    switch (target->format) {
        case WEBHOOK_ALERTMANAGER: return s_build_alertmanager (target, change, message, request);
        case WEBHOOK_SLACK:        return s_build_slack (target, message, request);
        case WEBHOOK_DISCORD:      return s_build_discord (target, change, message, request);
        case WEBHOOK_TEAMS:        return s_build_teams (target, message, request);
        case WEBHOOK_MATRIX:       return s_build_matrix (target, change, action, message,
                                                          request);
        case WEBHOOK_NTFY:         return s_build_ntfy (target, message, request);
        case WEBHOOK_GOTIFY:       return s_build_gotify (target, message, request);
        case WEBHOOK_TWILIO:       return s_build_twilio (target, message, request);
        case WEBHOOK_LILAC:        return s_build_lilac (target, change, action, message,
                                                         request);
    }
    return -1;
}

int
webhook_request_build (const webhook_target_t *target, const alert_change_t *change,
                       const rule_action_t *action, webhook_request_t *request,
                       char *error, size_t error_size)
{
    memset (request, 0, sizeof *request);
    if (webhook_target_check (target, error, error_size))
        return -1;
    message_t message;
    s_message_make (target, change, action, &message);
    int rc = s_build (target, change, action, &message, request);
    s_message_free (&message);
    if (rc) {
        webhook_request_free (request);
        snprintf (error, error_size, "out of memory building a %s request",
                  webhook_format_name (target->format));
    }
    return rc;
}

void
webhook_request_free (webhook_request_t *request)
{
    if (!request)
        return;
    mem_free (request->url);
    mem_free (request->content_type);
    mem_free (request->body);
    for (size_t index = 0; index < request->header_count; index++)
        mem_free (request->headers [index]);
    mem_free (request->username);
    mem_free (request->password);
    memset (request, 0, sizeof *request);
}

int
webhook_signature (const void *secret, size_t secret_size, const void *body, size_t size,
                   char out [65])
{
    unsigned char digest [32];
    out [0] = 0;
    if (gnutls_hmac_fast (GNUTLS_MAC_SHA256, secret_size ? secret : "", secret_size,
                          size ? body : "", size, digest) < 0)
        return -1;
    for (size_t index = 0; index < sizeof digest; index++)
        snprintf (out + 2 * index, 3, "%02x", digest [index]);
    return 0;
}
