/*  mail_message.c — RFC 5322 messages about lilac changes (see mail_message.h).

    How a message is made: the subject and the body first, as UTF-8 text
    (the body in CRLF lines); then the headers, which need to know the
    body's transfer encoding; then the body, encoded. Everything goes
    through text_t, a growing buffer (mem_realloc: running out of memory
    ends the program, as everywhere in lilac). Sizes stay bounded: every
    value is cut to MAIL_VALUE_MAX, a template holds at most
    MAIL_PLACEHOLDERS_MAX placeholders, a digest at most MAIL_DIGEST_MAX
    changes, and a message past MAIL_MESSAGE_MAX is refused.

    Header text. Unstructured text (Subject, X-Lilac-*) is cleaned first:
    bytes that are not UTF-8 become U+FFFD and every control character (C0,
    DEL, C1; CR and LF among them) a space, so nothing from a change can
    start a header; spaces at either end are dropped, and text past
    HEADER_TEXT_MAX bytes is cut (whole characters) and ends in "…"
    (U+2026): a subject template holding {detail} still makes a header
    an MTA takes. Printable ASCII
    without "=?" and without a word over HEADER_PLAIN_WORD_MAX goes as it
    is, folded before a space when a line would pass HEADER_LINE_MAX (a
    fold keeps the space, so unfolding gives the text back). Anything else
    goes whole as RFC 2047 "B" encoded words of UTF-8, each of at most 75
    characters, of whole characters only, and sized to the room left on
    its line (decoders drop the white space between encoded words, so the
    split loses nothing). Display names in From and To go as atoms, a
    quoted string, or encoded words. A msg-id cannot be folded: with a very
    long domain its line may pass 78 characters (never 998).

    Body. Plain text, never interpreted: the detail's line breaks (CR, LF
    or CRLF) become CRLF. 7bit when every byte is printable ASCII or a tab
    and no line passes 76 characters; else quoted-printable (RFC 2045
    §6.7): "=", control characters and 8-bit bytes as =XX, a space or tab
    that ends a line as =20 / =09, and soft line breaks ("=" CRLF) so that
    no line passes 76 characters, the "=" included; the bytes of one
    character are never split across lines. A line may start with ".":
    dot-stuffing is the SMTP client's job (RFC 5321 §4.5.2), not done here.
*/
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "config.h"
#include "error_text.h"
#include "hash.h"
#include "mail_message.h"
#include "mem.h"
#include "wire.h"

#define HEADER_LINE_MAX        78      //  header lines are folded to this where they can be
#define HEADER_PLAIN_WORD_MAX  60      //  a longer word makes header text go encoded
#define HEADER_TEXT_MAX        1000    //  bytes of header text; more is cut, and ends in "…"
#define ENCODED_WORD_MAX       75      //  RFC 2047 §2
#define ENCODED_WORD_MIN       20      //  the frame and one 4-byte character
#define ENCODED_WORD_FRAME     12      //  "=?UTF-8?B?" and "?="
#define QUOTED_NAME_MAX        60      //  a longer quoted display name goes encoded
#define QP_LINE_MAX            76      //  RFC 2045 §6.7 (5), a soft break's "=" included
#define BODY_7BIT_LINE_MAX     76      //  a longer line makes a body quoted-printable
#define DISPLAY_NAME_MAX       256     //  bytes in a display name
#define LOCAL_PART_MAX         64      //  RFC 5321 §4.5.3.1.1
#define ADDRESS_MAX            254     //  RFC 5321 §4.5.3.1.3: a path is 256 with < >
#define DOMAIN_MAX             253     //  bytes in a domain name
#define DOMAIN_LABEL_MAX       63      //  bytes in one of its labels
#define HOST_MAX               63      //  bytes of the hostname in a Message-ID
#define ID_SIZE                (DOMAIN_MAX + HOST_MAX + 128)   //  one msg-id, no < >, and NUL
#define EVENT_NAME_MAX         32      //  bytes of an event name counted in a digest
#define COUNTS_SHOWN_MAX       8       //  kinds of change named in "2 raised, 1 cleared"
#define ERROR_QUOTE_MAX        60      //  bytes of bad input quoted in an error
#define UTF8_REPLACEMENT       "\xEF\xBF\xBD"   //  U+FFFD
#define ELLIPSIS               "\xE2\x80\xA6"   //  U+2026, ends text that was cut

#define DEFAULT_SUBJECT            "[lilac] {EVENT} {subject}: {summary}"
#define DEFAULT_SUBJECT_NO_SUMMARY "[lilac] {EVENT} {subject}: {id}"
#define DEFAULT_DIGEST_SUBJECT     "[lilac] {count} changes: {counts}"

//  A growing text, always NUL-terminated once anything was added.
typedef struct {
    char *data;                    //  the bytes (owned), or NULL while empty
    size_t size;                   //  bytes used, the NUL not counted
    size_t capacity;               //  bytes allocated
} text_t;

//  One mailbox of an address list: "addr" or "Name <addr>".
typedef struct {
    char address [MAIL_ADDRESS_SIZE];      //  the bare addr-spec
    char name [DISPLAY_NAME_MAX + 1];      //  the display name, unquoted; "" for none
} mailbox_t;

typedef enum {
    FIELD_LITERAL, FIELD_EVENT, FIELD_EVENT_UPPER, FIELD_SOURCE, FIELD_ID, FIELD_SUBJECT,
    FIELD_SUMMARY, FIELD_DETAIL, FIELD_LEVEL, FIELD_STATE, FIELD_SEQ, FIELD_URL,
    FIELD_ACKED_BY, FIELD_ACK_NOTE, FIELD_NOTIFY_COUNT, FIELD_RULE, FIELD_LABELS,
    FIELD_LABEL, FIELD_AT, FIELD_COUNT, FIELD_COUNTS
} field_t;

//  Placeholder names; "label.NAME" is FIELD_LABEL.
static const struct {
    const char *name;              //  as written between the braces
    field_t field;                 //  what it expands to
} s_fields [] = {
    { "event", FIELD_EVENT }, { "EVENT", FIELD_EVENT_UPPER }, { "source", FIELD_SOURCE },
    { "id", FIELD_ID }, { "subject", FIELD_SUBJECT }, { "summary", FIELD_SUMMARY },
    { "detail", FIELD_DETAIL }, { "level", FIELD_LEVEL }, { "state", FIELD_STATE },
    { "seq", FIELD_SEQ }, { "url", FIELD_URL }, { "acked_by", FIELD_ACKED_BY },
    { "ack_note", FIELD_ACK_NOTE }, { "notify_count", FIELD_NOTIFY_COUNT },
    { "rule", FIELD_RULE }, { "labels", FIELD_LABELS }, { "at", FIELD_AT },
    { "count", FIELD_COUNT }, { "counts", FIELD_COUNTS }, { NULL, FIELD_LITERAL }
};

//  One piece of a template.
typedef struct {
    field_t field;                 //  what it expands to
    char *text;                    //  FIELD_LITERAL: the text; FIELD_LABEL: the label's name
} template_part_t;

struct _mail_template_t {
    template_part_t *parts;        //  in order (owned)
    size_t count;                  //  entries in parts
};

//  What a template is expanded for.
typedef struct {
    const alert_change_t *change;  //  the change
    const rule_action_t *action;   //  its action, or NULL
    const char *url_base;          //  or NULL
    size_t count;                  //  changes in the message
    const char *counts;            //  "2 raised, 1 cleared"
} expand_context_t;

//  The settings of one message, checked and parsed.
typedef struct {
    const mail_settings_t *settings;   //  templates and url_base (borrowed)
    mailbox_t from;                //  From
    mailbox_t *to;                 //  To, in order (owned)
    size_t to_count;               //  entries in to
    char domain [DOMAIN_MAX + 1];  //  the right side of Message-IDs
    char host [HOST_MAX + 2];      //  ".HOSTNAME" made dot-atom safe, or ""
} message_t;

//  The headers of one message that differ between messages.
typedef struct {
    char date [40];                //  the Date header's value
    const char *subject;           //  the Subject as text (cleaned when written)
    char id [ID_SIZE];             //  Message-ID, without < >
    char roots [MAIL_REFERENCES_MAX * ID_SIZE];    //  thread roots, ID_SIZE bytes each
    size_t root_count;             //  roots in roots
    bool reply;                    //  In-Reply-To the first root
    text_t extra;                  //  the X-Lilac-* headers, written out
} headers_t;

//  One header being written: where its current line stands, for folding.
typedef struct {
    text_t *text;                  //  the message (borrowed)
    size_t line;                   //  characters on the current line
    size_t tokens;                 //  tokens written after the name
} header_t;

//  --- text ---------------------------------------------------------------------------

static void
s_text_add (text_t *text, const char *bytes, size_t size)
{
    if (text->size + size + 1 > text->capacity) {
        size_t capacity = text->capacity ? text->capacity : 256;
        while (capacity < text->size + size + 1)
            capacity *= 2;
        text->data = mem_realloc (text->data, capacity);
        text->capacity = capacity;
    }
    if (size)
        memcpy (text->data + text->size, bytes, size);
    text->size += size;
    text->data [text->size] = 0;
}

