/*  api_silences.c — silences over HTTP. See api_silences.h.

    Every route packs one control request (silence_add, silence_list,
    silence_expire) and sends it with web_call; the HTTP request waits, the
    loop does not. The done functions turn the broker's reply into lilac's
    JSON (json_from_msgpack of the silence) or into Alertmanager's shapes.
    Bodies are read first, by the pure parsers at the top (jansson, checked
    field by field, nothing of HTTP); strings past the wire's limits are
    refused, never cut (but for Alertmanager's comment, which is only words).
*/
#include <string.h>
#include "api_silences.h"
#include "error_text.h"
#include "ingest_map.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "silence.h"
#include "timespec.h"

#define S_MAX_FILTERS    16           //  filter arguments of GET /api/v2/silences

//  --- the bodies, read -----------------------------------------------------------------

//  A time member (absent: ""): a spec or epoch seconds (a positive
//  integer) as the broker reads them, or RFC 3339 (turned into epoch
//  seconds; Go's zero time is absent). round_up for an end (never earlier
//  than asked). The text only: s_check_times resolves it. 0, or -1 with why.
static int
s_time (const json_t *body, const char *key, bool round_up, char *out, size_t out_size,
        char *error, size_t error_size)
{
    *out = '\0';
    json_t *member = json_object_get (body, key);
    int64_t ms, seconds;
    if (!member || json_is_null (member))
        return 0;
    if (json_is_integer (member) && json_integer_value (member) > 0)
        snprintf (out, out_size, "%lld", (long long) json_integer_value (member));
    else
    if (json_is_string (member) && ingest_map_rfc3339 (json_string_value (member), &ms) == 0) {
        seconds = ms <= 0 ? 0 : round_up ? (ms + 999) / 1000 : ms / 1000;
        if (seconds > 0)
            snprintf (out, out_size, "%lld", (long long) seconds);
    }
    else
    if (json_get_string (body, key, out, out_size, false) != 0) {
        snprintf (error, error_size, "%s: want a time (+2h, epoch seconds, RFC 3339)", key);
        return -1;
    }
    return 0;
}

//  Adds a label matcher (a copy). 0, or -1 with why.
static int
s_add_label (api_silence_t *self, const char *text, char *error, size_t error_size)
{
    if (self->label_count == SILENCE_MAX_LABELS) {
        snprintf (error, error_size, "matchers: more than %d labels", SILENCE_MAX_LABELS);
        return -1;
    }
    if (strlen (text) >= API_MATCHER_SIZE) {
        snprintf (error, error_size, "matchers: a label matcher is too long");
        return -1;
    }
    self->labels [self->label_count++] = mem_strdup (text);
    return 0;
}

//  One glob of lilac's matchers. 0 (absent or read), -1 with why.
static int
s_glob (const json_t *matchers, const char *key, char *out, size_t size, char *error,
        size_t error_size)
{
    json_t *member = json_object_get (matchers, key);
    if (!member)
        return 0;
    if (json_get_string (matchers, key, out, size, false) == 0 && *out
    &&  strlen (out) <= WIRE_MAX_NAME)
        return 0;
    snprintf (error, error_size, "matchers.%s: want a glob of 1-%d bytes", key, WIRE_MAX_NAME);
    return -1;
}

//  lilac's {matchers, starts?, ends, note?} into silence. 0, or -1 with why.
static int
s_read_own (const char *source_label, const json_t *body, api_silence_t *silence, char *error,
            size_t error_size)
{
    (void) source_label;
    json_t *matchers = json_object_get (body, "matchers");
    if (!json_is_object (matchers)) {
        snprintf (error, error_size, "matchers: want an object {source?, id?, subject?, "
                  "labels?: [\"K=V\", ...]}");
        return -1;
    }
    if (s_glob (matchers, "source", silence->source, sizeof silence->source, error, error_size)
    ||  s_glob (matchers, "id", silence->id, sizeof silence->id, error, error_size)
    ||  s_glob (matchers, "subject", silence->subject, sizeof silence->subject, error,
                error_size))
        return -1;
    json_t *labels = json_object_get (matchers, "labels"), *label;
    if (labels && !json_is_array (labels)) {
        snprintf (error, error_size, "matchers.labels: want an array of strings");
        return -1;
    }
    size_t index;
    json_array_foreach (labels, index, label)
        if (!json_is_string (label)
        ||  s_add_label (silence, json_string_value (label), error, error_size)) {
            if (!json_is_string (label))
                snprintf (error, error_size, "matchers.labels: want an array of strings");
            return -1;
        }
    if (s_time (body, "starts", false, silence->starts, sizeof silence->starts, error,
                error_size)
    ||  s_time (body, "ends", true, silence->ends, sizeof silence->ends, error, error_size))
        return -1;
    if (json_object_get (body, "note")
    &&  json_get_string (body, "note", silence->note, sizeof silence->note, false)) {
        snprintf (error, error_size, "note: want a string of at most %d bytes", WIRE_MAX_NOTE);
        return -1;
    }
    return 0;
}

