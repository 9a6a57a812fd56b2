/*  test_mail_message.c — e-mail messages about changes: headers, threading,
    RFC 2047 and quoted-printable (decoded here, independently of the
    encoder), hostile text in every field, templates, address lists, digests
    and flood notices.

    Messages are checked as a mail reader would see them: the header block
    is unfolded and its encoded words decoded by the small decoders below,
    the body decoded by its Content-Transfer-Encoding. Time runs in UTC (TZ
    set in main) so {at} and Date are known: S_NOON is 12:00:00 on Sunday
    6 December 2026.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../check.h"
#include "alert.h"
#include "wire.h"
#include "../../notifiers/mail_message.h"

#define S_NOON        1796558400000LL      //  2026-12-06T12:00:00Z, a Sunday
#define S_URL_BASE    "https://lilac.example.org/"
#define S_FROM        "lilac <lilac@example.org>"
#define S_TO          "ops@example.org, Bob <bob@example.org>"

//  Headers this module writes; anything else in a header block is an injection.
static const char *const s_known_headers [] = {
    "Date", "From", "To", "Subject", "Message-ID", "In-Reply-To", "References",
    "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Auto-Submitted",
    "X-Auto-Response-Suppress", "X-Lilac-Event", "X-Lilac-Alert", "X-Lilac-Seq",
    "X-Lilac-Rule", "X-Lilac-Changes", NULL
};

static wire_label_t s_labels [] = { { (char *) "team", (char *) "ops" },
                                    { (char *) "env", (char *) "prod" } };

//  A raised urgent alert; strings are literals, never freed.
static alert_change_t
s_change (const char *event, const char *source, const char *id, uint64_t seq)
{
    alert_change_t change;
    memset (&change, 0, sizeof change);
    change.seq = seq;
    change.at = S_NOON + 3 * 60 * 1000;
    change.event = (char *) (uintptr_t) event;
    change.alert.source = (char *) (uintptr_t) source;
    change.alert.id = (char *) (uintptr_t) id;
    change.alert.summary = (char *) "disk full";
    change.alert.level = LEVEL_URGENT;
    change.alert.state = strcmp (event, "cleared") == 0 ? ALERT_CLEARED : ALERT_RAISED;
    change.alert.notify_count = 1;
    change.epoch.n = 3;
    memcpy (change.epoch.db, "00112233aabbccdd", EPOCH_DB_SIZE);
    return change;
}

static mail_settings_t
s_settings (void)
{
    mail_settings_t settings = { .from = S_FROM, .to = S_TO, .url_base = S_URL_BASE,
                                 .hostname = "mail-1.example.org" };
    return settings;
}

//  Builds one message about one change (action may be NULL).
static char *
s_build_one (const mail_settings_t *settings, const alert_change_t *change,
             const rule_action_t *action, size_t *size)
{
    mail_item_t item = { change, action };
    char error [256] = "";
    char *message = mail_message_build (settings, &item, 1, S_NOON, size, error, sizeof error);
    CHECK (message != NULL, "build: %s", error);
    return message;
}

//  --- reading messages back ------------------------------------------------------------

//  Where the header block ends (its blank line), or NULL.
static const char *
s_body_start (const char *message)
{
    const char *blank = strstr (message, "\r\n\r\n");
    return blank ? blank + 4 : NULL;
}

//  Unfolded value of the first header `name` (a fresh string), or NULL.
static char *
s_header (const char *message, const char *name)
{
    const char *end = s_body_start (message);
    size_t length = strlen (name);
    for (const char *line = message; line && end && line < end; ) {
        if (strncmp (line, name, length) == 0 && line [length] == ':') {
            const char *value = line + length + 1;
            char *unfolded = calloc (1, (size_t) (end - value) + 1);
            size_t used = 0;
            while (value < end - 2 && !(value [0] == '\r' && value [1] == '\n'
                                         && value [2] != ' ' && value [2] != '\t')) {
                if (value [0] == '\r' && value [1] == '\n')
                    value += 2;             //  unfolding removes the CRLF only
                else
                    unfolded [used++] = *value++;
            }
            char *start = unfolded;
            while (*start == ' ')
                start++;
            memmove (unfolded, start, strlen (start) + 1);
            return unfolded;
        }
        line = strstr (line, "\r\n");
        line = line ? line + 2 : NULL;
    }
    return NULL;
}

static int
s_base64_value (char c)
{
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *found = c ? strchr (alphabet, c) : NULL;
    return found ? (int) (found - alphabet) : -1;
}

//  Base64 of size characters into out; bytes written, or -1 when malformed.
static int
s_base64_decode (const char *text, size_t size, char *out)
{
    if (size % 4)
        return -1;
    int used = 0;
    for (size_t index = 0; index < size; index += 4) {
        int values [4];
        for (int k = 0; k < 4; k++)
            values [k] = text [index + k] == '=' ? 0 : s_base64_value (text [index + k]);
        if (values [0] < 0 || values [1] < 0 || values [2] < 0 || values [3] < 0)
            return -1;
        unsigned group = (unsigned) (values [0] << 18 | values [1] << 12 | values [2] << 6 | values [3]);
        out [used++] = (char) (group >> 16);
        if (text [index + 2] != '=')
            out [used++] = (char) (group >> 8);
        if (text [index + 3] != '=')
            out [used++] = (char) group;
    }
    return used;
}

//  An unfolded value with its RFC 2047 "B" words decoded (white space
//  between two encoded words dropped). Checks every word: at most 75
//  characters, whole UTF-8 characters. A fresh string.
static char *
s_decode_2047 (const char *value)
{
    char *out = calloc (1, strlen (value) + 1);
    size_t used = 0;
    bool after_word = false;
    const char *at = value;
    while (*at) {
        if (strncmp (at, "=?UTF-8?B?", 10) == 0) {
            const char *end = strstr (at + 10, "?=");
            if (!CHECK (end != NULL, "unterminated encoded word in '%s'", value))
                break;
            CHECK (end + 2 - at <= 75, "encoded word of %d characters", (int) (end + 2 - at));
            int size = s_base64_decode (at + 10, (size_t) (end - at - 10), out + used);
            CHECK (size > 0 && wire_utf8_valid (out + used, (size_t) size),
                   "encoded word is not whole UTF-8 characters: %.*s", (int) (end + 2 - at), at);
            used += size > 0 ? (size_t) size : 0;
            at = end + 2;
            after_word = true;
            continue;
        }
        size_t blanks = strspn (at, " \t");
        if (blanks && after_word && strncmp (at + blanks, "=?UTF-8?B?", 10) == 0) {
            at += blanks;
            continue;
        }
        memcpy (out + used, at, blanks ? blanks : 1);
        used += blanks ? blanks : 1;
        at += blanks ? blanks : 1;
        after_word = false;
    }
    out [used] = 0;
    return out;
}

//  The decoded Subject (or another header).
static char *
s_header_decoded (const char *message, const char *name)
{
    char *value = s_header (message, name);
    if (!value)
        return NULL;
    char *decoded = s_decode_2047 (value);
    free (value);
    return decoded;
}

static int
s_hex (char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

//  Quoted-printable into a fresh string; soft breaks removed.
static char *
s_qp_decode (const char *text)
{
    char *out = calloc (1, strlen (text) + 1);
    size_t used = 0;
    while (*text) {
        if (text [0] == '=' && text [1] == '\r' && text [2] == '\n')
            text += 3;
        else
        if (text [0] == '=' && s_hex (text [1]) >= 0 && s_hex (text [2]) >= 0) {
            out [used++] = (char) (s_hex (text [1]) * 16 + s_hex (text [2]));
            text += 3;
        }
        else {
            CHECK (text [0] != '=', "a bare '=' in quoted-printable: %.20s", text);
            out [used++] = *text++;
        }
    }
    return out;
}

//  The body as the reader gets it (decoded), a fresh string.
static char *
s_body (const char *message)
{
    const char *body = s_body_start (message);
    if (!body)
        return NULL;
    char *encoding = s_header (message, "Content-Transfer-Encoding");
    char *decoded = encoding && strcmp (encoding, "quoted-printable") == 0
                  ? s_qp_decode (body) : strdup (body);
    free (encoding);
    return decoded;
}

//  Every line ends in CRLF (no bare CR or LF), none over 998 octets; header
//  lines at most 78 except those holding a msg-id; every header one we write.
static void
s_check_well_formed (const char *message, size_t size)
{
    CHECK (strlen (message) == size, "size %zu, strlen %zu", size, strlen (message));
    const char *body = s_body_start (message);
    if (!CHECK (body != NULL, "no blank line after the headers"))
        return;
    const char *line = message;
    while (*line) {
        const char *end = strstr (line, "\r\n");
        if (!CHECK (end != NULL, "last line without CRLF"))
            return;
        size_t length = (size_t) (end - line);
        CHECK (!memchr (line, '\r', length) && !memchr (line, '\n', length),
               "bare CR or LF in '%.*s'", (int) length, line);
        CHECK (length <= 998, "line of %zu octets", length);
        if (line < body - 2) {
            CHECK (length <= 78 || memchr (line, '<', length),
                   "header line of %zu: %.*s", length, (int) length, line);
            for (size_t index = 0; index < length; index++)
                CHECK ((unsigned char) line [index] < 0x80, "8-bit header: %.*s", (int) length, line);
            if (line [0] != ' ' && line [0] != '\t') {
                bool known = false;
                for (size_t index = 0; s_known_headers [index]; index++) {
                    size_t name = strlen (s_known_headers [index]);
                    known = known || (strncmp (line, s_known_headers [index], name) == 0
                                      && line [name] == ':');
                }
                CHECK (known, "unexpected header line '%.*s'", (int) length, line);
            }
        }
        line = end + 2;
    }
}

static bool
s_contains (const char *text, const char *needle)
{
    return text && strstr (text, needle) != NULL;
}

//  CHECKs that header name is value; frees nothing of the caller's.
static void
s_check_header (const char *message, const char *name, const char *expected)
{
    char *value = s_header_decoded (message, name);
    CHECK (value && strcmp (value, expected) == 0, "%s: '%s', expected '%s'", name,
           value ? value : "(none)", expected);
    free (value);
}

//  --- cases --------------------------------------------------------------------------

static void
s_test_headers (void)
{
    TEST ("headers: present, in order, well-formed; a plain ASCII body is 7bit");
    alert_change_t change = s_change ("raised", "web1", "disk", 42);
    change.alert.labels = s_labels;
    change.alert.label_count = 2;
    rule_action_t action = { .kind = ACTION_NOTIFY, .rule = "ops" };
    mail_settings_t settings = s_settings ();
    size_t size = 0;
    char *message = s_build_one (&settings, &change, &action, &size);
    if (!message)
        return;
    s_check_well_formed (message, size);
    CHECK (strncmp (message, "Date: Sun, 06 Dec 2026 12:00:00 +0000\r\nFrom: ", 45) == 0,
           "starts: %.60s", message);
    s_check_header (message, "From", "lilac <lilac@example.org>");
    s_check_header (message, "To", "ops@example.org, Bob <bob@example.org>");
    s_check_header (message, "Subject", "[lilac] RAISED web1: disk full");
    s_check_header (message, "MIME-Version", "1.0");
    s_check_header (message, "Content-Type", "text/plain; charset=UTF-8");
    s_check_header (message, "Content-Transfer-Encoding", "7bit");
    s_check_header (message, "Auto-Submitted", "auto-generated");
    s_check_header (message, "X-Lilac-Event", "raised");
    s_check_header (message, "X-Lilac-Alert", "web1/disk");
    s_check_header (message, "X-Lilac-Seq", "42");
    s_check_header (message, "X-Lilac-Rule", "ops");
    char *id = s_header (message, "Message-ID");
    CHECK (id && strncmp (id, "<lilac.3.42.", 12) == 0 && s_contains (id, ".mail-1.example.org@example.org>"),
           "Message-ID %s", id ? id : "(none)");
    free (id);
    char *body = s_body (message);
    CHECK (s_contains (body, "disk full\r\n\r\nAlert:     web1/disk\r\n"), "body: %s", body);
    CHECK (s_contains (body, "Change:    raised at 2026-12-06 12:03:00 UTC (seq 42)\r\n"), "body: %s", body);
    CHECK (s_contains (body, "Labels:    team=ops, env=prod\r\n"), "body: %s", body);
    CHECK (s_contains (body, "\r\nhttps://lilac.example.org/alerts/web1/disk\r\n"), "body: %s", body);
    free (body);
    free (message);

    TEST ("headers: a display name that needs quoting or encoding; domain and hostname settings");
    settings.from = "Lïlac Bot <bot@example.org>";
    settings.to = "\"Ops, Team\" <ops@example.org>";
    settings.domain = "ids.example.net";
    settings.hostname = "bad host..name";
    message = s_build_one (&settings, &change, &action, &size);
    if (!message)
        return;
    s_check_well_formed (message, size);
    char *from = s_header (message, "From");
    CHECK (s_contains (from, "=?UTF-8?B?") && s_contains (from, " <bot@example.org>"), "From: %s", from);
    free (from);
    s_check_header (message, "From", "Lïlac Bot <bot@example.org>");
    s_check_header (message, "To", "\"Ops, Team\" <ops@example.org>");
    id = s_header (message, "Message-ID");
    CHECK (s_contains (id, ".bad-host.name@ids.example.net>"), "Message-ID %s", id ? id : "");
    free (id);
    free (message);
}

static void
s_test_threading (void)
{
    TEST ("threading: one root per alert, a Message-ID per change, rule and recipients");
    mail_settings_t settings = s_settings ();
    alert_change_t raised = s_change ("raised", "web1", "disk", 5);
    alert_change_t cleared = s_change ("cleared", "web1", "disk", 9);
    alert_change_t other = s_change ("raised", "web2", "disk", 6);
    rule_action_t ops = { .kind = ACTION_NOTIFY, .rule = "ops" };
    rule_action_t boss = { .kind = ACTION_NOTIFY, .rule = "boss" };
    char *messages [5] = {
        s_build_one (&settings, &raised, &ops, NULL), s_build_one (&settings, &cleared, &ops, NULL),
        s_build_one (&settings, &other, &ops, NULL), s_build_one (&settings, &raised, &boss, NULL),
        s_build_one (&settings, &raised, &ops, NULL)
    };
    char *ids [5], *roots [5], *replies [5];
    for (int index = 0; index < 5; index++) {
        ids [index] = messages [index] ? s_header (messages [index], "Message-ID") : NULL;
        roots [index] = messages [index] ? s_header (messages [index], "References") : NULL;
        replies [index] = messages [index] ? s_header (messages [index], "In-Reply-To") : NULL;
        CHECK (ids [index] && roots [index] && replies [index], "message %d lacks ids", index);
    }
    if (ids [0] && ids [1] && ids [2] && ids [3] && ids [4] && roots [0] && roots [1]
    &&  roots [2] && replies [0] && replies [1]) {
        CHECK (strcmp (roots [0], roots [1]) == 0, "roots %s %s", roots [0], roots [1]);
        CHECK (strcmp (replies [0], roots [0]) == 0 && strcmp (replies [1], roots [0]) == 0,
               "In-Reply-To %s", replies [0]);
        CHECK (strncmp (roots [0], "<lilac-alert-", 13) == 0 && strlen (roots [0]) == 13 + 16 + 13
               && s_contains (roots [0], "@example.org>"), "root %s", roots [0]);
        CHECK (strcmp (roots [0], roots [2]) != 0, "two alerts share root %s", roots [0]);
        CHECK (strcmp (ids [0], ids [1]) != 0, "two changes share %s", ids [0]);
        CHECK (strcmp (ids [0], ids [3]) != 0, "two rules share %s", ids [0]);
        CHECK (strcmp (ids [0], ids [4]) == 0, "a rebuild changed the id: %s %s", ids [0], ids [4]);
        CHECK (messages [4] && strcmp (messages [0], messages [4]) == 0, "a rebuild differs");
    }
    for (int index = 0; index < 5; index++) {
        free (ids [index]);
        free (roots [index]);
        free (replies [index]);
        free (messages [index]);
    }

    TEST ("threading: the notifier's own word (seq 0) has an id from its time");
    alert_change_t watch = s_change ("raised", "lilac", "broker", 0);
    watch.alert.subject = (char *) "lilac broker";
    watch.alert.summary = (char *) "lilac broker unreachable since 2026-12-06 11:58:00 UTC";
    char *message = s_build_one (&settings, &watch, NULL, NULL);
    if (message) {
        char *id = s_header (message, "Message-ID");
        char expected [64];
        snprintf (expected, sizeof expected, "<lilac.watch.%lld.", (long long) watch.at);
        CHECK (id && strncmp (id, expected, strlen (expected)) == 0, "Message-ID %s", id ? id : "");
        s_check_header (message, "Subject",
                        "[lilac] RAISED lilac broker: lilac broker unreachable since 2026-12-06 11:58:00 UTC");
        CHECK (s_header (message, "X-Lilac-Seq") == NULL, "X-Lilac-Seq for seq 0");
        free (id);
        free (message);
    }
}

static void
s_test_rfc2047 (void)
{
    TEST ("RFC 2047: a long UTF-8 subject round-trips through encoded words of whole characters");
    const char *summary = "Dïsk fülł on サーバー日本語 — 95 % used 🚀🚀 and ∑ growing, "
                          "Ελληνικά κείμενα too, and a tail of plain words after them";
    alert_change_t change = s_change ("raised", "wéb1", "disk", 7);
    change.alert.summary = (char *) (uintptr_t) summary;
    mail_settings_t settings = s_settings ();
    size_t size;
    char *message = s_build_one (&settings, &change, NULL, &size);
    if (!message)
        return;
    s_check_well_formed (message, size);
    char expected [512];
    snprintf (expected, sizeof expected, "[lilac] RAISED wéb1: %s", summary);
    s_check_header (message, "Subject", expected);
    s_check_header (message, "X-Lilac-Alert", "wéb1/disk");
    char *raw = s_header (message, "Subject");
    CHECK (raw && strncmp (raw, "=?UTF-8?B?", 10) == 0, "raw Subject %s", raw ? raw : "");
    free (raw);
    const char *subject = strstr (message, "\r\nSubject:");
    const char *next = subject ? strstr (subject + 2, "\r\n") : NULL;
    CHECK (next && next [2] == ' ', "a subject this long is folded");
    free (message);

    TEST ("RFC 2047: invalid UTF-8 becomes U+FFFD; ASCII that looks encoded is encoded");
    change.alert.summary = (char *) "bad \xff\xfe bytes \xc3 =?UTF-8?B?QUJD?= end";
    message = s_build_one (&settings, &change, NULL, &size);
    if (!message)
        return;
    s_check_well_formed (message, size);
    s_check_header (message, "Subject",
                    "[lilac] RAISED wéb1: bad \xEF\xBF\xBD\xEF\xBF\xBD bytes \xEF\xBF\xBD =?UTF-8?B?QUJD?= end");
    char *body = s_body (message);
    CHECK (body && wire_utf8_valid (body, strlen (body)), "body is not UTF-8");
    free (body);
    free (message);
}

static void
s_test_quoted_printable (void)
{
    TEST ("quoted-printable: a long UTF-8 line, soft breaks at 76, characters whole, = and end spaces");
    char detail [4096] = "";
    for (int index = 0; index < 40; index++)
        strcat (detail, "Wärme ≥ 90 °C! =x ");
    strcat (detail, "\nnext line ends with a space \r\n.dot line\rend");
    alert_change_t change = s_change ("raised", "web1", "temp", 8);
    change.alert.detail = detail;
    mail_settings_t settings = s_settings ();
    size_t size;
    char *message = s_build_one (&settings, &change, NULL, &size);
    if (!message)
        return;
    s_check_well_formed (message, size);
    s_check_header (message, "Content-Transfer-Encoding", "quoted-printable");
    const char *raw = s_body_start (message);
    for (const char *line = raw; line && *line; ) {
        const char *end = strstr (line, "\r\n");
        if (!end)
            break;
        CHECK (end - line <= 76, "QP line of %d: %.*s", (int) (end - line), (int) (end - line), line);
        CHECK (end == line || (end [-1] != ' ' && end [-1] != '\t'), "QP line ends in white space");
        //  Each physical line decodes to whole characters on its own.
        char *piece = calloc (1, (size_t) (end - line) + 3);
        memcpy (piece, line, (size_t) (end - line));
        if (end > line && end [-1] == '=')
            piece [end - line - 1] = 0;
        char *decoded = s_qp_decode (piece);
        CHECK (wire_utf8_valid (decoded, strlen (decoded)), "a character split at %.30s", line);
        free (decoded);
        free (piece);
        line = end + 2;
    }
    char *body = s_body (message);
    char expected [8192];
    snprintf (expected, sizeof expected, "\r\n%s", detail);
    //  The detail as CRLF lines.
    char *normalized = calloc (1, 2 * sizeof detail);
    size_t used = 0;
    for (const char *at = detail; *at; at++) {
        if (*at == '\r' && at [1] == '\n')
            continue;
        if (*at == '\r' || *at == '\n') {
            normalized [used++] = '\r';
            normalized [used++] = '\n';
        }
        else
            normalized [used++] = *at;
    }
    CHECK (s_contains (body, normalized), "detail not in the decoded body");
    CHECK (s_contains (body, "\r\n.dot line\r\n"), "a line starting with a dot is kept as is");
    CHECK (body && wire_utf8_valid (body, strlen (body)), "decoded body is not UTF-8");
    free (normalized);
    free (body);
    free (message);
}

static void
s_test_injection (void)
{
    TEST ("CR/LF injection: subject, source, id, summary, event, rule never start a header");
    alert_change_t change = s_change ("raised\r\nX-Evil: event", "web1\nBcc: src@evil.example",
                                      "disk\rBcc: id@evil.example", 11);
    change.alert.subject = (char *) "subj\r\nBcc: subject@evil.example\r\n\r\nfake body";
    change.alert.summary = (char *) "sum\r\nTo: summary@evil.example\x85\x0b";
    change.alert.detail = (char *) "\r\n\r\nFrom: detail@evil.example\r\n";
    rule_action_t action = { .kind = ACTION_NOTIFY, .rule = "r\r\nBcc: rule@evil.example" };
    mail_settings_t settings = s_settings ();
    size_t size;
    char *message = s_build_one (&settings, &change, &action, &size);
    if (!message)
        return;
    s_check_well_formed (message, size);
    const char *body = s_body_start (message);
    size_t header_size = body ? (size_t) (body - message) : size;
    CHECK (!memmem (message, header_size, "\nBcc", 4) && !memmem (message, header_size, "\nX-Evil", 7)
           && !memmem (message, header_size, "\nTo: summary", 12), "injected header: %s", message);
    s_check_header (message, "Subject",
                    "[lilac] RAISED\x20\x20X-EVIL: EVENT subj  Bcc: subject@evil.example    fake body: "
                    "sum  To: summary@evil.example\xEF\xBF\xBD");
    s_check_header (message, "X-Lilac-Alert", "web1 Bcc: src@evil.example/disk Bcc: id@evil.example");
    s_check_header (message, "X-Lilac-Rule", "r  Bcc: rule@evil.example");
    char *decoded = s_body (message);
    CHECK (s_contains (decoded, "\r\nFrom: detail@evil.example\r\n"), "the detail stays text in the body");
    free (decoded);
    free (message);

    TEST ("header text past 1000 bytes is cut at a character and ends in an ellipsis");
    char *subject = calloc (1, 4001);
    for (int index = 0; index < 2000; index++)
        memcpy (subject + 2 * index, "\xC3\xA4", 2);       //  ä, 2 bytes each
    change = s_change ("raised", "web1", "disk", 12);
    change.alert.summary = subject;
    message = s_build_one (&settings, &change, NULL, &size);
    char *value = message ? s_header_decoded (message, "Subject") : NULL;
    CHECK (value && strlen (value) <= 1000 + 3 && wire_utf8_valid (value, strlen (value))
           && s_contains (value, "\xC3\xA4\xE2\x80\xA6") && strncmp (value, "[lilac] RAISED web1: ", 21) == 0,
           "cut subject of %zu bytes", value ? strlen (value) : 0);
    if (message)
        s_check_well_formed (message, size);
    free (value);
    free (message);
    free (subject);
}

static void
s_test_templates (void)
{
    TEST ("templates: every placeholder");
    char error [256] = "";
    mail_template_t *template = mail_template_new (
        "{event}|{EVENT}|{source}|{id}|{subject}|{summary}|{detail}|{level}|{state}|{seq}|"
        "{url}|{acked_by}|{ack_note}|{notify_count}|{rule}|{labels}|{label.team}|"
        "{label.none}|{at}|{count}|{counts}", error, sizeof error);
    CHECK (template != NULL, "new: %s", error);
    alert_change_t change = s_change ("acked", "web 1/ü", "disk?", 12);
    change.alert.state = ALERT_ACKED;
    change.alert.detail = (char *) "line 1\nline 2";
    change.alert.acked_by = (char *) "alice";
    change.alert.ack_note = (char *) "on it";
    change.alert.notify_count = 3;
    change.alert.labels = s_labels;
    change.alert.label_count = 2;
    rule_action_t action = { .kind = ACTION_NOTIFY, .rule = "ops" };
    char *text = template ? mail_template_expand (template, &change, &action, S_URL_BASE) : NULL;
    const char *expected = "acked|ACKED|web 1/ü|disk?|web 1/ü|disk full|line 1\nline 2|urgent|"
        "acked|12|https://lilac.example.org/alerts/web%201%2F%C3%BC/disk%3F|alice|on it|3|ops|"
        "team=ops, env=prod|ops||2026-12-06 12:03:00 UTC|1|1 acked";
    CHECK (text && strcmp (text, expected) == 0, "expanded '%s'\nexpected '%s'", text, expected);
    free (text);
    change.alert.subject = (char *) "disk of web1";
    text = template ? mail_template_expand (template, &change, NULL, NULL) : NULL;
    CHECK (text && strstr (text, "|disk of web1|") && strstr (text, "|12||alice|"),
           "subject, no url: %s", text);
    free (text);
    mail_template_destroy (&template);
    CHECK (template == NULL, "destroy clears");
    mail_template_destroy (&template);
    mail_template_destroy (NULL);

    TEST ("templates: braces, values never re-expanded, errors with columns");
    template = mail_template_new ("{{literal}} } {{{summary}}} ", error, sizeof error);
    change.alert.summary = (char *) "{detail} stays";
    text = template ? mail_template_expand (template, &change, NULL, NULL) : NULL;
    CHECK (text && strcmp (text, "{literal} } {{detail} stays} ") == 0, "braces: '%s'", text);
    free (text);
    mail_template_destroy (&template);
    struct {
        const char *text;
        const char *error;
    } bad [] = {
        { "{nope}", "unknown placeholder {nope} at column 1" },
        { "Wärme {Summary}", "unknown placeholder {Summary} at column 7" },
        { "a\nbc {label.}", "unknown placeholder {label.} at line 2, column 4" },
        { "abc {summary", "unclosed { at column 5" },
        { "{sum{mary}", "unclosed { at column 1" },
        { "{}", "unknown placeholder {} at column 1" },
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        *error = 0;
        template = mail_template_new (bad [index].text, error, sizeof error);
        CHECK (template == NULL && strcmp (error, bad [index].error) == 0,
               "'%s': error '%s', expected '%s'", bad [index].text, error, bad [index].error);
        mail_template_destroy (&template);
    }

    TEST ("templates: used for subject and body of a message");
    mail_template_t *subject = mail_template_new ("{EVENT} {source}/{id} [{label.team}]", error, sizeof error);
    mail_template_t *body = mail_template_new ("Hello,\n{summary}\nsee {url}\n", error, sizeof error);
    mail_settings_t settings = s_settings ();
    settings.subject = subject;
    settings.body = body;
    change = s_change ("raised", "web1", "disk", 13);
    change.alert.labels = s_labels;
    change.alert.label_count = 2;
    size_t size;
    char *message = subject && body ? s_build_one (&settings, &change, NULL, &size) : NULL;
    if (message) {
        s_check_well_formed (message, size);
        s_check_header (message, "Subject", "RAISED web1/disk [ops]");
        char *decoded = s_body (message);
        CHECK (decoded && strcmp (decoded, "Hello,\r\ndisk full\r\nsee "
                                  "https://lilac.example.org/alerts/web1/disk\r\n") == 0,
               "body '%s'", decoded);
        free (decoded);
    }
    free (message);
    mail_template_destroy (&subject);
    mail_template_destroy (&body);
}

static void
s_test_addresses (void)
{
    TEST ("addresses: lists and single addresses that are good");
    char addresses [8][MAIL_ADDRESS_SIZE];
    char error [256] = "";
    int count = mail_address_list (" a@example.org, B <b@example.org>,\"Doe, J.\" <j@example.org>,,"
                                   " <c@x.example> , \"quoted local\"@example.org, x@[192.0.2.1], ",
                                   addresses, 8, error, sizeof error);
    const char *expected [] = { "a@example.org", "b@example.org", "j@example.org", "c@x.example",
                                "\"quoted local\"@example.org", "x@[192.0.2.1]" };
    if (CHECK (count == 6, "count %d: %s", count, error))
        for (int index = 0; index < 6; index++)
            CHECK (strcmp (addresses [index], expected [index]) == 0, "%d: '%s'", index, addresses [index]);
    char address [MAIL_ADDRESS_SIZE];
    CHECK (mail_address ("lilac <lilac@example.org>", address, sizeof address, error, sizeof error) == 0
           && strcmp (address, "lilac@example.org") == 0, "'%s' %s", address, error);
    CHECK (mail_address ("lilac@example.org", address, sizeof address, error, sizeof error) == 0
           && strcmp (address, "lilac@example.org") == 0, "'%s' %s", address, error);
    CHECK (mail_address ("Jörg Müller <j.m+tag@sub.example.org>", address, sizeof address, error,
                         sizeof error) == 0 && strcmp (address, "j.m+tag@sub.example.org") == 0,
           "'%s' %s", address, error);

    TEST ("addresses: malformed lists are refused with a reason");
    const char *bad [] = { "", " , ", "a@", "@example.org", "a b@example.org", "a@example.org b@example.org",
        "Name <a@example.org", "Name <a@example.org> trailing", "\"unclosed <a@example.org>",
        "jörg@example.org", "a@-x.example", "a@x..example", "a@x.example.", "a\r\n@x.example",
        "team: a@example.org;", "a..b@example.org", "a@x_y.example", "Bad@Name <a@example.org>",
        "a@[192.0.2.1", "(comment) a@example.org", NULL };
    for (size_t index = 0; bad [index]; index++) {
        *error = 0;
        count = mail_address_list (bad [index], addresses, 8, error, sizeof error);
        CHECK (count == -1 && *error, "'%s' accepted (%d)", bad [index], count);
    }
    CHECK (mail_address_list (NULL, addresses, 8, error, sizeof error) == -1, "NULL list");
    CHECK (mail_address_list ("a@x.example, b@x.example, c@x.example", addresses, 2, error,
                              sizeof error) == -1 && strcmp (error, "more than 2 addresses") == 0,
           "max: %s", error);
    CHECK (mail_address ("a@x.example, b@x.example", address, sizeof address, error, sizeof error) == -1
           && strcmp (error, "more than one address") == 0, "two for MAIL FROM: %s", error);
    CHECK (mail_address ("a@x.example", address, 5, error, sizeof error) == -1, "out too small");
    char local [80];
    memset (local, 'a', 65);
    snprintf (local + 65, sizeof local - 65, "@example.org");
    CHECK (mail_address (local, address, sizeof address, error, sizeof error) == -1
           && s_contains (error, "local part longer than 64"), "65-byte local part: %s", error);
}

static void
s_test_digest (void)
{
    TEST ("digest: counted subject, no In-Reply-To, distinct roots, each change with its link");
    alert_change_t changes [3] = { s_change ("raised", "web1", "disk", 20),
                                   s_change ("raised", "web2", "load", 21),
                                   s_change ("cleared", "web1", "disk", 22) };
    changes [1].alert.summary = (char *) "load 12 ünder pressure";
    rule_action_t action = { .kind = ACTION_NOTIFY, .rule = "ops" };
    mail_item_t items [3] = { { &changes [0], &action }, { &changes [1], &action },
                              { &changes [2], NULL } };
    mail_settings_t settings = s_settings ();
    char error [256] = "";
    size_t size;
    char *message = mail_message_build (&settings, items, 3, S_NOON, &size, error, sizeof error);
    if (!CHECK (message != NULL, "digest: %s", error))
        return;
    s_check_well_formed (message, size);
    s_check_header (message, "Subject", "[lilac] 3 changes: 2 raised, 1 cleared");
    s_check_header (message, "X-Lilac-Event", "digest");
    s_check_header (message, "X-Lilac-Changes", "3");
    CHECK (s_header (message, "In-Reply-To") == NULL, "a digest replies to nothing");
    char *references = s_header (message, "References");
    char *single = s_build_one (&settings, &changes [0], &action, NULL);
    char *root = single ? s_header (single, "References") : NULL;
    CHECK (references && root && strncmp (references, root, strlen (root)) == 0
           && strchr (references, ' ') && strchr (references, ' ') == strrchr (references, ' '),
           "References %s (root %s)", references, root);
    char *id = s_header (message, "Message-ID");
    CHECK (s_contains (id, "<lilac.digest.20.3."), "Message-ID %s", id);
    char *body = s_body (message);
    CHECK (s_contains (body, "3 changes: 2 raised, 1 cleared\r\n\r\nRAISED web1/disk: disk full\r\n"
                             "  2026-12-06 12:03:00 UTC, urgent, seq 20\r\n"
                             "  https://lilac.example.org/alerts/web1/disk\r\n"), "body %s", body);
    CHECK (s_contains (body, "RAISED web2/load: load 12 ünder pressure\r\n"), "body %s", body);
    CHECK (s_contains (body, "CLEARED web1/disk: disk full\r\n"), "body %s", body);
    free (body);
    free (id);
    free (root);
    free (single);
    free (references);
    free (message);

    TEST ("digest: References hold at most 20 roots; templates for the subject and each change");
    alert_change_t many [25];
    mail_item_t many_items [25];
    char sources [25][16];
    for (int index = 0; index < 25; index++) {
        snprintf (sources [index], sizeof sources [index], "host%d", index);
        many [index] = s_change (index % 2 ? "reminder" : "raised", sources [index], "ping", (uint64_t) (100 + index));
        many_items [index] = (mail_item_t) { &many [index], NULL };
    }
    mail_template_t *digest_subject = mail_template_new ("{count} for {rule}: {counts}", error, sizeof error);
    mail_template_t *digest_item = mail_template_new ("* {source} {event}", error, sizeof error);
    settings.digest_subject = digest_subject;
    settings.digest_item = digest_item;
    message = mail_message_build (&settings, many_items, 25, S_NOON, &size, error, sizeof error);
    if (CHECK (message != NULL, "digest: %s", error)) {
        s_check_well_formed (message, size);
        references = s_header (message, "References");
        int roots = 0;
        for (const char *at = references; at && (at = strchr (at, '<')); at++)
            roots++;
        CHECK (roots == MAIL_REFERENCES_MAX, "%d roots", roots);
        s_check_header (message, "Subject", "25 for : 13 raised, 12 reminder");
        body = s_body (message);
        CHECK (s_contains (body, "\r\n\r\n* host0 raised\r\n\r\n* host1 reminder\r\n"), "body %s", body);
        free (body);
        free (references);
    }
    free (message);
    mail_template_destroy (&digest_subject);
    mail_template_destroy (&digest_item);
}

static void
s_test_flood (void)
{
    TEST ("flood notices: fixed words, threaded under their rule");
    alert_change_t change = s_change ("raised", "web1", "disk", 30);
    rule_action_t held = { .kind = ACTION_FLOOD_HELD, .rule = "ops" };
    rule_action_t over = { .kind = ACTION_FLOOD_OVER, .rule = "ops", .held = 3 };
    mail_settings_t settings = s_settings ();
    size_t size;
    char *first = s_build_one (&settings, &change, &held, &size);
    char *second = s_build_one (&settings, &change, &over, NULL);
    if (!first || !second) {
        free (first);
        free (second);
        return;
    }
    s_check_well_formed (first, size);
    s_check_header (first, "Subject", "[lilac] further alerts of rule ops are held back");
    s_check_header (second, "Subject", "[lilac] normal service resumes for rule ops; 3 alerts were held back");
    s_check_header (first, "X-Lilac-Event", "flood-held");
    s_check_header (second, "X-Lilac-Event", "flood-over");
    char *root_first = s_header (first, "References");
    char *root_second = s_header (second, "References");
    CHECK (root_first && root_second && strcmp (root_first, root_second) == 0
           && strncmp (root_first, "<lilac-rule-", 12) == 0, "roots %s %s", root_first, root_second);
    char *body = s_body (second);
    CHECK (s_contains (body, "Alerts of rule ops are sent again; 3 were held back.\r\n"
                             "This one: web1/disk: disk full.\r\n"), "body %s", body);
    free (body);
    free (root_first);
    free (root_second);
    free (first);
    free (second);
}

static void
s_test_errors (void)
{
    TEST ("build errors: no items, bad from, bad to, bad domain, too many changes");
    alert_change_t change = s_change ("raised", "web1", "disk", 40);
    mail_item_t item = { &change, NULL };
    mail_settings_t settings = s_settings ();
    char error [256] = "";
    CHECK (!mail_message_build (&settings, &item, 0, S_NOON, NULL, error, sizeof error)
           && strcmp (error, "no change to tell about") == 0, "no items: %s", error);
    settings.from = "not an address";
    CHECK (!mail_message_build (&settings, &item, 1, S_NOON, NULL, error, sizeof error)
           && strncmp (error, "from: ", 6) == 0, "from: %s", error);
    settings = s_settings ();
    settings.to = "a@example.org, <broken";
    CHECK (!mail_message_build (&settings, &item, 1, S_NOON, NULL, error, sizeof error)
           && strncmp (error, "to: ", 4) == 0, "to: %s", error);
    settings = s_settings ();
    settings.domain = "exa mple";
    CHECK (!mail_message_build (&settings, &item, 1, S_NOON, NULL, error, sizeof error)
           && s_contains (error, "domain"), "domain: %s", error);
    settings = s_settings ();
    CHECK (!mail_message_build (&settings, &item, MAIL_DIGEST_MAX + 1, S_NOON, NULL, error,
                                sizeof error), "too many");
    mail_item_t empty [2] = { { &change, NULL }, { NULL, NULL } };
    CHECK (!mail_message_build (&settings, empty, 2, S_NOON, NULL, error, sizeof error)
           && strcmp (error, "item 2 has no change") == 0, "no change: %s", error);
    CHECK (!mail_message_build (NULL, &item, 1, S_NOON, NULL, error, sizeof error), "no settings");
}

int
main (void)
{
    setenv ("TZ", "UTC", 1);
    tzset ();
    s_test_headers ();
    s_test_threading ();
    s_test_rfc2047 ();
    s_test_quoted_printable ();
    s_test_injection ();
    s_test_templates ();
    s_test_addresses ();
    s_test_digest ();
    s_test_flood ();
    s_test_errors ();
    return check_done ();
}
