/*  mail_message.h — e-mail messages about lilac changes: the whole RFC 5322
    text of one message, built in memory for an SMTP destination to send.

    A pure module: no I/O, no clock (the caller gives the time), no
    randomness, so the same input always gives the same bytes and a retried
    delivery sends the same Message-ID. What it keeps: templates (text with
    {name} placeholders, parsed once at config time) and nothing else.

    A message is about one change (a raise, a reminder, an ack, a clear, a
    flood notice) or, with several items, a digest of them. Every string of
    a change is outside input and may hold anything: bytes that are not
    UTF-8 become U+FFFD, CR and LF never start a header (in header text
    every control character becomes a space), and one value contributes at
    most MAIL_VALUE_MAX bytes (cut at a character boundary). The addresses
    (from, to) are configuration: a malformed one is an error, not repaired.

    Threading: every message about one alert (source, id) says
    `In-Reply-To: <ROOT>` and `References: <ROOT>`, ROOT being
    lilac-alert-HEX16@DOMAIN (HEX16 the 64-bit FNV-1a hash of source and
    id, each with its NUL: stable across hosts and versions), so mail clients thread its
    raise, reminders, ack and clear under one (phantom) root. Flood notices
    thread under lilac-rule-HEX16@DOMAIN of their rule. A digest carries no
    In-Reply-To and References listing the roots of its items (at most
    MAIL_REFERENCES_MAX). Message-IDs are unique per change and action:
    lilac.N.SEQ.HASH16.HOST@DOMAIN (N the epoch's number; seq 0, the
    notifier's own word about the broker: lilac.watch.AT.HASH16.HOST), and
    lilac.digest.SEQ.COUNT.HASH16.HOST@DOMAIN for a digest; HASH16 covers the
    change, the rule and the recipients.

    Dots: a body line may start with "." — the SMTP client dot-stuffs
    (RFC 5321 §4.5.2); nothing here does it.
*/
#ifndef LILAC_MAIL_MESSAGE_H
#define LILAC_MAIL_MESSAGE_H

#include <stddef.h>
#include <stdint.h>
#include "alert.h"
#include "rules.h"

#define MAIL_ADDRESS_SIZE      256          //  one bare address (RFC 5321: 254) and its NUL
#define MAIL_RECIPIENTS_MAX    100          //  addresses in a message's To
#define MAIL_DIGEST_MAX        1000         //  changes in one digest
#define MAIL_REFERENCES_MAX    20           //  thread roots in a digest's References
#define MAIL_VALUE_MAX         65536        //  bytes of one value in a message; more is cut
#define MAIL_TEMPLATE_MAX      65536        //  bytes of template text
#define MAIL_PLACEHOLDERS_MAX  256          //  placeholders in one template
#define MAIL_MESSAGE_MAX       (16 * 1024 * 1024)  //  bytes of a whole message

//  --- templates ------------------------------------------------------------------------

typedef struct _mail_template_t mail_template_t;

//  Templates: text with {name} placeholders: event, EVENT (upper case),
//  source, id, subject (the alert's subject or the source), summary,
//  detail, level, state, seq, url (url_base/alerts/SOURCE/ID, both parts
//  percent-encoded; "" without url_base), acked_by, ack_note, notify_count,
//  rule, labels ("k=v, k=v"), label.NAME, at (the change time, local,
//  "2026-12-06 14:03:00 UTC"-like), count (changes in the message: 1, or a
//  digest's) and counts ("2 raised, 1 cleared"). "{{" and "}}" are literal
//  braces; a lone "}" is literal too. Names are case-sensitive.
//  NULL with "unknown placeholder {x} at column N" or "unclosed { at column
//  N" in error ("at line L, column N" past the first line; columns count
//  characters from 1), or "template longer than ..." / "more than ...
//  placeholders".
mail_template_t *mail_template_new (const char *text, char *error, size_t error_size);
//  NULL and *self_p NULL are no-ops; sets *self_p to NULL.
void mail_template_destroy (mail_template_t **self_p);
//  Expands the template for one change (action NULL: a plain notify with no
//  rule; url_base NULL or "": {url} is ""). Missing values expand to "";
//  values are valid UTF-8 (see the file comment) with their newlines kept.
//  A fresh string (free()), or NULL when self or change is NULL.
char *mail_template_expand (const mail_template_t *self, const alert_change_t *change,
                            const rule_action_t *action, const char *url_base);