//  Escapes glob characters, so value matches itself only. -1 if too long.
static int
s_glob_escape (const char *value, char *out, size_t size)
{
    size_t length = 0;
    for (const char *at = value; *at; at++) {
        if (length + 3 > size)
            return -1;
        if (strchr ("*?[]\\", *at))
            out [length++] = '\\';
        out [length++] = *at;
    }
    out [length] = '\0';
    return length > WIRE_MAX_NAME ? -1 : 0;
}

//  A flag of an AM matcher into *flag: absent or null is fallback (as in
//  Alertmanager), a boolean itself. 0, or -1 for anything else.
static int
s_am_flag (const json_t *matcher, const char *key, bool fallback, bool *flag)
{
    const json_t *member = json_object_get (matcher, key);
    *flag = !member || json_is_null (member) ? fallback : json_is_true (member);
    return !member || json_is_null (member) || json_is_boolean (member) ? 0 : -1;
}

//  The label matcher text of an AM matcher: its name, operator (=, !=, =~,
//  !~) and value, into text (size bytes). An equal value that starts with
//  '~' is written as the regex of itself ("NAME=~V" would read as a
//  regex). 0, or -1 when it does not fit.
static int
s_am_label_text (const char *name, const char *value, bool equal, bool regex, char *text,
                 size_t size)
{
    static const char *const operators [2][2] = { { "!=", "!~" }, { "=", "=~" } };
    bool literal = equal && !regex && *value == '~';
    size_t length = (size_t) snprintf (text, size, "%s%s", name,
                                       operators [equal][regex || literal]);
    for (const char *at = value; *at && length < size; at++) {
        if (literal && strchr ("\\^$.|?*+()[]{}", *at))
            text [length++] = '\\';
        if (length < size)
            text [length++] = *at;
    }
    if (length >= size)
        return -1;
    text [length] = '\0';
    return 0;
}

//  One AM matcher into silence: the first equal one of the source label
//  (with a value) is the source glob, any other a label matcher of the
//  same meaning. 0, or -1 with why.
static int
s_read_am_matcher (const char *source_label, const json_t *matcher, api_silence_t *silence,
                   char *error, size_t error_size)
{
    const char *name = json_string_value (json_object_get (matcher, "name"));
    const char *value = json_string_value (json_object_get (matcher, "value"));
    bool equal, regex;
    if (!name || !*name || !value)
        return error_text (error, error_size, -1, "matchers: each wants a name and a value");
    if (strpbrk (name, "=!"))               //  "a=b" would read as a=b...
        return error_text (error, error_size, -1, "matchers: '%.64s' is not a label name",
                           name);
    if (s_am_flag (matcher, "isEqual", true, &equal)
    ||  s_am_flag (matcher, "isRegex", false, &regex))
        return error_text (error, error_size, -1, "matchers: %.64s: isEqual and isRegex want "
                           "true or false", name);
    if (equal && !regex && *value && strcmp (name, source_label) == 0 && !*silence->source) {
        if (s_glob_escape (value, silence->source, sizeof silence->source) == 0)
            return 0;
        return error_text (error, error_size, -1, "matchers: %s: not a source (1-%d bytes)",
                           name, WIRE_MAX_NAME);
    }
    char text [API_MATCHER_SIZE];
    if (s_am_label_text (name, value, equal, regex, text, sizeof text))
        return error_text (error, error_size, -1, "matchers: a label matcher is too long");
    return s_add_label (silence, text, error, error_size);
}