static void
s_text_puts (text_t *text, const char *string)
{
    s_text_add (text, string, strlen (string));
}

static void s_text_printf (text_t *text, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  For short things (numbers, times): at most 255 bytes are added.
static void
s_text_printf (text_t *text, const char *format, ...)
{
    char buffer [256];
    va_list args;
    va_start (args, format);
    int size = vsnprintf (buffer, sizeof buffer, format, args);
    va_end (args);
    if (size > 0)
        s_text_add (text, buffer, (size_t) size < sizeof buffer ? (size_t) size : sizeof buffer - 1);
}

//  The text, "" while empty; borrowed.
static const char *
s_text_string (const text_t *text)
{
    return text->data ? text->data : "";
}

static bool
s_text_ends_with (const text_t *text, const char *end)
{
    size_t size = strlen (end);
    return text->size >= size && memcmp (text->data + text->size - size, end, size) == 0;
}

static void
s_text_free (text_t *text)
{
    mem_free (text->data);
    memset (text, 0, sizeof *text);
}

//  The text as a fresh string (free()); the text is left empty.
static char *
s_text_take (text_t *text, size_t *size)
{
    if (!text->data)
        s_text_add (text, "", 0);
    char *data = text->data;
    if (size)
        *size = text->size;
    memset (text, 0, sizeof *text);
    return data;
}

//  Spaces and tabs off both ends of [*start, *start + *size).
static void
s_trim (const char **start, size_t *size)
{
    while (*size > 0 && (**start == ' ' || **start == '\t')) {
        (*start)++;
        (*size)--;
    }
    while (*size > 0 && ((*start) [*size - 1] == ' ' || (*start) [*size - 1] == '\t'))
        (*size)--;
}

//  --- UTF-8 --------------------------------------------------------------------------

//  Length of the valid UTF-8 character at bytes (left bytes there), or 0.
static size_t
s_utf8_length (const char *bytes, size_t left)
{
    unsigned char lead = (unsigned char) bytes [0];
    size_t length = lead < 0x80 ? 1 : lead < 0xc2 ? 0 : lead < 0xe0 ? 2
                  : lead < 0xf0 ? 3 : lead < 0xf5 ? 4 : 0;
    if (length == 0 || length > left || !wire_utf8_valid (bytes, length))
        return 0;
    return length;
}

//  Bytes of value to take: all, or at most max, cut where a character starts.
static size_t
s_value_size (const char *value, size_t max)
{
    size_t size = strnlen (value, max + 1);
    if (size <= max)
        return size;
    size = max;
    for (int step = 0; step < 3 && size > 0 && ((unsigned char) value [size] & 0xc0) == 0x80; step++)
        size--;
    return size;
}

//  Appends at most max bytes of value (NULL: nothing) as valid UTF-8:
//  a byte that does not start a valid character becomes U+FFFD.
static void
s_add_utf8_max (text_t *text, const char *value, size_t max)
{
    if (!value)
        return;
    size_t size = s_value_size (value, max), offset = 0;
    while (offset < size) {
        size_t run = offset;
        while (run < size && (unsigned char) value [run] < 0x80)
            run++;
        s_text_add (text, value + offset, run - offset);
        if (run == size)
            break;
        size_t length = s_utf8_length (value + run, size - run);
        if (length)
            s_text_add (text, value + run, length);
        else
            s_text_puts (text, UTF8_REPLACEMENT);
        offset = run + (length ? length : 1);
    }
}

static void
s_add_utf8 (text_t *text, const char *value)
{
    s_add_utf8_max (text, value, MAIL_VALUE_MAX);
}

//  Appends value as one line of text: valid UTF-8, every control
//  character (C0, DEL, C1) a space.
static void
s_add_line (text_t *text, const char *value)
{
    text_t utf8 = { 0 };
    s_add_utf8 (&utf8, value);
    size_t offset = 0;
    while (offset < utf8.size) {
        size_t run = offset;
        unsigned char byte;
        while (run < utf8.size && (byte = (unsigned char) utf8.data [run]) >= 0x20 && byte != 0x7f
           && !(byte == 0xc2 && (unsigned char) utf8.data [run + 1] < 0xa0))
            run++;
        s_text_add (text, utf8.data + offset, run - offset);
        if (run == utf8.size)
            break;
        s_text_add (text, " ", 1);
        offset = run + ((unsigned char) utf8.data [run] == 0xc2 ? 2 : 1);  //  C1 is 2 bytes
    }
    s_text_free (&utf8);
}

//  Appends size bytes of valid UTF-8 with each line break (CR, LF, CRLF) a CRLF.
static void
s_add_lines (text_t *text, const char *bytes, size_t size)
{
    size_t offset = 0;
    while (offset < size) {
        size_t run = offset;
        while (run < size && bytes [run] != '\r' && bytes [run] != '\n')
            run++;
        s_text_add (text, bytes + offset, run - offset);
        if (run == size)
            break;
        s_text_puts (text, "\r\n");
        offset = run + (bytes [run] == '\r' && run + 1 < size && bytes [run + 1] == '\n' ? 2 : 1);
    }
}

//  Appends value as body text: valid UTF-8 in CRLF lines.
static void
s_add_text (text_t *text, const char *value)
{
    text_t utf8 = { 0 };
    s_add_utf8 (&utf8, value);
    s_add_lines (text, s_text_string (&utf8), utf8.size);
    s_text_free (&utf8);
}

//  Ends the text's last line, if it has one that is open.
static void
s_end_line (text_t *text)
{
    if (text->size && !s_text_ends_with (text, "\r\n"))
        s_text_puts (text, "\r\n");
}

//  --- addresses ----------------------------------------------------------------------

static bool
s_alnum (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

//  RFC 5322 atext.
static bool
s_atext (char c)
{
    return s_alnum (c) || (c && strchr ("!#$%&'*+-/=?^_`{|}~", c));
}

static bool
s_dot_atom (const char *text, size_t size)
{
    if (size == 0 || text [0] == '.' || text [size - 1] == '.')
        return false;
    for (size_t index = 0; index < size; index++)
        if (text [index] == '.' ? text [index + 1] == '.' : !s_atext (text [index]))
            return false;
    return true;
}

//  A quoted-string of printable ASCII, as a whole local part.
static bool
s_quoted_string (const char *text, size_t size)
{
    if (size < 2 || text [0] != '"' || text [size - 1] != '"')
        return false;
    for (size_t index = 1; index < size - 1; index++) {
        unsigned char c = (unsigned char) text [index];
        if (c == '\\') {
            if (++index >= size - 1)
                return false;
        }
        else
        if (c == '"' || c < 0x20 || c > 0x7e)
            return false;
    }
    return true;
}

//  A host name (LDH labels) or an address literal ([192.0.2.1], [IPv6:...]).
static bool
s_domain_valid (const char *text, size_t size)
{
    if (size >= 3 && text [0] == '[') {
        for (size_t index = 1; index < size - 1; index++)
            if (!s_alnum (text [index]) && text [index] != ':' && text [index] != '.')
                return false;
        return text [size - 1] == ']';
    }
    if (size == 0 || size > DOMAIN_MAX)
        return false;
    size_t label = 0;
    for (size_t index = 0; index <= size; index++) {
        char c = index < size ? text [index] : '.';
        if (c == '.') {
            if (label == 0 || label > DOMAIN_LABEL_MAX
            ||  text [index - 1] == '-' || text [index - label] == '-')
                return false;
            label = 0;
        }
        else
        if (s_alnum (c) || c == '-')
            label++;
        else
            return false;
    }
    return true;
}

static int
s_quote_error (char *error, size_t error_size, const char *text, size_t size, const char *why)
{
    return error_text (error, error_size, -1, "'%.*s%s': %s",
                       (int) (size < ERROR_QUOTE_MAX ? size : ERROR_QUOTE_MAX), text,
                       size > ERROR_QUOTE_MAX ? "..." : "", why);
}

//  An addr-spec (local@domain) into out (MAIL_ADDRESS_SIZE bytes). 0 / -1.
static int
s_addr_spec (const char *text, size_t size, char *out, char *error, size_t error_size)
{
    s_trim (&text, &size);
    if (size == 0)
        return error_text (error, error_size, -1, "an empty address");
    if (size > ADDRESS_MAX)
        return s_quote_error (error, error_size, text, size, "an address longer than 254 bytes");
    for (size_t index = 0; index < size; index++)
        if ((unsigned char) text [index] >= 0x80)
            return s_quote_error (error, error_size, text, size,
                                  "a non-ASCII address (SMTPUTF8 is not supported)");
    size_t at = size;
    while (at > 0 && text [at - 1] != '@')
        at--;
    if (at == 0)
        return s_quote_error (error, error_size, text, size, "not an address (no @)");
    size_t local = at - 1;
    if (local > LOCAL_PART_MAX)
        return s_quote_error (error, error_size, text, size, "a local part longer than 64 bytes");
    if (!s_dot_atom (text, local) && !s_quoted_string (text, local))
        return s_quote_error (error, error_size, text, size, "not an address");
    if (!s_domain_valid (text + at, size - at))
        return s_quote_error (error, error_size, text, size, "not a domain name after the @");
    memcpy (out, text, size);
    out [size] = 0;
    return 0;
}

//  Where c is in text, outside "quoted strings"; size when it is not.
static size_t
s_find_unquoted (const char *text, size_t size, char c)
{
    bool quoted = false;
    for (size_t index = 0; index < size; index++) {
        if (quoted && text [index] == '\\')
            index++;
        else
        if (text [index] == '"')
            quoted = !quoted;
        else
        if (!quoted && text [index] == c)
            return index;
    }
    return size;
}

//  Where the list entry at text ends: the first comma outside quotes and < >.
static size_t
s_entry_end (const char *text, size_t size)
{
    bool quoted = false, angle = false;
    for (size_t index = 0; index < size; index++) {
        char c = text [index];
        if (quoted) {
            if (c == '\\')
                index++;
            else
            if (c == '"')
                quoted = false;
        }
        else
        if (c == '"')
            quoted = true;
        else
        if (c == '<' || c == '>')
            angle = c == '<';
        else
        if (c == ',' && !angle)
            return index;
    }
    return size;
}

//  A "quoted string" word of a display name, from *offset (at its quote).
static int
s_name_quoted (const char *text, size_t size, size_t *offset, text_t *name,
               char *error, size_t error_size)
{
    size_t index = *offset + 1;
    while (index < size && text [index] != '"') {
        if (text [index] == '\\' && index + 1 < size)
            index++;
        s_text_add (name, text + index, 1);
        index++;
    }
    if (index == size)
        return s_quote_error (error, error_size, text, size, "an unclosed quote");
    *offset = index + 1;
    return 0;
}

//  An atom of a display name, from *offset to a blank or a quote.
static int
s_name_atom (const char *text, size_t size, size_t *offset, text_t *name,
             char *error, size_t error_size)
{
    size_t index = *offset;
    while (index < size && text [index] != ' ' && text [index] != '\t' && text [index] != '"') {
        if (strchr ("()<>[]:;@\\,", text [index])) {
            char why [64];
            snprintf (why, sizeof why, "'%c' in a display name (quote the name)", text [index]);
            return s_quote_error (error, error_size, text, size, why);
        }
        index++;
    }
    s_text_add (name, text + *offset, index - *offset);
    *offset = index;
    return 0;
}

//  The display name before "<": its words, joined by single spaces.
static int
s_display_name (const char *text, size_t size, char *out, char *error, size_t error_size)
{
    text_t name = { 0 };
    size_t offset = 0;
    int rc = 0;
    while (rc == 0 && offset < size) {
        if (text [offset] == ' ' || text [offset] == '\t') {
            offset++;
            continue;
        }
        if (name.size)
            s_text_add (&name, " ", 1);
        rc = text [offset] == '"' ? s_name_quoted (text, size, &offset, &name, error, error_size)
                                  : s_name_atom (text, size, &offset, &name, error, error_size);
    }
    if (rc == 0 && name.size > DISPLAY_NAME_MAX)
        rc = s_quote_error (error, error_size, text, size, "a display name longer than 256 bytes");
    if (rc == 0)
        memcpy (out, s_text_string (&name), name.size + 1);
    s_text_free (&name);
    return rc;
}

//  One entry of a list: "addr", "<addr>" or "Name <addr>".
static int
s_mailbox_parse (const char *text, size_t size, mailbox_t *mailbox, char *error, size_t error_size)
{
    memset (mailbox, 0, sizeof *mailbox);
    s_trim (&text, &size);
    size_t open = s_find_unquoted (text, size, '<');
    if (open == size)
        return s_addr_spec (text, size, mailbox->address, error, error_size);
    size_t close = open + s_find_unquoted (text + open, size - open, '>');
    if (close == size)
        return s_quote_error (error, error_size, text, size, "no '>' after '<'");
    if (close + 1 != size)
        return s_quote_error (error, error_size, text, size, "text after '>'");
    if (s_display_name (text, open, mailbox->name, error, error_size))
        return -1;
    return s_addr_spec (text + open + 1, close - open - 1, mailbox->address, error, error_size);
}

//  A list from outside the code: present, bounded, no control characters.
static int
s_list_check (const char *list, char *error, size_t error_size)
{
    if (!list)
        return error_text (error, error_size, -1, "no address");
    size_t size = strnlen (list, MAIL_VALUE_MAX + 1);
    if (size > MAIL_VALUE_MAX)
        return error_text (error, error_size, -1, "an address list longer than %d bytes",
                           MAIL_VALUE_MAX);
    for (size_t index = 0; index < size; index++)
        if ((unsigned char) list [index] < 0x20 || list [index] == 0x7f)
            return error_text (error, error_size, -1,
                               "a control character in an address list (byte %zu)", index + 1);
    return 0;
}

//  The next mailbox of list from *offset on: 1 with *mailbox, 0 at the end,
//  -1 with why. Empty entries are skipped.
static int
s_list_next (const char *list, size_t *offset, mailbox_t *mailbox, char *error, size_t error_size)
{
    size_t size = strlen (list);
    while (*offset < size) {
        const char *entry = list + *offset;
        size_t length = s_entry_end (entry, size - *offset);
        *offset += length < size - *offset ? length + 1 : length;
        const char *start = entry;
        size_t trimmed = length;
        s_trim (&start, &trimmed);
        if (trimmed == 0)
            continue;
        return s_mailbox_parse (entry, length, mailbox, error, error_size) ? -1 : 1;
    }
    return 0;
}

int
mail_address_list (const char *list, char addresses [][MAIL_ADDRESS_SIZE], size_t max,
                   char *error, size_t error_size)
{
    if (s_list_check (list, error, error_size))
        return -1;
    size_t offset = 0, count = 0;
    mailbox_t mailbox;
    int rc;
    while ((rc = s_list_next (list, &offset, &mailbox, error, error_size)) == 1) {
        if (count == max)
            return error_text (error, error_size, -1, "more than %zu addresses", max);
        memcpy (addresses [count++], mailbox.address, MAIL_ADDRESS_SIZE);
    }
    if (rc < 0)
        return -1;
    if (count == 0)
        return error_text (error, error_size, -1, "no address");
    return (int) count;
}

//  The one mailbox of text. 0 / -1.
static int
s_mailbox_one (const char *text, mailbox_t *mailbox, char *error, size_t error_size)
{
    if (s_list_check (text, error, error_size))
        return -1;
    size_t offset = 0;
    mailbox_t extra;
    int rc = s_list_next (text, &offset, mailbox, error, error_size);
    if (rc == 1)
        rc = s_list_next (text, &offset, &extra, error, error_size) == 0 ? 1 : 2;
    if (rc == 0)
        return error_text (error, error_size, -1, "no address");
    if (rc == 2)
        return error_text (error, error_size, -1, "more than one address");
    return rc < 0 ? -1 : 0;
}

int
mail_address (const char *text, char *out, size_t out_size, char *error, size_t error_size)
{
    mailbox_t mailbox;
    if (s_mailbox_one (text, &mailbox, error, error_size))
        return -1;
    size_t size = strlen (mailbox.address);
    if (!out || size >= out_size)
        return error_text (error, error_size, -1, "no room for an address of %zu bytes", size);
    memcpy (out, mailbox.address, size + 1);
    return 0;
}

//  --- templates ----------------------------------------------------------------------

static void
s_template_add (mail_template_t *self, field_t field, const char *text, size_t size)
{
    self->parts = mem_realloc (self->parts, (self->count + 1) * sizeof *self->parts);
    template_part_t *part = &self->parts [self->count++];
    part->field = field;
    part->text = NULL;
    if (text) {
        part->text = mem_alloc (size + 1);
        memcpy (part->text, text, size);
    }
}

//  The literal text gathered so far becomes a part.
static void
s_template_flush (mail_template_t *self, text_t *literal)
{
    if (literal->size)
        s_template_add (self, FIELD_LITERAL, literal->data, literal->size);
    s_text_free (literal);
}

//  The field named name (size bytes); -1 when there is none.
static int
s_field_lookup (const char *name, size_t size, field_t *field)
{
    for (size_t index = 0; s_fields [index].name; index++)
        if (strlen (s_fields [index].name) == size && memcmp (s_fields [index].name, name, size) == 0) {
            *field = s_fields [index].field;
            return 0;
        }
    if (size > 6 && size - 6 <= WIRE_MAX_LABEL_KEY && memcmp (name, "label.", 6) == 0) {
        *field = FIELD_LABEL;
        return 0;
    }
    return -1;
}

//  "at column N", or "at line L, column N" past the first line; columns
//  count characters from 1.
static void
s_position (const char *text, const char *at, char *where, size_t size)
{
    size_t line = 1, column = 1;
    for (const char *cursor = text; cursor < at; cursor++) {
        if (*cursor == '\n') {
            line++;
            column = 1;
        }
        else
        if (((unsigned char) *cursor & 0xc0) != 0x80)
            column++;
    }
    if (line == 1)
        snprintf (where, size, "at column %zu", column);
    else
        snprintf (where, size, "at line %zu, column %zu", line, column);
}

//  The placeholder at *at (its "{"), added to self; *at moves past it.
static int
s_template_placeholder (mail_template_t *self, text_t *literal, const char *text,
                        const char **at, size_t *placeholders, char *error, size_t error_size)
{
    const char *name = *at + 1;
    size_t size = strcspn (name, "{}\r\n");
    char where [64];
    s_position (text, *at, where, sizeof where);
    if (name [size] != '}')
        return error_text (error, error_size, -1, "unclosed { %s", where);
    field_t field;
    if (s_field_lookup (name, size, &field))
        return error_text (error, error_size, -1, "unknown placeholder {%.*s%s} %s",
                           (int) (size < ERROR_QUOTE_MAX ? size : ERROR_QUOTE_MAX), name,
                           size > ERROR_QUOTE_MAX ? "..." : "", where);
    if (++*placeholders > MAIL_PLACEHOLDERS_MAX)
        return error_text (error, error_size, -1, "more than %d placeholders",
                           MAIL_PLACEHOLDERS_MAX);
    s_template_flush (self, literal);
    if (field == FIELD_LABEL)
        s_template_add (self, field, name + 6, size - 6);
    else
        s_template_add (self, field, NULL, 0);
    *at = name + size + 1;
    return 0;
}

mail_template_t *
mail_template_new (const char *text, char *error, size_t error_size)
{
    if (!text) {
        error_text (error, error_size, -1, "no template");
        return NULL;
    }
    if (strnlen (text, MAIL_TEMPLATE_MAX + 1) > MAIL_TEMPLATE_MAX) {
        error_text (error, error_size, -1, "template longer than %d bytes", MAIL_TEMPLATE_MAX);
        return NULL;
    }
    mail_template_t *self = mem_alloc (sizeof *self);
    text_t literal = { 0 };
    size_t placeholders = 0;
    const char *at = text;
    while (*at) {
        size_t run = strcspn (at, "{}");
        s_text_add (&literal, at, run);
        at += run;
        if (*at && at [1] == at [0]) {      //  "{{" or "}}"
            s_text_add (&literal, at, 1);
            at += 2;
        }
        else
        if (*at == '}') {                   //  a lone "}" is literal
            s_text_add (&literal, at, 1);
            at++;
        }
        else
        if (*at == '{'
        &&  s_template_placeholder (self, &literal, text, &at, &placeholders, error, error_size)) {
            s_text_free (&literal);
            mail_template_destroy (&self);
            return NULL;
        }
    }
    s_template_flush (self, &literal);
    return self;
}

void
mail_template_destroy (mail_template_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    mail_template_t *self = *self_p;
    for (size_t index = 0; index < self->count; index++)
        mem_free (self->parts [index].text);
    mem_free (self->parts);
    mem_free (self);
    *self_p = NULL;
}

//  --- expansion ----------------------------------------------------------------------

//  The event upper-cased (ASCII letters only).
static void
s_add_upper (text_t *text, const char *value)
{
    size_t from = text->size;
    s_add_utf8 (text, value);
    for (size_t index = from; index < text->size; index++)
        if (text->data [index] >= 'a' && text->data [index] <= 'z')
            text->data [index] = (char) (text->data [index] - 'a' + 'A');
}

//  value percent-encoded: all but ALPHA DIGIT - . _ ~ as %XX.
static void
s_add_percent (text_t *text, const char *value)
{
    static const char hex [] = "0123456789ABCDEF";
    size_t size = value ? s_value_size (value, MAIL_VALUE_MAX) : 0;
    for (size_t index = 0; index < size; index++) {
        unsigned char byte = (unsigned char) value [index];
        char escaped [3] = { '%', hex [byte >> 4], hex [byte & 15] };
        if (s_alnum ((char) byte) || strchr ("-._~", byte))
            s_text_add (text, value + index, 1);
        else
            s_text_add (text, escaped, 3);
    }
}

//  url_base/alerts/SOURCE/ID, nothing without url_base.
static void
s_add_url (text_t *text, const char *url_base, const alert_t *alert)
{
    if (!url_base || !*url_base)
        return;
    size_t size = s_value_size (url_base, MAIL_VALUE_MAX);
    while (size > 0 && url_base [size - 1] == '/')
        size--;
    text_t base = { 0 };
    s_text_add (&base, url_base, size);
    s_add_utf8 (text, s_text_string (&base));
    s_text_free (&base);
    s_text_puts (text, "/alerts/");
    s_add_percent (text, alert->source);
    s_text_puts (text, "/");
    s_add_percent (text, alert->id);
}

//  A time as local "2026-12-06 14:03:00 UTC"; nothing for 0 (unknown).
static void
s_add_time (text_t *text, int64_t ms)
{
    if (ms == 0)
        return;
    time_t seconds = (time_t) (ms / 1000);
    struct tm local;
    char buffer [64];
    if (localtime_r (&seconds, &local) && strftime (buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S %Z", &local))
        s_text_puts (text, buffer);
    else
        s_text_printf (text, "%" PRId64 " ms since the epoch", ms);
}

static void
s_add_labels (text_t *text, const alert_t *alert)
{
    for (size_t index = 0; alert->labels && index < alert->label_count; index++) {
        if (index)
            s_text_puts (text, ", ");
        s_add_utf8 (text, alert->labels [index].key);
        s_text_puts (text, "=");
        s_add_utf8 (text, alert->labels [index].value);
    }
}

static const char *
s_label_value (const alert_t *alert, const char *key)
{
    for (size_t index = 0; alert->labels && index < alert->label_count; index++)
        if (alert->labels [index].key && strcmp (alert->labels [index].key, key) == 0)
            return alert->labels [index].value;
    return NULL;
}

//  The value of a field that is one string of the change (or NULL).
static const char *
s_field_string (field_t field, const expand_context_t *context)
{
    const alert_t *alert = &context->change->alert;
    switch (field) {
        case FIELD_EVENT:     return context->change->event;
        case FIELD_SOURCE:    return alert->source;
        case FIELD_ID:        return alert->id;
        case FIELD_SUBJECT:   return alert->subject && *alert->subject ? alert->subject : alert->source;
        case FIELD_SUMMARY:   return alert->summary;
        case FIELD_DETAIL:    return alert->detail;
        case FIELD_LEVEL:     return alert_level_name (alert->level);
        case FIELD_STATE:     return alert_state_name (alert->state);
        case FIELD_ACKED_BY:  return alert->acked_by;
        case FIELD_ACK_NOTE:  return alert->ack_note;
        case FIELD_RULE:      return context->action ? context->action->rule : NULL;
        case FIELD_COUNTS:    return context->counts;
        default:              return NULL;
    }
}

//  Appends the value of one part of a template.
static void
s_expand_part (text_t *text, const template_part_t *part, const expand_context_t *context)
{
    const alert_change_t *change = context->change;
    switch (part->field) {
        case FIELD_LITERAL:      s_add_utf8 (text, part->text); break;
        case FIELD_EVENT_UPPER:  s_add_upper (text, change->event); break;
        case FIELD_SEQ:          s_text_printf (text, "%" PRIu64, change->seq); break;
        case FIELD_URL:          s_add_url (text, context->url_base, &change->alert); break;
        case FIELD_NOTIFY_COUNT: s_text_printf (text, "%" PRId64, change->alert.notify_count); break;
        case FIELD_LABELS:       s_add_labels (text, &change->alert); break;
        case FIELD_LABEL:        s_add_utf8 (text, s_label_value (&change->alert, part->text)); break;
        case FIELD_AT:           s_add_time (text, change->at); break;
        case FIELD_COUNT:        s_text_printf (text, "%zu", context->count); break;
        default:                 s_add_utf8 (text, s_field_string (part->field, context)); break;
    }
}

static void
s_expand (const mail_template_t *self, const expand_context_t *context, text_t *text)
{
    for (size_t index = 0; index < self->count; index++)
        s_expand_part (text, &self->parts [index], context);
}

//  The kind an item is counted as: its event, or "flood held" / "flood over".
static const char *
s_item_kind (const mail_item_t *item)
{
    rule_action_kind_t kind = item->action ? item->action->kind : ACTION_NOTIFY;
    if (kind == ACTION_FLOOD_HELD)
        return "flood held";
    if (kind == ACTION_FLOOD_OVER)
        return "flood over";
    const char *event = item->change->event;
    return event && *event ? event : "change";
}

static const char *const s_usual_kinds [] = { "raised", "reminder", "acked", "unacked",
    "cleared", "pending", "updated", "deleted", "flood held", "flood over", NULL };

static bool
s_kind_usual (const char *kind)
{
    for (size_t index = 0; s_usual_kinds [index]; index++)
        if (strcmp (kind, s_usual_kinds [index]) == 0)
            return true;
    return false;
}

//  "N kind" after the ones shown so far; past COUNTS_SHOWN_MAX, counted as others.
static void
s_count_add (text_t *text, const char *kind, size_t number, size_t *shown, size_t *others)
{
    if (*shown == COUNTS_SHOWN_MAX) {
        *others += number;
        return;
    }
    s_text_printf (text, "%s%zu ", (*shown)++ ? ", " : "", number);
    s_add_utf8_max (text, kind, EVENT_NAME_MAX);
}

//  "2 raised, 1 cleared": the kinds of change among items, the usual ones
//  in lifecycle order, then others as they come; at most COUNTS_SHOWN_MAX
//  named, the rest "N other".
static void
s_counts (const mail_item_t *items, size_t count, text_t *text)
{
    const char **kinds = mem_alloc (count * sizeof *kinds);
    size_t *numbers = mem_alloc (count * sizeof *numbers);
    size_t distinct = 0, shown = 0, others = 0;
    for (size_t index = 0; index < count; index++) {
        const char *kind = s_item_kind (&items [index]);
        size_t found = 0;
        while (found < distinct && strcmp (kinds [found], kind) != 0)
            found++;
        if (found == distinct)
            kinds [distinct++] = kind;
        numbers [found]++;
    }
    for (size_t order = 0; s_usual_kinds [order]; order++)
        for (size_t index = 0; index < distinct; index++)
            if (strcmp (kinds [index], s_usual_kinds [order]) == 0)
                s_count_add (text, kinds [index], numbers [index], &shown, &others);
    for (size_t index = 0; index < distinct; index++)
        if (!s_kind_usual (kinds [index]))
            s_count_add (text, kinds [index], numbers [index], &shown, &others);
    if (others)
        s_text_printf (text, ", %zu other", others);
    mem_free (kinds);
    mem_free (numbers);
}

char *
mail_template_expand (const mail_template_t *self, const alert_change_t *change,
                      const rule_action_t *action, const char *url_base)
{
    if (!self || !change)
        return NULL;
    mail_item_t item = { change, action };
    text_t counts = { 0 }, text = { 0 };
    s_counts (&item, 1, &counts);
    expand_context_t context = { change, action, url_base, 1, s_text_string (&counts) };
    s_expand (self, &context, &text);
    s_text_free (&counts);
    return s_text_take (&text, NULL);
}

//  --- headers ------------------------------------------------------------------------

static header_t
s_header_start (text_t *text, const char *name)
{
    s_text_puts (text, name);
    s_text_puts (text, ":");
    return (header_t) { text, strlen (name) + 1, 0 };
}

//  Adds a token; with space, after a space, which becomes a fold (CRLF and
//  the space) when the token would pass HEADER_LINE_MAX. The first token
//  never folds.
static void
s_header_token (header_t *header, const char *token, size_t size, bool space)
{
    if (space && header->tokens > 0 && header->line + 1 + size > HEADER_LINE_MAX) {
        s_text_puts (header->text, "\r\n");
        header->line = 0;
    }
    if (space) {
        s_text_puts (header->text, " ");
        header->line++;
    }
    s_text_add (header->text, token, size);
    header->line += size;
    header->tokens++;
}

static void
s_header_end (header_t *header)
{
    s_text_puts (header->text, "\r\n");
}

//  A header whose value is ASCII from this file.
static void
s_header_fixed (text_t *text, const char *name, const char *value)
{
    header_t header = s_header_start (text, name);
    s_header_token (&header, value, strlen (value), true);
    s_header_end (&header);
}

//  Printable ASCII, no "=?", no word longer than HEADER_PLAIN_WORD_MAX.
static bool
s_header_plain (const char *text, size_t size)
{
    size_t word = 0;
    for (size_t index = 0; index < size; index++) {
        unsigned char byte = (unsigned char) text [index];
        if (byte < 0x20 || byte > 0x7e || (byte == '=' && index + 1 < size && text [index + 1] == '?'))
            return false;
        word = byte == ' ' ? 0 : word + 1;
        if (word > HEADER_PLAIN_WORD_MAX)
            return false;
    }
    return true;
}

//  Words between single spaces, each a token (an empty one keeps a second space).
static void
s_header_words (header_t *header, const char *text, size_t size)
{
    size_t offset = 0;
    while (offset <= size) {
        size_t end = offset;
        while (end < size && text [end] != ' ')
            end++;
        s_header_token (header, text + offset, end - offset, true);
        offset = end + 1;
    }
}

//  Bytes of the whole UTF-8 characters at the start of text that fit in max.
static size_t
s_utf8_prefix (const char *text, size_t size, size_t max)
{
    size_t taken = 0;
    while (taken < size) {
        size_t length = s_utf8_length (text + taken, size - taken);
        if (length == 0)
            length = 1;             //  cannot happen: the text was made valid
        if (taken + length > max)
            break;
        taken += length;
    }
    return taken;
}

//  "=?UTF-8?B?...?=" of size bytes into word; returns its length.
static size_t
s_encoded_word (const char *bytes, size_t size, char *word, size_t word_size)
{
    static const char alphabet [] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    assert (ENCODED_WORD_FRAME + (size + 2) / 3 * 4 < word_size);
    size_t length = 10;
    memcpy (word, "=?UTF-8?B?", length);
    for (size_t index = 0; index < size; index += 3) {
        uint32_t group = (uint32_t) (unsigned char) bytes [index] << 16;
        if (index + 1 < size)
            group |= (uint32_t) (unsigned char) bytes [index + 1] << 8;
        if (index + 2 < size)
            group |= (unsigned char) bytes [index + 2];
        word [length++] = alphabet [(group >> 18) & 63];
        word [length++] = alphabet [(group >> 12) & 63];
        word [length++] = index + 1 < size ? alphabet [(group >> 6) & 63] : '=';
        word [length++] = index + 2 < size ? alphabet [group & 63] : '=';
    }
    memcpy (word + length, "?=", 3);
    return length + 2;
}

//  Characters the next encoded word may have: what is left on this line,
//  or a whole new line when too little is.
static size_t
s_encoded_room (const header_t *header)
{
    size_t left = header->line + 1 < HEADER_LINE_MAX ? HEADER_LINE_MAX - header->line - 1 : 0;
    if (left < ENCODED_WORD_MIN && header->tokens > 0)
        left = HEADER_LINE_MAX - 1;
    if (left < ENCODED_WORD_MIN)
        left = ENCODED_WORD_MIN;
    return left < ENCODED_WORD_MAX ? left : ENCODED_WORD_MAX;
}

//  Valid UTF-8 text as encoded words (see the file comment).
static void
s_header_encoded (header_t *header, const char *text, size_t size)
{
    size_t offset = 0;
    while (offset < size) {
        size_t room = s_encoded_room (header);
        size_t take = s_utf8_prefix (text + offset, size - offset,
                                     (room - ENCODED_WORD_FRAME) / 4 * 3);
        char word [ENCODED_WORD_MAX + 1];
        size_t length = s_encoded_word (text + offset, take, word, sizeof word);
        s_header_token (header, word, length, true);
        offset += take;
    }
}

//  An unstructured header (see the file comment).
static void
s_header_text (text_t *text, const char *name, const char *value)
{
    header_t header = s_header_start (text, name);
    text_t line = { 0 }, clean = { 0 };
    s_add_line (&line, value);
    const char *start = s_text_string (&line);
    size_t size = line.size;
    s_trim (&start, &size);
    s_text_add (&clean, start, size > HEADER_TEXT_MAX ? s_utf8_prefix (start, size, HEADER_TEXT_MAX)
                                                      : size);
    if (size > HEADER_TEXT_MAX)
        s_text_puts (&clean, ELLIPSIS);
    if (clean.size && s_header_plain (clean.data, clean.size))
        s_header_words (&header, clean.data, clean.size);
    else
        s_header_encoded (&header, s_text_string (&clean), clean.size);
    s_header_end (&header);
    s_text_free (&line);
    s_text_free (&clean);
}

//  Atoms and single spaces only (an obs-phrase's dots allowed), no "=?".
static bool
s_phrase_plain (const char *text, size_t size)
{
    for (size_t index = 0; index < size; index++)
        if ((!s_atext (text [index]) && text [index] != ' ' && text [index] != '.')
        ||  (text [index] == ' ' && index + 1 < size && text [index + 1] == ' '))
            return false;
    return s_header_plain (text, size);
}

//  A display name: atoms, one quoted string, or encoded words.
static void
s_header_phrase (header_t *header, const char *name)
{
    text_t clean = { 0 }, quoted = { 0 };
    s_add_line (&clean, name);
    const char *start = s_text_string (&clean);
    size_t size = clean.size;
    s_trim (&start, &size);
    if (size && s_phrase_plain (start, size))
        s_header_words (header, start, size);
    else
    if (size && size <= QUOTED_NAME_MAX && s_header_plain (start, size)) {
        s_text_puts (&quoted, "\"");
        for (size_t index = 0; index < size; index++) {
            if (start [index] == '"' || start [index] == '\\')
                s_text_puts (&quoted, "\\");
            s_text_add (&quoted, start + index, 1);
        }
        s_text_puts (&quoted, "\"");
        s_header_token (header, quoted.data, quoted.size, true);
    }
    else
        s_header_encoded (header, start, size);
    s_text_free (&clean);
    s_text_free (&quoted);
}

static void
s_header_mailboxes (text_t *text, const char *name, const mailbox_t *mailboxes, size_t count)
{
    header_t header = s_header_start (text, name);
    for (size_t index = 0; index < count; index++) {
        const mailbox_t *mailbox = &mailboxes [index];
        const char *comma = index + 1 < count ? "," : "";
        char token [MAIL_ADDRESS_SIZE + 4];
        int length;
        if (*mailbox->name) {
            s_header_phrase (&header, mailbox->name);
            length = snprintf (token, sizeof token, "<%s>%s", mailbox->address, comma);
        }
        else
            length = snprintf (token, sizeof token, "%s%s", mailbox->address, comma);
        if (length > 0)
            s_header_token (&header, token, strlen (token), true);
    }
    s_header_end (&header);
}

//  msg-ids: count of them in ids, ID_SIZE bytes apart.
static void
s_header_ids (text_t *text, const char *name, const char *ids, size_t count)
{
    header_t header = s_header_start (text, name);
    for (size_t index = 0; index < count; index++) {
        char token [ID_SIZE + 2];
        snprintf (token, sizeof token, "<%s>", ids + index * ID_SIZE);
        s_header_token (&header, token, strlen (token), true);
    }
    s_header_end (&header);
}

//  RFC 5322 date-time in UTC. 0, or -1 when the time has no 4-digit year.
static int
s_date (int64_t now_ms, char *out, size_t size)
{
    static const char *const days [] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *const months [] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    time_t seconds = (time_t) (now_ms / 1000);
    struct tm utc;
    if (!gmtime_r (&seconds, &utc) || utc.tm_year < 0 || utc.tm_year > 9999 - 1900)
        return -1;
    snprintf (out, size, "%s, %02d %s %04d %02d:%02d:%02d +0000", days [utc.tm_wday],
              utc.tm_mday, months [utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min,
              utc.tm_sec);
    return 0;
}

//  --- identifiers --------------------------------------------------------------------

//  The string and a NUL (NULL hashes as "").
static uint64_t
s_hash_string (uint64_t hash, const char *text)
{
    return hash_fnv1a (hash, text ? text : "", text ? strlen (text) + 1 : 1);
}

//  Eight bytes, least significant first, on any machine.
static uint64_t
s_hash_number (uint64_t hash, uint64_t number)
{
    for (int index = 0; index < 8; index++) {
        unsigned char byte = (unsigned char) (number >> (8 * index));
        hash = hash_fnv1a (hash, &byte, 1);
    }
    return hash;
}

static bool
s_is_flood (const mail_item_t *item)
{
    return item->action && item->action->kind != ACTION_NOTIFY;
}

//  The thread root of an item: its alert's, or for a flood notice its rule's.
static void
s_item_root (const message_t *message, const mail_item_t *item, char *root)
{
    const alert_t *alert = &item->change->alert;
    if (s_is_flood (item)) {
        uint64_t hash = s_hash_string (HASH_FNV1A_START, item->action->rule);
        snprintf (root, ID_SIZE, "lilac-rule-%016" PRIx64 "@%s", hash, message->domain);
        return;
    }
    uint64_t hash = s_hash_string (s_hash_string (HASH_FNV1A_START, alert->source), alert->id);
    snprintf (root, ID_SIZE, "lilac-alert-%016" PRIx64 "@%s", hash, message->domain);
}

static uint64_t
s_item_hash (uint64_t hash, const mail_item_t *item)
{
    const alert_change_t *change = item->change;
    const rule_action_t *action = item->action;
    hash = hash_fnv1a (hash, change->epoch.db, strnlen (change->epoch.db, EPOCH_DB_SIZE));
    hash = s_hash_number (s_hash_number (hash, change->epoch.n), change->seq);
    hash = s_hash_number (hash, (uint64_t) change->at);
    hash = s_hash_string (hash, change->event);
    hash = s_hash_string (s_hash_string (hash, change->alert.source), change->alert.id);
    hash = s_hash_number (hash, action ? (uint64_t) action->kind : 0);
    hash = s_hash_string (hash, action ? action->rule : NULL);
    return s_hash_number (hash, action ? (uint64_t) action->held : 0);
}

//  A single change's Message-ID (see mail_message.h).
static void
s_change_id (const message_t *message, const mail_item_t *item, char *id)
{
    const alert_change_t *change = item->change;
    uint64_t hash = s_hash_string (s_item_hash (HASH_FNV1A_START, item), message->settings->to);
    if (change->seq)
        snprintf (id, ID_SIZE, "lilac.%" PRIu64 ".%" PRIu64 ".%016" PRIx64 "%s@%s",
                  change->epoch.n, change->seq, hash, message->host, message->domain);
    else
        snprintf (id, ID_SIZE, "lilac.watch.%" PRIu64 ".%016" PRIx64 "%s@%s",
                  (uint64_t) change->at, hash, message->host, message->domain);
}

static void
s_digest_id (const message_t *message, const mail_item_t *items, size_t count, char *id)
{
    uint64_t hash = HASH_FNV1A_START;
    for (size_t index = 0; index < count; index++)
        hash = s_item_hash (hash, &items [index]);
    hash = s_hash_string (hash, message->settings->to);
    snprintf (id, ID_SIZE, "lilac.digest.%" PRIu64 ".%zu.%016" PRIx64 "%s@%s",
              items [0].change->seq, count, hash, message->host, message->domain);
}

//  "." and the hostname as a dot-atom (letters, digits, "-", single inner
//  dots; anything else a "-"), at most HOST_MAX bytes; "" without one.
static void
s_host_part (const char *hostname, char *out)
{
    size_t used = 0;
    out [0] = 0;
    for (size_t index = 0; hostname && hostname [index] && used < HOST_MAX; index++) {
        char c = hostname [index];
        if (c == '.' && (used == 0 || out [used] == '.'))
            continue;
        out [++used] = s_alnum (c) || c == '.' ? c : '-';
    }
    while (used > 0 && out [used] == '.')
        used--;
    out [0] = used ? '.' : 0;
    out [used + 1] = 0;
}

//  --- bodies -------------------------------------------------------------------------

//  "source/id" as one line.
static void
s_add_key (text_t *text, const alert_t *alert)
{
    s_add_line (text, alert->source);
    s_text_puts (text, "/");
    s_add_line (text, alert->id);
}

//  "Label:     value" (one line), when value is not empty.
static void
s_body_field (text_t *body, const char *label, const char *value)
{
    if (!value || !*value)
        return;
    s_text_printf (body, "%-11s", label);
    s_add_line (body, value);
    s_text_puts (body, "\r\n");
}

//  The link on a line of its own, after a blank line; nothing without url_base.
static void
s_body_link (text_t *body, const expand_context_t *context)
{
    text_t url = { 0 };
    s_add_url (&url, context->url_base, &context->change->alert);
    if (url.size) {
        s_text_puts (body, "\r\n");
        s_add_line (body, url.data);
        s_text_puts (body, "\r\n");
    }
    s_text_free (&url);
}

//  "raised at 2026-12-06 14:03:00 UTC (seq 42)" and the ack, acked by, reminders.
static void
s_body_facts (text_t *body, const expand_context_t *context)
{
    const alert_change_t *change = context->change;
    const alert_t *alert = &change->alert;
    text_t line = { 0 };
    s_add_line (&line, change->event);
    if (change->at) {
        s_text_puts (&line, " at ");
        s_add_time (&line, change->at);
    }
    if (change->seq)
        s_text_printf (&line, " (seq %" PRIu64 ")", change->seq);
    s_body_field (body, "Change:", line.data);
    s_text_free (&line);
    if (alert->acked_by && *alert->acked_by) {
        s_add_line (&line, alert->acked_by);
        if (alert->ack_note && *alert->ack_note) {
            s_text_puts (&line, ": ");
            s_add_line (&line, alert->ack_note);
        }
        s_body_field (body, "Acked by:", line.data);
        s_text_free (&line);
    }
    if (alert->notify_count > 1)
        s_text_printf (body, "%-11s%" PRId64 " times\r\n", "Notified:", alert->notify_count);
}

//  The default body of one change (mail_settings_t.body).
static void
s_body_default (text_t *body, const expand_context_t *context)
{
    const alert_t *alert = &context->change->alert;
    text_t line = { 0 };
    s_add_line (body, alert_headline (alert));
    s_text_puts (body, "\r\n\r\n");
    s_add_key (&line, alert);
    s_body_field (body, "Alert:", line.data);
    s_body_field (body, "Subject:", alert->subject);
    s_body_field (body, "Level:", alert_level_name (alert->level));
    s_body_field (body, "State:", alert_state_name (alert->state));
    s_body_facts (body, context);
    s_body_field (body, "Rule:", context->action ? context->action->rule : NULL);
    s_text_free (&line);
    s_add_labels (&line, alert);
    s_body_field (body, "Labels:", line.data);
    s_text_free (&line);
    if (alert->detail && *alert->detail) {
        s_text_puts (body, "\r\n");
        s_add_text (body, alert->detail);
        s_end_line (body);
    }
    s_body_link (body, context);
}

//  A flood notice in words, one line: "further alerts of rule R are held back".
static void
s_flood_words (text_t *text, const rule_action_t *action)
{
    const char *limit = NULL;
    if (action->settings)
        config_string (action->settings, "limit", NULL, &limit);
    if (action->kind == ACTION_FLOOD_HELD) {
        s_text_puts (text, "further alerts of rule ");
        s_add_line (text, action->rule);
        s_text_puts (text, " are held back");
        if (limit && *limit) {
            s_text_puts (text, " (limit ");
            s_add_line (text, limit);
            s_text_puts (text, ")");
        }
    }
    else {
        s_text_puts (text, "normal service resumes for rule ");
        s_add_line (text, action->rule);
        s_text_printf (text, "; %" PRId64 " alert%s held back", action->held,
                       action->held == 1 ? " was" : "s were");
    }
}

//  The body of a flood notice.
static void
s_body_flood (text_t *body, const expand_context_t *context)
{
    const rule_action_t *action = context->action;
    const alert_t *alert = &context->change->alert;
    if (action->kind == ACTION_FLOOD_HELD) {
        s_text_puts (body, "Too many alerts matched rule ");
        s_add_line (body, action->rule);
        s_text_puts (body, "; the last one was ");
    }
    else {
        s_text_puts (body, "Alerts of rule ");
        s_add_line (body, action->rule);
        s_text_printf (body, " are sent again; %" PRId64 " were held back.\r\nThis one: ",
                       action->held);
    }
    s_add_key (body, alert);
    s_text_puts (body, ": ");
    s_add_line (body, alert_headline (alert));
    s_text_puts (body, ".\r\n");
    if (action->kind == ACTION_FLOOD_HELD)
        s_text_puts (body, "Further alerts of this rule are held back until the rate drops.\r\n");
    s_body_link (body, context);
}

//  One change of a digest, in three lines (mail_settings_t.digest_item).
static void
s_digest_entry (text_t *body, const expand_context_t *context)
{
    const alert_change_t *change = context->change;
    if (context->action && context->action->kind != ACTION_NOTIFY) {
        s_text_puts (body, context->action->kind == ACTION_FLOOD_HELD ? "FLOOD HELD " : "FLOOD OVER ");
        s_flood_words (body, context->action);
        s_text_puts (body, " (");
        s_add_key (body, &change->alert);
        s_text_puts (body, ")");
    }
    else {
        s_add_upper (body, change->event);
        s_text_puts (body, " ");
        s_add_key (body, &change->alert);
        s_text_puts (body, ": ");
        s_add_line (body, alert_headline (&change->alert));
    }
    s_text_puts (body, "\r\n  ");
    s_add_time (body, change->at);
    s_text_printf (body, "%s%s", change->at ? ", " : "", alert_level_name (change->alert.level));
    if (change->seq)
        s_text_printf (body, ", seq %" PRIu64, change->seq);
    text_t url = { 0 };
    s_add_url (&url, context->url_base, &change->alert);
    if (url.size) {
        s_text_puts (body, "\r\n  ");
        s_add_line (body, url.data);
    }
    s_text_free (&url);
    s_text_puts (body, "\r\n");
}

//  Every byte printable ASCII or a tab, in CRLF lines of at most BODY_7BIT_LINE_MAX.
static bool
s_body_7bit (const char *body, size_t size)
{
    size_t column = 0;
    for (size_t index = 0; index < size; index++) {
        unsigned char byte = (unsigned char) body [index];
        if (byte == '\r' && index + 1 < size && body [index + 1] == '\n') {
            column = 0;
            index++;
        }
        else
        if ((byte < 0x20 && byte != '\t') || byte > 0x7e || ++column > BODY_7BIT_LINE_MAX)
            return false;
    }
    return true;
}

//  The quoted-printable form of the character at text (one byte, or one
//  whole UTF-8 character); *consumed its bytes. At most 12 characters.
static size_t
s_qp_token (const char *text, size_t left, char *token, size_t *consumed)
{
    static const char hex [] = "0123456789ABCDEF";
    unsigned char byte = (unsigned char) text [0];
    *consumed = 1;
    if ((byte >= 33 && byte <= 126 && byte != '=') || ((byte == ' ' || byte == '\t') && left > 1)) {
        token [0] = (char) byte;
        return 1;
    }
    size_t count = byte >= 0x80 ? s_utf8_length (text, left) : 1;
    *consumed = count ? count : 1;
    for (size_t index = 0; index < *consumed; index++) {
        unsigned char one = (unsigned char) text [index];
        token [3 * index] = '=';
        token [3 * index + 1] = hex [one >> 4];
        token [3 * index + 2] = hex [one & 15];
    }
    return 3 * *consumed;
}

static void
s_qp_line (text_t *out, const char *line, size_t size)
{
    size_t column = 0, offset = 0;
    while (offset < size) {
        char token [12];
        size_t consumed;
        size_t length = s_qp_token (line + offset, size - offset, token, &consumed);
        bool last = offset + consumed == size;
        if (column + length > (last ? QP_LINE_MAX : QP_LINE_MAX - 1)) {
            s_text_puts (out, "=\r\n");
            column = 0;
        }
        s_text_add (out, token, length);
        column += length;
        offset += consumed;
    }
    s_text_puts (out, "\r\n");
}

//  body (CRLF lines) as quoted-printable.
static void
s_add_qp (text_t *out, const char *body, size_t size)
{
    size_t offset = 0;
    while (offset < size) {
        const char *end = body + offset;
        while (end < body + size && !(end [0] == '\r' && end + 1 < body + size && end [1] == '\n'))
            end++;
        s_qp_line (out, body + offset, (size_t) (end - (body + offset)));
        offset = (size_t) (end - body) + 2;
    }
}

//  --- messages -----------------------------------------------------------------------

static void
s_message_free (message_t *message)
{
    mem_free (message->to);
    message->to = NULL;
}

//  The To list, at most MAIL_RECIPIENTS_MAX.
static int
s_message_to (message_t *message, const char *list, char *error, size_t error_size)
{
    if (s_list_check (list, error, error_size))
        return -1;
    size_t offset = 0;
    mailbox_t mailbox;
    int rc;
    while ((rc = s_list_next (list, &offset, &mailbox, error, error_size)) == 1) {
        if (message->to_count == MAIL_RECIPIENTS_MAX)
            return error_text (error, error_size, -1, "more than %d addresses",
                               MAIL_RECIPIENTS_MAX);
        message->to = mem_realloc (message->to, (message->to_count + 1) * sizeof *message->to);
        message->to [message->to_count++] = mailbox;
    }
    if (rc == 0 && message->to_count == 0)
        return error_text (error, error_size, -1, "no address");
    return rc < 0 ? -1 : 0;
}

//  Checks and parses the settings into *message. 0, or -1 with why.
static int
s_message_prepare (message_t *message, const mail_settings_t *settings,
                   char *error, size_t error_size)
{
    memset (message, 0, sizeof *message);
    message->settings = settings;
    char why [256];
    if (s_mailbox_one (settings->from, &message->from, why, sizeof why))
        return error_text (error, error_size, -1, "from: %s", why);
    if (s_message_to (message, settings->to, why, sizeof why))
        return error_text (error, error_size, -1, "to: %s", why);
    const char *domain = settings->domain;
    if (!domain)
        domain = strrchr (message->from.address, '@') + 1;
    size_t size = strlen (domain);
    if (!s_domain_valid (domain, size))
        return s_quote_error (error, error_size, domain, size, "domain: not a domain name");
    memcpy (message->domain, domain, size + 1);
    s_host_part (settings->hostname, message->host);
    return 0;
}

static void
s_context (expand_context_t *context, const message_t *message, const mail_item_t *item,
           size_t count, const text_t *counts)
{
    *context = (expand_context_t) { item->change, item->action, message->settings->url_base,
                                    count, s_text_string (counts) };
}

//  A template of this file's (the defaults), expanded.
static int
s_expand_default (const char *source, const expand_context_t *context, text_t *text,
                  char *error, size_t error_size)
{
    mail_template_t *template = mail_template_new (source, error, error_size);
    if (!template)
        return -1;
    s_expand (template, context, text);
    mail_template_destroy (&template);
    return 0;
}

//  The subject and body of one change.
static int
s_single_text (const message_t *message, const expand_context_t *context, text_t *subject,
               text_t *body, char *error, size_t error_size)
{
    const mail_settings_t *settings = message->settings;
    const alert_t *alert = &context->change->alert;
    if (context->action && context->action->kind != ACTION_NOTIFY) {
        s_text_puts (subject, "[lilac] ");
        s_flood_words (subject, context->action);
        s_body_flood (body, context);
        return 0;
    }
    if (settings->subject)
        s_expand (settings->subject, context, subject);
    else
    if (s_expand_default (alert->summary && *alert->summary ? DEFAULT_SUBJECT
                                                           : DEFAULT_SUBJECT_NO_SUMMARY,
                          context, subject, error, error_size))
        return -1;
    if (settings->body) {
        text_t expanded = { 0 };
        s_expand (settings->body, context, &expanded);
        s_add_lines (body, s_text_string (&expanded), expanded.size);
        s_text_free (&expanded);
    }
    else
        s_body_default (body, context);
    return 0;
}

//  The X-Lilac-* headers of one change.
static void
s_single_extra (text_t *extra, const mail_item_t *item)
{
    const alert_change_t *change = item->change;
    text_t key = { 0 };
    const char *event = change->event;
    if (s_is_flood (item))
        event = item->action->kind == ACTION_FLOOD_HELD ? "flood-held" : "flood-over";
    s_header_text (extra, "X-Lilac-Event", event);
    s_add_key (&key, &change->alert);
    s_header_text (extra, "X-Lilac-Alert", key.data);
    s_text_free (&key);
    if (change->seq) {
        char seq [32];
        snprintf (seq, sizeof seq, "%" PRIu64, change->seq);
        s_header_fixed (extra, "X-Lilac-Seq", seq);
    }
    if (item->action && item->action->rule && *item->action->rule)
        s_header_text (extra, "X-Lilac-Rule", item->action->rule);
}

//  The whole message: headers, a blank line, the body encoded.
static void
s_write (text_t *out, const message_t *message, const headers_t *headers, const text_t *body)
{
    bool seven_bit = s_body_7bit (s_text_string (body), body->size);
    s_header_fixed (out, "Date", headers->date);
    s_header_mailboxes (out, "From", &message->from, 1);
    s_header_mailboxes (out, "To", message->to, message->to_count);
    s_header_text (out, "Subject", headers->subject);
    s_header_ids (out, "Message-ID", headers->id, 1);
    if (headers->reply)
        s_header_ids (out, "In-Reply-To", headers->roots, 1);
    s_header_ids (out, "References", headers->roots, headers->root_count);
    s_header_fixed (out, "MIME-Version", "1.0");
    s_header_fixed (out, "Content-Type", "text/plain; charset=UTF-8");
    s_header_fixed (out, "Content-Transfer-Encoding", seven_bit ? "7bit" : "quoted-printable");
    s_header_fixed (out, "Auto-Submitted", "auto-generated");
    s_header_fixed (out, "X-Auto-Response-Suppress", "All");
    s_text_add (out, s_text_string (&headers->extra), headers->extra.size);
    s_text_puts (out, "\r\n");
    if (seven_bit)
        s_text_add (out, s_text_string (body), body->size);
    else
        s_add_qp (out, s_text_string (body), body->size);
}

static int
s_build_single (const message_t *message, const mail_item_t *item, headers_t *headers,
                text_t *out, char *error, size_t error_size)
{
    text_t counts = { 0 }, subject = { 0 }, body = { 0 };
    expand_context_t context;
    s_counts (item, 1, &counts);
    s_context (&context, message, item, 1, &counts);
    int rc = s_single_text (message, &context, &subject, &body, error, error_size);
    if (rc == 0) {
        s_end_line (&body);
        headers->subject = s_text_string (&subject);
        s_change_id (message, item, headers->id);
        s_item_root (message, item, headers->roots);
        headers->root_count = 1;
        headers->reply = true;
        s_single_extra (&headers->extra, item);
        s_write (out, message, headers, &body);
    }
    s_text_free (&counts);
    s_text_free (&subject);
    s_text_free (&body);
    return rc;
}

//  The body of a digest; -1 when it grows past MAIL_MESSAGE_MAX.
static int
s_digest_body (const message_t *message, const mail_item_t *items, size_t count,
               const text_t *counts, text_t *body, char *error, size_t error_size)
{
    const mail_template_t *template = message->settings->digest_item;
    s_text_printf (body, "%zu changes: ", count);
    s_add_line (body, s_text_string (counts));
    s_text_puts (body, "\r\n");
    for (size_t index = 0; index < count; index++) {
        expand_context_t context;
        s_context (&context, message, &items [index], count, counts);
        s_text_puts (body, "\r\n");
        if (template && !s_is_flood (&items [index])) {
            text_t entry = { 0 };
            s_expand (template, &context, &entry);
            s_add_lines (body, s_text_string (&entry), entry.size);
            s_end_line (body);
            s_text_free (&entry);
        }
        else
            s_digest_entry (body, &context);
        if (body->size > MAIL_MESSAGE_MAX)
            return error_text (error, error_size, -1, "a digest of %zu changes is larger than %d"
                               " bytes", count, MAIL_MESSAGE_MAX);
    }
    return 0;
}

//  The distinct thread roots of the items, at most MAIL_REFERENCES_MAX.
static void
s_digest_roots (const message_t *message, const mail_item_t *items, size_t count,
                headers_t *headers)
{
    for (size_t index = 0; index < count && headers->root_count < MAIL_REFERENCES_MAX; index++) {
        char *root = headers->roots + headers->root_count * ID_SIZE;
        s_item_root (message, &items [index], root);
        size_t seen = 0;
        while (seen < headers->root_count && strcmp (headers->roots + seen * ID_SIZE, root) != 0)
            seen++;
        if (seen == headers->root_count)
            headers->root_count++;
    }
}

static int
s_build_digest (const message_t *message, const mail_item_t *items, size_t count,
                headers_t *headers, text_t *out, char *error, size_t error_size)
{
    text_t counts = { 0 }, subject = { 0 }, body = { 0 };
    expand_context_t context;
    s_counts (items, count, &counts);
    s_context (&context, message, &items [0], count, &counts);
    int rc = 0;
    if (message->settings->digest_subject)
        s_expand (message->settings->digest_subject, &context, &subject);
    else
        rc = s_expand_default (DEFAULT_DIGEST_SUBJECT, &context, &subject, error, error_size);
    if (rc == 0)
        rc = s_digest_body (message, items, count, &counts, &body, error, error_size);
    if (rc == 0) {
        headers->subject = s_text_string (&subject);
        s_digest_id (message, items, count, headers->id);
        s_digest_roots (message, items, count, headers);
        s_header_fixed (&headers->extra, "X-Lilac-Event", "digest");
        char number [32];
        snprintf (number, sizeof number, "%zu", count);
        s_header_fixed (&headers->extra, "X-Lilac-Changes", number);
        s_write (out, message, headers, &body);
    }
    s_text_free (&counts);
    s_text_free (&subject);
    s_text_free (&body);
    return rc;
}

//  What the caller gave: items with changes, not too many.
static int
s_check_items (const mail_settings_t *settings, const mail_item_t *items, size_t count,
               char *error, size_t error_size)
{
    if (!settings)
        return error_text (error, error_size, -1, "no settings");
    if (!items || count == 0)
        return error_text (error, error_size, -1, "no change to tell about");
    if (count > MAIL_DIGEST_MAX)
        return error_text (error, error_size, -1, "%zu changes: a digest holds at most %d",
                           count, MAIL_DIGEST_MAX);
    for (size_t index = 0; index < count; index++)
        if (!items [index].change)
            return error_text (error, error_size, -1, "item %zu has no change", index + 1);
    return 0;
}

char *
mail_message_build (const mail_settings_t *settings, const mail_item_t *items, size_t count,
                    int64_t now_ms, size_t *size, char *error, size_t error_size)
{
    if (s_check_items (settings, items, count, error, error_size))
        return NULL;
    message_t message;
    if (s_message_prepare (&message, settings, error, error_size)) {
        s_message_free (&message);
        return NULL;
    }
    headers_t *headers = mem_alloc (sizeof *headers);
    text_t out = { 0 };
    int rc = s_date (now_ms, headers->date, sizeof headers->date);
    if (rc)
        error_text (error, error_size, -1, "now_ms %" PRId64 " is not a date of years 1900 to 9999",
                    now_ms);
    else
    if (count == 1)
        rc = s_build_single (&message, items, headers, &out, error, error_size);
    else
        rc = s_build_digest (&message, items, count, headers, &out, error, error_size);
    if (rc == 0 && out.size > MAIL_MESSAGE_MAX)
        rc = error_text (error, error_size, -1, "a message of %zu bytes: more than %d", out.size,
                         MAIL_MESSAGE_MAX);
    s_text_free (&headers->extra);
    mem_free (headers);
    s_message_free (&message);
    if (rc) {
        s_text_free (&out);
        return NULL;
    }
    return s_text_take (&out, size);
}