//  --- messages -------------------------------------------------------------------------

typedef struct {
    const char *from;              //  "lilac <lilac@example.org>" or "lilac@example.org"
    const char *to;                //  "a@example.org, B <b@example.org>" (the rule's list)
    const mail_template_t *subject;    //  NULL: "[lilac] {EVENT} {subject}: {summary}"
                                       //  ({id} for the summary when it is empty)
    const mail_template_t *body;       //  NULL: summary, source/id, level, state, the
                                       //  change, ack, rule, labels, the detail, the link
    const mail_template_t *digest_subject; //  NULL: "[lilac] {count} changes: {counts}",
                                           //  expanded for the digest's first change
    const mail_template_t *digest_item;    //  NULL: each change in three lines (event,
                                           //  source/id, summary; time and level; link)
    const char *url_base;          //  "https://lilac.example.org" (trailing / dropped), or NULL
    const char *domain;            //  right side of Message-IDs; NULL: the from address's
    const char *hostname;          //  in Message-IDs, e.g. from gethostname; NULL: none
} mail_settings_t;

//  Flood actions (ACTION_FLOOD_HELD, ACTION_FLOOD_OVER) are about their
//  rule, not the alert: their subject and body are fixed words ("further
//  alerts of rule R are held back", "normal service resumes for rule R; N
//  alerts were held back"); the templates are used for ACTION_NOTIFY only.
typedef struct {
    const alert_change_t *change;  //  the change (required)
    const rule_action_t *action;   //  what the rule decided; NULL: a plain notify
} mail_item_t;

//  One whole message (headers with CRLF, a blank line, body lines with
//  CRLF) about count ≥ 1 items (at most MAIL_DIGEST_MAX): one item is a
//  message about one change, several a digest. now_ms (ms since the epoch)
//  is the Date header. Headers, in order: Date, From, To, Subject,
//  Message-ID, In-Reply-To (not in a digest), References, MIME-Version,
//  Content-Type (text/plain; charset=UTF-8), Content-Transfer-Encoding
//  (7bit when the body is printable ASCII in lines of at most 76
//  characters, else quoted-printable), Auto-Submitted: auto-generated,
//  X-Auto-Response-Suppress: All, X-Lilac-Event (the event; flood-held,
//  flood-over, or digest), and X-Lilac-Alert (source/id), X-Lilac-Seq,
//  X-Lilac-Rule for one change or X-Lilac-Changes for a digest.
//  A fresh buffer (free()) of *size bytes, also NUL-terminated, or NULL
//  with why in error (a malformed from or to, a bad domain, no items ...).
char *mail_message_build (const mail_settings_t *settings, const mail_item_t *items, size_t count,
                          int64_t now_ms, size_t *size, char *error, size_t error_size);

//  --- addresses ------------------------------------------------------------------------

//  The bare addresses (addr-spec, for SMTP RCPT TO) of a list such as
//  "a@x.org, B <b@y.org>, \"Doe, J.\" <j@z.org>", in order; empty entries
//  are skipped. Refused: no address at all, more than max, groups,
//  comments, control characters, non-ASCII addresses (SMTPUTF8 is not
//  spoken), a local part over 64 or an address over 254 bytes, a domain
//  that is not a host name or an [address literal]. Returns how many were
//  filled, or -1 with why in error.
int mail_address_list (const char *list, char addresses [][MAIL_ADDRESS_SIZE], size_t max,
                       char *error, size_t error_size);
//  The bare address of one "Name <addr>" or "addr" (for MAIL FROM) into out.
//  0, or -1 with why (malformed, not exactly one, or out too small).
int mail_address (const char *text, char *out, size_t out_size, char *error, size_t error_size);

#endif