//  id and comment of AM's postableSilence: an id says an update (refused
//  unless empty), the comment is the note (cut to fit). 0, or -1 with why.
static int
s_read_am_id_comment (const json_t *body, api_silence_t *silence, char *error,
                      size_t error_size)
{
    const json_t *id = json_object_get (body, "id"), *comment = json_object_get (body, "comment");
    if (id && !json_is_null (id) && !json_is_string (id))
        return error_text (error, error_size, -1, "id: want a string");
    if (json_string_length (id))
        return error_text (error, error_size, -1, "id: updating a silence is not supported "
                           "(expire it and add a new one)");
    if (comment && !json_is_null (comment) && !json_is_string (comment))
        return error_text (error, error_size, -1, "comment: want a string");
    json_get_string (body, "comment", silence->note, sizeof silence->note, true);
    return 0;
}

//  AM's postableSilence into silence. 0, or -1 with why.
static int
s_read_am (const char *source_label, const json_t *body, api_silence_t *silence, char *error,
           size_t error_size)
{
    json_t *matchers = json_object_get (body, "matchers"), *matcher;
    if (!json_is_array (matchers) || json_array_size (matchers) == 0)
        return error_text (error, error_size, -1, "matchers: want a non-empty array");
    if (s_read_am_id_comment (body, silence, error, error_size))
        return -1;
    size_t index;
    json_array_foreach (matchers, index, matcher)
        if (s_read_am_matcher (source_label, matcher, silence, error, error_size))
            return -1;
    if (s_time (body, "startsAt", false, silence->starts, sizeof silence->starts, error,
                error_size)
    ||  s_time (body, "endsAt", true, silence->ends, sizeof silence->ends, error, error_size))
        return -1;
    return 0;
}

//  The body as a JSON object, or NULL with why.
static json_t *
s_read_object (const char *body, size_t size, char *error, size_t error_size)
{
    char why [WIRE_ERROR_SIZE];
    json_t *object = json_read_object (body, size, API_SILENCE_BODY_MAX, why, sizeof why);
    if (!object)
        error_text (error, error_size, -1, "the body: %s", why);
    return object;
}

//  A dialect of silence bodies: its reader and the names of its times.
typedef struct {
    int (*read) (const char *source_label, const json_t *body, api_silence_t *silence,
                 char *error, size_t error_size);
    const char *starts;            //  the key of the start, for messages
    const char *ends;              //  the key of the end
} s_dialect_t;

static const s_dialect_t s_own = { s_read_own, "starts", "ends" };
static const s_dialect_t s_am = { s_read_am, "startsAt", "endsAt" };

//  Each label matcher as the broker will parse it (a regex compiled).
//  0, or -1 with why.
static int
s_check_labels (const api_silence_t *silence, char *error, size_t error_size)
{
    for (size_t index = 0; index < silence->label_count; index++) {
        silence_label_t label;
        if (silence_label_parse (silence->labels [index], &label, error, error_size))
            return -1;
        silence_label_free (&label);
    }
    return 0;
}

//  The times resolved at now_ms as the broker will resolve them: ends
//  required, each a time (never "clear"), ends after starts and now.
//  0, or -1 with why.
static int
s_check_times (const api_silence_t *silence, const s_dialect_t *dialect, int64_t now_ms,
               char *error, size_t error_size)
{
    int64_t starts = now_ms, ends = 0;
    if (!*silence->ends)
        return error_text (error, error_size, -1, "%s: required (+2h, epoch seconds, "
                           "RFC 3339)", dialect->ends);
    if (*silence->starts && time_spec_parse (silence->starts, now_ms, &starts) != 0)
        return error_text (error, error_size, -1, "%s: want a time (+2h, epoch seconds, "
                           "RFC 3339)", dialect->starts);
    if (time_spec_parse (silence->ends, now_ms, &ends) != 0)
        return error_text (error, error_size, -1, "%s: want a time (+2h, epoch seconds, "
                           "RFC 3339)", dialect->ends);
    if (ends <= (starts > now_ms ? starts : now_ms))
        return error_text (error, error_size, -1, "%s: must be after %s and now",
                           dialect->ends, dialect->starts);
    return 0;
}

//  What the broker would refuse in a silence read, refused here: no
//  matcher, a label matcher it cannot parse, times it cannot take.
//  0, or -1 with why.
static int
s_check (const api_silence_t *silence, const s_dialect_t *dialect, int64_t now_ms,
         char *error, size_t error_size)
{
    if (!*silence->source && !*silence->id && !*silence->subject && !silence->label_count)
        return error_text (error, error_size, -1, "matchers: want at least one (source, id, "
                           "subject or a label)");
    if (s_check_labels (silence, error, error_size))
        return -1;
    return s_check_times (silence, dialect, now_ms, error, error_size);
}

//  The body read in dialect into out, and checked.
static int
s_parse (const s_dialect_t *dialect, const char *source_label, const char *body, size_t size,
         int64_t now_ms, api_silence_t *out, char *error, size_t error_size)
{
    memset (out, 0, sizeof *out);
    json_t *object = s_read_object (body, size, error, error_size);
    if (!object)
        return -1;
    int rc = dialect->read (source_label, object, out, error, error_size);
    json_decref (object);
    if (rc == 0)
        rc = s_check (out, dialect, now_ms, error, error_size);
    if (rc)
        api_silence_free (out);
    return rc;
}

int
api_silence_parse (const char *body, size_t size, int64_t now_ms, api_silence_t *out,
                   char *error, size_t error_size)
{
    return s_parse (&s_own, NULL, body, size, now_ms, out, error, error_size);
}

int
api_silence_parse_am (const char *body, size_t size, const char *source_label,
                      int64_t now_ms, api_silence_t *out, char *error, size_t error_size)
{
    return s_parse (&s_am, source_label, body, size, now_ms, out, error, error_size);
}

void
api_silence_free (api_silence_t *self)
{
    for (size_t index = 0; index < self->label_count; index++)
        mem_free (self->labels [index]);
    self->label_count = 0;
}

//  --- answering -------------------------------------------------------------------------

//  The broker's reply checked: the document, or NULL once the request
//  was answered with the error (503 no answer, 404 no silence, else 400).
static wire_doc_t *
s_checked (web_t *web, http_request_t *request, wire_doc_t *reply, const char *why)
{
    if (!reply) {
        http_resume_json (request, MHD_HTTP_SERVICE_UNAVAILABLE,
                          json_pack ("{s:s}", "error", why ? why : "no answer"));
        return NULL;
    }
    char error [WIRE_ERROR_SIZE];
    ctl_failure_t failure = 0;
    wire_doc_t *checked = ctl_reply_ok (web_ctl (web), reply, &failure, error, sizeof error);
    if (!checked) {
        unsigned code = strncmp (error, "no silence", 10) == 0 ? MHD_HTTP_NOT_FOUND
                      : failure == CTL_REFUSED ? MHD_HTTP_BAD_REQUEST
                      : MHD_HTTP_SERVICE_UNAVAILABLE;
        http_resume_json (request, code, json_pack ("{s:s}", "error", error));
    }
    return checked;
}

//  Did the broker leave silences out of its silence_list reply (it fills
//  one message; the newest are the ones left out)?
static bool
s_truncated (wire_doc_t *checked)
{
    bool present = false, truncated = false;
    char error [WIRE_ERROR_SIZE];
    wire_get_bool (wire_doc_root (checked), "truncated", &present, &truncated, error,
                   sizeof error);
    return present && truncated;
}

//  Answers {key: the reply's member key as JSON}.
static void
s_answer_member (http_request_t *request, wire_doc_t *checked, const char *key)
{
    json_t *value = json_from_msgpack (wire_get (wire_doc_root (checked), key));
    json_t *body = value ? json_pack ("{s:o}", key, value) : NULL;
    http_resume_json (request, body ? MHD_HTTP_OK : MHD_HTTP_INTERNAL_SERVER_ERROR,
                      body ? body : json_pack ("{s:s}", "error", "out of memory"));
}

static void
s_member_done (web_t *web, http_request_t *request, wire_doc_t *reply, const char *why,
               void *arg)
{
    wire_doc_t *checked = s_checked (web, request, reply, why);
    if (checked) {
        s_answer_member (request, checked, arg);
        wire_doc_destroy (&checked);
    }
}

//  {silences, truncated}: lilac's own list says when the broker left the
//  newest out.
static void
s_list_done (web_t *web, http_request_t *request, wire_doc_t *reply, const char *why,
             void *arg)
{
    (void) arg;
    wire_doc_t *checked = s_checked (web, request, reply, why);
    if (!checked)
        return;
    json_t *silences = json_from_msgpack (wire_get (wire_doc_root (checked), "silences"));
    json_t *body = silences ? json_pack ("{s:o,s:b}", "silences", silences, "truncated",
                                         s_truncated (checked)) : NULL;
    wire_doc_destroy (&checked);
    http_resume_json (request, body ? MHD_HTTP_OK : MHD_HTTP_INTERNAL_SERVER_ERROR,
                      body ? body : json_pack ("{s:s}", "error", "out of memory"));
}

//  Sends the packed request (and frees it); done gets arg.
static enum MHD_Result
s_send (web_t *web, http_request_t *request, wire_writer_t *writer, web_done_fn *done,
        void *arg)
{
    enum MHD_Result rc = web_call (web, request, writer->buffer.data, writer->buffer.size,
                                   done, arg);
    wire_writer_free (writer);
    return rc;
}

//  ms since the epoch as RFC 3339 ("0001-01-01T00:00:00Z" for none).
static json_t *
s_rfc3339 (int64_t ms)
{
    char text [40];
    return json_string (ms > 0 ? time_format (ms, text, sizeof text) : "0001-01-01T00:00:00Z");
}

//  --- lilac's own ---------------------------------------------------------------------------

enum MHD_Result
api_silences_list (web_t *web, http_request_t *request)
{
    wire_writer_t writer;
    ctl_silence_list_request (&writer);
    return s_send (web, request, &writer, s_list_done, NULL);
}

void
api_silence_request (const api_silence_t *silence, const char *by, wire_writer_t *writer)
{
    ctl_silence_t add = {
        .source = *silence->source ? silence->source : NULL,
        .id = *silence->id ? silence->id : NULL,
        .subject = *silence->subject ? silence->subject : NULL,
        .labels = (const char *const *) silence->labels, .label_count = silence->label_count,
        .starts = *silence->starts ? silence->starts : NULL, .ends = silence->ends,
        .by = by, .note = *silence->note ? silence->note : NULL };
    ctl_silence_add_request (writer, &add);
}

//  Sends silence_add by the request's user (and frees silence); the reply
//  goes to done with arg.
static enum MHD_Result
s_send_add (web_t *web, http_request_t *request, api_silence_t *silence, web_done_fn *done,
            void *arg)
{
    char by [WIRE_MAX_NAME + 1];
    web_user (web, request, by, sizeof by);
    wire_writer_t writer;
    api_silence_request (silence, by, &writer);
    api_silence_free (silence);
    return s_send (web, request, &writer, done, arg);
}

enum MHD_Result
api_silences_add (web_t *web, http_request_t *request)
{
    api_silence_t silence;
    char error [WIRE_ERROR_SIZE];
    if (api_silence_parse (http_body (request), http_body_size (request), clock_now_ms (),
                           &silence, error, sizeof error))
        return http_reply_error (request, MHD_HTTP_BAD_REQUEST, "%s", error);
    return s_send_add (web, request, &silence, s_member_done, "silence");
}

//  Sends silence_expire for id, by the request's user.
static enum MHD_Result
s_send_expire (web_t *web, http_request_t *request, const char *id, web_done_fn *done,
               void *arg)
{
    if (!silence_id_valid (id))
        return http_reply_error (request, MHD_HTTP_NOT_FOUND, "no silence %.64s", id);
    char by [WIRE_MAX_NAME + 1];
    web_user (web, request, by, sizeof by);
    wire_writer_t writer;
    ctl_silence_expire_request (&writer, id, by);
    return s_send (web, request, &writer, done, arg);
}

enum MHD_Result
api_silences_expire (web_t *web, http_request_t *request)
{
    char id [SILENCE_ID_SIZE + 1], op [16];
    if (http_segment_count (request) != 4 || http_segment (request, 2, id, sizeof id)
    ||  http_segment (request, 3, op, sizeof op) || strcmp (op, "expire"))
        return http_reply_error (request, MHD_HTTP_NOT_FOUND,
                                 "want POST /api/silences/ID/expire");
    return s_send_expire (web, request, id, s_member_done, "silence");
}

//  --- Alertmanager API v2 -------------------------------------------------------------------

enum MHD_Result
api_silences_am_status (web_t *web, http_request_t *request)
{
    (void) web;
    static int64_t started;
    if (!started)
        started = clock_now_ms ();
    json_t *body = json_pack (
        "{s:{s:s, s:[]}, s:{s:s}, s:o, s:{s:s, s:s, s:s, s:s, s:s, s:s}}",
        "cluster", "status", "ready", "peers",
        "config", "original", "",
        "uptime", s_rfc3339 (started),
        "versionInfo", "version", "0.25.0-lilac", "branch", "lilac", "buildDate", "",
        "buildUser", "lilac", "goVersion", "none", "revision", "lilac");
    return http_reply_json (request, MHD_HTTP_OK, body);
}

//  A glob as an AM matcher's value: plain (escapes removed) when it has no
//  wildcard, else an equivalent regex (*isRegex set).
static void
s_glob_to_value (const char *glob, char *out, size_t size, bool *is_regex)
{
    *is_regex = strpbrk (glob, "*?[") != NULL;
    size_t length = 0;
    for (const char *at = glob; *at && length + 3 < size; at++) {
        bool escaped = *at == '\\' && at [1];
        if (escaped)
            at++;
        if (*is_regex && !escaped && *at == '*') {
            out [length++] = '.';
            out [length++] = '*';
        }
        else
        if (*is_regex && !escaped && *at == '?')
            out [length++] = '.';
        else {
            bool bracket = !escaped && (*at == '[' || *at == ']');
            if (*is_regex && !bracket && strchr (".^$|()+{}\\*?[]", *at))
                out [length++] = '\\';
            out [length++] = *at;
        }
    }
    out [length] = '\0';
}

static void
s_am_glob (json_t *matchers, const json_t *own, const char *key, const char *name)
{
    const char *glob = json_string_value (json_object_get (own, key));
    if (!glob)
        return;
    char value [2 * API_GLOB_SIZE];
    bool is_regex;
    s_glob_to_value (glob, value, sizeof value, &is_regex);
    json_array_append_new (matchers, json_pack ("{s:s, s:s, s:b, s:b}", "name", name,
                                                "value", value, "isRegex", is_regex,
                                                "isEqual", true));
}

//  "K=V" (!=, =~, !~) as an AM matcher.
static json_t *
s_am_label (const char *text)
{
    silence_label_t label;
    char error [256];
    if (silence_label_parse (text, &label, error, sizeof error))
        return NULL;
    json_t *matcher = json_pack ("{s:s, s:s, s:b, s:b}", "name", label.name, "value",
                                 label.value, "isRegex", label.op == SILENCE_REGEX
                                 || label.op == SILENCE_NOT_REGEX, "isEqual",
                                 label.op == SILENCE_EQUAL || label.op == SILENCE_REGEX);
    silence_label_free (&label);
    return matcher;
}

static json_t *
s_am_matchers (web_t *web, const json_t *own)
{
    json_t *matchers = json_array (), *label;
    s_am_glob (matchers, own, "source", web_source_label (web));
    s_am_glob (matchers, own, "id", "id");
    s_am_glob (matchers, own, "subject", "subject");
    size_t index;
    json_array_foreach (json_object_get (own, "labels"), index, label) {
        json_t *matcher = json_is_string (label) ? s_am_label (json_string_value (label)) : NULL;
        if (matcher)
            json_array_append_new (matchers, matcher);
    }
    return matchers;
}

//  One of lilac's silences (JSON) as AM's gettableSilence.
static json_t *
s_am_silence (web_t *web, const json_t *own)
{
    const char *note = json_string_value (json_object_get (own, "note"));
    const char *state = json_string_value (json_object_get (own, "state"));
    int64_t created = json_integer_value (json_object_get (own, "created_at"));
    return json_pack ("{s:s, s:o, s:o, s:o, s:o, s:s, s:s, s:{s:s}}",
                      "id", json_string_value (json_object_get (own, "id")) ?: "",
                      "matchers", s_am_matchers (web, json_object_get (own, "matchers")),
                      "startsAt", s_rfc3339 (json_integer_value (json_object_get (own, "starts"))),
                      "endsAt", s_rfc3339 (json_integer_value (json_object_get (own, "ends"))),
                      "updatedAt", s_rfc3339 (created),
                      "createdBy", json_string_value (json_object_get (own, "by")) ?: "",
                      "comment", note ? note : "",
                      "status", "state", state ? state : "expired");
}

//  The `filter` arguments of GET /api/v2/silences, as Alertmanager reads
//  them: a silence is listed when, for each filter, it has a matcher of
//  that name whose value the filter matches.
typedef struct {
    silence_label_t filters [S_MAX_FILTERS];   //  count of them, parsed
    size_t count;
    bool failed;                   //  one could not be read: error says why
    char error [256];
} s_filters_t;

//  A filter (`name="value"`, `name=~"re"`, quotes optional) as the text
//  silence_label_parse reads. 0, or -1.
static int
s_filter_text (const char *filter, char *out, size_t size)
{
    size_t name = strcspn (filter, "=!");
    const char *op = filter + name;
    size_t op_length = strncmp (op, "=~", 2) == 0 || strncmp (op, "!~", 2) == 0
                    || strncmp (op, "!=", 2) == 0 ? 2 : *op == '=' ? 1 : 0;
    if (!name || !op_length || name + op_length + 1 > size)
        return -1;
    const char *value = op + op_length;
    size_t length = strlen (value), written = name + op_length;
    memcpy (out, filter, written);
    if (length >= 2 && value [0] == '"' && value [length - 1] == '"') {
        for (const char *at = value + 1; at < value + length - 1 && written + 1 < size; at++) {
            if (*at == '\\' && at + 1 < value + length - 1)
                at++;
            out [written++] = *at;
        }
        out [written] = '\0';
    }
    else
        snprintf (out + written, size - written, "%s", value);
    return 0;
}

static enum MHD_Result
s_each_filter (void *arg, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    s_filters_t *self = arg;
    if (strcmp (key, "filter") || self->failed)
        return MHD_YES;
    char text [API_MATCHER_SIZE + 1];
    if (self->count == S_MAX_FILTERS)
        snprintf (self->error, sizeof self->error, "filter: more than %d", S_MAX_FILTERS);
    else
    if (!value || s_filter_text (value, text, sizeof text))
        snprintf (self->error, sizeof self->error, "filter: '%.64s' is not NAME=\"VALUE\" "
                  "(or !=, =~, !~)", value ? value : "");
    else
    if (silence_label_parse (text, &self->filters [self->count], self->error,
                             sizeof self->error) == 0) {
        self->count++;
        return MHD_YES;
    }
    self->failed = true;
    return MHD_YES;
}

static void
s_filters_read (http_request_t *request, s_filters_t *filters)
{
    memset (filters, 0, sizeof *filters);
    http_each_query (request, s_each_filter, filters);
}

static void
s_filters_free (s_filters_t *filters)
{
    for (size_t index = 0; index < filters->count; index++)
        silence_label_free (&filters->filters [index]);
    filters->count = 0;
}

//  Does the AM silence pass every filter?
static bool
s_am_selected (const json_t *silence, const s_filters_t *filters)
{
    for (size_t index = 0; index < filters->count; index++) {
        const silence_label_t *filter = &filters->filters [index];
        json_t *matcher;
        size_t at;
        bool held = false;
        json_array_foreach (json_object_get (silence, "matchers"), at, matcher)
            if (strcmp (json_string_value (json_object_get (matcher, "name")), filter->name) == 0
            &&  silence_label_matches (filter,
                                       json_string_value (json_object_get (matcher, "value"))))
                held = true;
        if (!held)
            return false;
    }
    return true;
}

static void
s_am_list_done (web_t *web, http_request_t *request, wire_doc_t *reply, const char *why,
                void *arg)
{
    (void) arg;
    wire_doc_t *checked = s_checked (web, request, reply, why);
    if (!checked)
        return;
    s_filters_t filters;
    s_filters_read (request, &filters);
    static log_limit_t truncated_log;
    if (s_truncated (checked))          //  Alertmanager's list has no place to say so
        log_limited (&truncated_log, "GET /api/v2/silences: the broker's silence_list is "
                     "full; the newest silences are left out of the answer");
    json_t *own = json_from_msgpack (wire_get (wire_doc_root (checked), "silences"));
    wire_doc_destroy (&checked);
    json_t *silences = json_array (), *silence;
    size_t index;
    json_array_foreach (own, index, silence) {
        json_t *converted = s_am_silence (web, silence);
        if (converted && s_am_selected (converted, &filters))
            json_array_append_new (silences, converted);
        else
            json_decref (converted);
    }
    json_decref (own);
    s_filters_free (&filters);
    http_resume_json (request, MHD_HTTP_OK, silences);
}

enum MHD_Result
api_silences_am_list (web_t *web, http_request_t *request)
{
    s_filters_t filters;
    s_filters_read (request, &filters);
    s_filters_free (&filters);
    if (filters.failed)
        return http_reply_error (request, MHD_HTTP_BAD_REQUEST, "%s", filters.error);
    wire_writer_t writer;
    ctl_silence_list_request (&writer);
    return s_send (web, request, &writer, s_am_list_done, NULL);
}

//  GET /api/v2/silence/ID: the one silence out of silence_list, 404 when
//  the broker does not list it.
static void
s_am_get_done (web_t *web, http_request_t *request, wire_doc_t *reply, const char *why,
               void *arg)
{
    (void) arg;
    wire_doc_t *checked = s_checked (web, request, reply, why);
    if (!checked)
        return;
    char id [SILENCE_ID_SIZE + 1] = "";
    http_segment (request, 3, id, sizeof id);
    bool truncated = s_truncated (checked);
    json_t *own = json_from_msgpack (wire_get (wire_doc_root (checked), "silences"));
    wire_doc_destroy (&checked);
    json_t *found = NULL, *silence;
    size_t index;
    json_array_foreach (own, index, silence) {
        const char *listed = json_string_value (json_object_get (silence, "id"));
        if (!found && listed && strcmp (listed, id) == 0)
            found = s_am_silence (web, silence);
    }
    json_decref (own);
    if (found)
        http_resume_json (request, MHD_HTTP_OK, found);
    else
    if (truncated)                      //  it may be one the broker left out
        http_resume_json (request, MHD_HTTP_INTERNAL_SERVER_ERROR,
                          json_pack ("{s:s}", "error", "the broker's silence list is full and "
                                     "leaves the newest out: cannot tell whether this one "
                                     "exists"));
    else
        http_resume_json (request, MHD_HTTP_NOT_FOUND,
                          json_pack ("{s:s+}", "error", "no silence ", id));
}

enum MHD_Result
api_silences_am_get (web_t *web, http_request_t *request)
{
    char id [SILENCE_ID_SIZE + 1];
    if (http_segment_count (request) != 4 || http_segment (request, 3, id, sizeof id))
        return http_reply_error (request, MHD_HTTP_NOT_FOUND, "want GET /api/v2/silence/ID");
    wire_writer_t writer;
    ctl_silence_list_request (&writer);
    return s_send (web, request, &writer, s_am_get_done, NULL);
}

static void
s_am_add_done (web_t *web, http_request_t *request, wire_doc_t *reply, const char *why,
               void *arg)
{
    (void) arg;
    wire_doc_t *checked = s_checked (web, request, reply, why);
    if (!checked)
        return;
    const msgpack_object *silence = wire_get (wire_doc_root (checked), "silence");
    json_t *own = json_from_msgpack (silence);
    wire_doc_destroy (&checked);
    const char *id = json_string_value (json_object_get (own, "id"));
    json_t *body = id ? json_pack ("{s:s}", "silenceID", id) : NULL;
    json_decref (own);
    http_resume_json (request, body ? MHD_HTTP_OK : MHD_HTTP_INTERNAL_SERVER_ERROR,
                      body ? body : json_pack ("{s:s}", "error", "no id in the reply"));
}

enum MHD_Result
api_silences_am_add (web_t *web, http_request_t *request)
{
    api_silence_t silence;
    char error [WIRE_ERROR_SIZE];
    if (api_silence_parse_am (http_body (request), http_body_size (request),
                              web_source_label (web), clock_now_ms (), &silence, error,
                              sizeof error))
        return http_reply_error (request, MHD_HTTP_BAD_REQUEST, "%s", error);
    return s_send_add (web, request, &silence, s_am_add_done, NULL);
}

static void
s_am_delete_done (web_t *web, http_request_t *request, wire_doc_t *reply, const char *why,
                  void *arg)
{
    (void) arg;
    wire_doc_t *checked = s_checked (web, request, reply, why);
    if (checked) {
        wire_doc_destroy (&checked);
        http_resume_json (request, MHD_HTTP_OK, json_object ());
    }
}

enum MHD_Result
api_silences_am_delete (web_t *web, http_request_t *request)
{
    char id [SILENCE_ID_SIZE + 1];
    if (http_segment_count (request) != 4 || http_segment (request, 3, id, sizeof id))
        return http_reply_error (request, MHD_HTTP_NOT_FOUND, "want DELETE /api/v2/silence/ID");
    return s_send_expire (web, request, id, s_am_delete_done, NULL);
}
