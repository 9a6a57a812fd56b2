/*  silence.c — silences: matchers, their codec, and matching alerts.
    See silence.h for the shape and the rules.

    A label regex is compiled twice at parse time: as written, which must
    compile by itself (so "a)|(.*" cannot escape the anchors by closing the
    group they add), and anchored as "^(RE)$", which is what matches. Both
    use REG_EXTENDED | REG_NOSUB: only whether it matches counts.

    Before that, two kinds of regex are refused, because a silence comes
    from outside and glibc's regex costs grow without bound on them:
    repetitions of repetitions — regcomp copies what a repetition repeats
    (x+ is xx*, x{5} five x), so "z" and twenty '+' take gigabytes, and its
    closures grow with how deep repetitions nest (a*** or ((a*)*)*: eighty
    take seconds) — s_regex_cost counts both against S_REGEX_COST_MAX and
    S_REGEX_REPEATS; and back-references (\1..\9), with which one regexec
    can take minutes on a short value. Alertmanager's RE2 refuses a** and
    back-references too.
*/
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "error_text.h"
#include "mem.h"
#include "silence.h"
#include "wire.h"

#define S_MALFORMED(...) error_text (error, error_size, WIRE_MALFORMED, __VA_ARGS__)

static const char *const s_op_texts [] = {
    [SILENCE_EQUAL] = "=", [SILENCE_NOT_EQUAL] = "!=",
    [SILENCE_REGEX] = "=~", [SILENCE_NOT_REGEX] = "!~",
};

//  --- label matchers ----------------------------------------------------------------

//  A fresh copy of the first length bytes of text.
static char *
s_strndup (const char *text, size_t length)
{
    char *copy = mem_alloc (length + 1);
    memcpy (copy, text, length);
    return copy;
}

#define S_REGEX_COST_MAX  1000     //  nodes a label regex may expand to in regcomp
#define S_REGEX_NESTING   32       //  groups open at once, at most
#define S_REGEX_REPEATS   4        //  repetitions nested in each other, at most

//  A group of a regex, as s_regex_cost walks it.
typedef struct {
    size_t cost;                   //  its cost so far
    size_t repeats;                //  the deepest nesting of repetitions in it so far
    size_t last_cost;              //  its last item's, which a repetition copies
    size_t last_repeats;           //  its last item's nesting of repetitions
} s_regex_group_t;

//  value, or S_REGEX_COST_MAX + 1 when above it (so products cannot overflow).
static size_t
s_cost_cap (size_t value)
{
    return value > S_REGEX_COST_MAX ? S_REGEX_COST_MAX + 1 : value;
}

//  Adds an item (an atom, a group) of cost and nesting repeats to group.
static void
s_regex_item (s_regex_group_t *group, size_t cost, size_t repeats)
{
    group->cost = s_cost_cap (group->cost + cost);
    group->last_cost = cost;
    group->last_repeats = repeats;
    if (repeats > group->repeats)
        group->repeats = repeats;
}

//  Repeats the last item of group: copies of it, and one more level.
static void
s_regex_repeat (s_regex_group_t *group, size_t copies)
{
    group->cost = s_cost_cap (group->cost + group->last_cost * (copies - 1) + 1);
    group->last_cost = s_cost_cap (group->last_cost * copies + 1);
    if (++group->last_repeats > group->repeats)
        group->repeats = group->last_repeats;
}

//  The repetition at text (*, ?, +, {m}, {m,}, {m,n}): how many copies of
//  the item before it regcomp makes (capped), its length in *length; 0 if
//  text is no repetition.
static size_t
s_regex_copies (const char *text, size_t *length)
{
    *length = 1;
    if (*text == '*' || *text == '?' || *text == '+')
        return *text == '+' ? 2 : 1;
    char *end = NULL;
    if (*text != '{' || text [1] < '0' || text [1] > '9')
        return 0;
    unsigned long low = strtoul (text + 1, &end, 10), high = low;
    if (*end == ',' && end [1] >= '0' && end [1] <= '9')
        high = strtoul (end + 1, &end, 10);
    else
    if (*end == ',') {
        high = low + 1;             //  {m,}: m copies and a star
        end++;
    }
    if (*end != '}')
        return 0;
    *length = (size_t) (end + 1 - text);
    return s_cost_cap (high > low ? high : low > 0 ? low : 1);
}

//  The length of the bracket expression at text ("[a-z]", "[]a]", "[^]a]",
//  "[[:alpha:]]"), or 1 when it does not end (regcomp refuses it then).
static size_t
s_bracket_length (const char *text)
{
    const char *at = text + 1;
    at += *at == '^';
    at += *at == ']';
    for (; *at && *at != ']'; at++)
        if (*at == '[' && (at [1] == ':' || at [1] == '.' || at [1] == '=')) {
            const char *close = strstr (at + 2, (const char []) { at [1], ']', '\0' });
            if (!close)
                return 1;
            at = close + 1;
        }
    return *at ? (size_t) (at - text) + 1 : 1;
}

//  Roughly how many nodes regcomp builds for the extended regex text
//  (capped at S_REGEX_COST_MAX + 1): an atom, an escape or a bracket
//  expression costs 1, a group what is inside it, and a repetition copies
//  the item it repeats. Past S_REGEX_REPEATS repetitions nested in each
//  other (a** or ((a*)*)*: regcomp's closures grow with the nesting) it
//  is over the cap too; SIZE_MAX for a back-reference.
static size_t
s_regex_cost (const char *text)
{
    s_regex_group_t groups [S_REGEX_NESTING + 1] = { { 0, 0, 0, 0 } };
    size_t depth = 0, length = 1, copies;
    for (const char *at = text; *at; at += length) {
        s_regex_group_t *group = &groups [depth];
        if ((copies = s_regex_copies (at, &length)))
            s_regex_repeat (group, copies);
        else
        if (*at == '\\' && at [1] >= '1' && at [1] <= '9')
            return SIZE_MAX;
        else
        if (*at == '(' && depth == S_REGEX_NESTING)
            return S_REGEX_COST_MAX + 1;
        else
        if (*at == '(')
            groups [++depth] = (s_regex_group_t) { 0, 0, 0, 0 };
        else
        if (*at == ')' && depth > 0) {
            depth--;
            s_regex_item (&groups [depth], group->cost + 1, group->repeats);
        }
        else {
            length = *at == '[' ? s_bracket_length (at) : *at == '\\' && at [1] ? 2 : 1;
            s_regex_item (group, 1, 0);
            group->last_cost = *at == '|' ? 0 : 1;      //  nothing before '|' to repeat
        }
        if (groups [depth].repeats > S_REGEX_REPEATS)
            return S_REGEX_COST_MAX + 1;
    }
    size_t cost = 0;
    for (size_t level = 0; level <= depth; level++)
        cost = s_cost_cap (cost + groups [level].cost);
    return cost;
}

//  Compiles value anchored into label->regex. 0, or -1 with why.
static int
s_compile (silence_label_t *label, char *error, size_t error_size)
{
    size_t cost = s_regex_cost (label->value);
    if (cost > S_REGEX_COST_MAX)
        return error_text (error, error_size, -1, "labels: '%s%s%s': bad regex: %s",
                           label->name, s_op_texts [label->op], label->value,
                           cost == SIZE_MAX ? "back-references are not supported"
                           : "too costly (repetitions nested or copied too often)");
    regex_t alone;
    int rc = regcomp (&alone, label->value, REG_EXTENDED | REG_NOSUB);
    if (rc == 0) {
        regfree (&alone);
        size_t size = strlen (label->value) + 5;
        char *anchored = mem_alloc (size);
        snprintf (anchored, size, "^(%s)$", label->value);
        rc = regcomp (&label->regex, anchored, REG_EXTENDED | REG_NOSUB);
        mem_free (anchored);
        if (rc == 0)
            return 0;
        regerror (rc, &label->regex, error, error_size);
    }
    else
        regerror (rc, &alone, error, error_size);
    char why [WIRE_ERROR_SIZE];
    snprintf (why, sizeof why, "%s", error);
    return error_text (error, error_size, -1, "labels: '%s%s%s': bad regex: %s",
                       label->name, s_op_texts [label->op], label->value, why);
}

int
silence_label_parse (const char *text, silence_label_t *label, char *error, size_t error_size)
{
    memset (label, 0, sizeof *label);
    size_t name_length = strcspn (text, "=!");
    const char *op = text + name_length;
    if (name_length == 0 || name_length > WIRE_MAX_LABEL_KEY || !*op)
        return error_text (error, error_size, -1, "labels: '%s' is not NAME=VALUE, NAME!=VALUE,"
                           " NAME=~REGEX or NAME!~REGEX", text);
    if (strncmp (op, "=~", 2) == 0)
        label->op = SILENCE_REGEX;
    else
    if (strncmp (op, "!~", 2) == 0)
        label->op = SILENCE_NOT_REGEX;
    else
    if (strncmp (op, "!=", 2) == 0)
        label->op = SILENCE_NOT_EQUAL;
    else
    if (*op == '=')
        label->op = SILENCE_EQUAL;
    else
        return error_text (error, error_size, -1, "labels: '%s': '!' must be followed by"
                           " '=' or '~'", text);
    const char *value = op + strlen (s_op_texts [label->op]);
    if (strlen (value) > WIRE_MAX_LABEL_VALUE)
        return error_text (error, error_size, -1, "labels: '%.*s': value longer than %d bytes",
                           (int) name_length, text, WIRE_MAX_LABEL_VALUE);
    label->name = s_strndup (text, name_length);
    label->value = mem_strdup (value);
    if ((label->op == SILENCE_REGEX || label->op == SILENCE_NOT_REGEX)
    &&  s_compile (label, error, error_size)) {
        mem_free (label->name);
        mem_free (label->value);
        memset (label, 0, sizeof *label);
        return -1;
    }
    return 0;
}

void
silence_label_free (silence_label_t *label)
{
    if (label->op == SILENCE_REGEX || label->op == SILENCE_NOT_REGEX)
        regfree (&label->regex);
    mem_free (label->name);
    mem_free (label->value);
    memset (label, 0, sizeof *label);
}

void
silence_label_format (const silence_label_t *label, char *buffer, size_t size)
{
    snprintf (buffer, size, "%s%s%s", label->name, s_op_texts [label->op], label->value);
}

//  The alert's value of label name, "" when it has none.
static const char *
s_label_value (const alert_t *alert, const char *name)
{
    for (size_t index = 0; index < alert->label_count; index++)
        if (strcmp (alert->labels [index].key, name) == 0)
            return alert->labels [index].value;
    return "";
}

bool
silence_label_matches (const silence_label_t *label, const char *value)
{
    switch (label->op) {
        case SILENCE_EQUAL:     return strcmp (value, label->value) == 0;
        case SILENCE_NOT_EQUAL: return strcmp (value, label->value) != 0;
        case SILENCE_REGEX:     return regexec (&label->regex, value, 0, NULL, 0) == 0;
        case SILENCE_NOT_REGEX: return regexec (&label->regex, value, 0, NULL, 0) != 0;
    }
    return false;
}

static bool
s_label_matches (const silence_label_t *label, const alert_t *alert)
{
    return silence_label_matches (label, s_label_value (alert, label->name));
}

//  --- the silence ---------------------------------------------------------------------

silence_t *
silence_new (void)
{
    return mem_alloc (sizeof (silence_t));
}

void
silence_destroy (silence_t **self_p)
{
    if (!*self_p)
        return;
    silence_t *self = *self_p;
    mem_free (self->source);
    mem_free (self->alert_id);
    mem_free (self->subject);
    for (size_t index = 0; index < self->label_count; index++)
        silence_label_free (&self->labels [index]);
    mem_free (self->labels);
    mem_free (self->by);
    mem_free (self->note);
    mem_free (self->expired_by);
    mem_free (self);
    *self_p = NULL;
}

const char *
silence_state (const silence_t *self, int64_t now)
{
    return now < self->starts ? "pending" : now < self->ends ? "active" : "expired";
}

bool
silence_live (const silence_t *self, int64_t now)
{
    return self->starts <= now && now < self->ends;
}

static bool
s_glob_matches (const char *glob, const char *text)
{
    return !glob || fnmatch (glob, text ? text : "", 0) == 0;
}

bool
silence_matches (const silence_t *self, const alert_t *alert)
{
    if (!s_glob_matches (self->source, alert->source)
    ||  !s_glob_matches (self->alert_id, alert->id)
    ||  !s_glob_matches (self->subject, alert->subject ? alert->subject : alert->source))
        return false;
    for (size_t index = 0; index < self->label_count; index++)
        if (!s_label_matches (&self->labels [index], alert))
            return false;
    return true;
}

//  --- decoding -------------------------------------------------------------------------

//  The label matchers: an array of strings.
static int
s_decode_labels (const msgpack_object *array, silence_t *self, char *error, size_t error_size)
{
    if (array->type != MSGPACK_OBJECT_ARRAY)
        return S_MALFORMED ("matchers.labels: not an array of strings");
    if (array->via.array.size > SILENCE_MAX_LABELS)
        return S_MALFORMED ("matchers.labels: more than %d", SILENCE_MAX_LABELS);
    self->labels = mem_alloc ((array->via.array.size + 1) * sizeof (silence_label_t));
    for (uint32_t index = 0; index < array->via.array.size; index++) {
        const msgpack_object *item = &array->via.array.ptr [index];
        size_t limit = WIRE_MAX_LABEL_KEY + 2 + WIRE_MAX_LABEL_VALUE;
        if (item->type != MSGPACK_OBJECT_STR || item->via.str.size > limit
        ||  memchr (item->via.str.ptr, 0, item->via.str.size))
            return S_MALFORMED ("matchers.labels[%u]: not a string of at most %zu bytes",
                                index, limit);
        char *text = s_strndup (item->via.str.ptr, item->via.str.size);
        int rc = silence_label_parse (text, &self->labels [index], error, error_size);
        mem_free (text);
        if (rc)
            return rc;
        self->label_count++;
    }
    return 0;
}

int
silence_matchers_decode (const msgpack_object *map, silence_t *self,
                         char *error, size_t error_size)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return S_MALFORMED ("matchers: required, a map {source?, id?, subject?, labels?}");
    int rc = wire_get_string (map, "source", WIRE_MAX_NAME, &self->source, error, error_size);
    if (rc == 0)
        rc = wire_get_string (map, "id", WIRE_MAX_NAME, &self->alert_id, error, error_size);
    if (rc == 0)
        rc = wire_get_string (map, "subject", WIRE_MAX_NAME, &self->subject, error, error_size);
    const msgpack_object *labels = wire_get (map, "labels");
    if (rc == 0 && labels && labels->type != MSGPACK_OBJECT_NIL)
        rc = s_decode_labels (labels, self, error, error_size);
    if (rc == 0 && !self->source && !self->alert_id && !self->subject && !self->label_count)
        rc = S_MALFORMED ("matchers: at least one of source, id, subject, labels");
    return rc;
}

//  The times and the seq.
static int
s_decode_numbers (const msgpack_object *map, silence_t *self, char *error, size_t error_size)
{
    bool starts = false, ends = false;
    int64_t seq = 0;
    int rc = wire_get_int (map, "starts", &starts, &self->starts, error, error_size);
    if (rc == 0)
        rc = wire_get_int (map, "ends", &ends, &self->ends, error, error_size);
    if (rc == 0)
        rc = wire_get_int (map, "created_at", NULL, &self->created_at, error, error_size);
    if (rc == 0)
        rc = wire_get_int (map, "seq", NULL, &seq, error, error_size);
    if (rc == 0 && (!starts || !ends || seq < 0))
        rc = S_MALFORMED ("starts and ends are required, seq not negative");
    self->seq = (uint64_t) seq;
    return rc;
}

silence_t *
silence_decode (const msgpack_object *map, char *error, size_t error_size)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP) {
        S_MALFORMED ("silence: not a map");
        return NULL;
    }
    silence_t *self = silence_new ();
    char *id = NULL, *state = NULL;
    int rc = wire_get_name (map, "id", &id, error, error_size);
    if (rc == 0 && (!id || !silence_id_valid (id)))
        rc = S_MALFORMED ("id: missing or not a UUID");
    if (rc == 0)
        snprintf (self->id, sizeof self->id, "%s", id);
    if (rc == 0)
        rc = silence_matchers_decode (wire_get (map, "matchers"), self, error, error_size);
    if (rc == 0)
        rc = s_decode_numbers (map, self, error, error_size);
    if (rc == 0)
        rc = wire_get_name (map, "by", &self->by, error, error_size);
    if (rc == 0)
        rc = wire_get_string (map, "note", WIRE_MAX_NOTE, &self->note, error, error_size);
    if (rc == 0)
        rc = wire_get_name (map, "expired_by", &self->expired_by, error, error_size);
    if (rc == 0)
        rc = wire_get_string (map, "state", sizeof self->announced - 1, &state, error, error_size);
    if (rc == 0 && state)
        snprintf (self->announced, sizeof self->announced, "%s", state);
    mem_free (id);
    mem_free (state);
    if (rc)
        silence_destroy (&self);
    return self;
}

//  --- packing ---------------------------------------------------------------------------

static void
s_pack_matchers (msgpack_packer *packer, const silence_t *self)
{
    wire_pack_key (packer, "matchers");
    msgpack_pack_map (packer, (self->source != NULL) + (self->alert_id != NULL)
                              + (self->subject != NULL) + (self->label_count > 0));
    if (self->source)
        wire_pack_key_string (packer, "source", self->source);
    if (self->alert_id)
        wire_pack_key_string (packer, "id", self->alert_id);
    if (self->subject)
        wire_pack_key_string (packer, "subject", self->subject);
    if (self->label_count) {
        wire_pack_key (packer, "labels");
        msgpack_pack_array (packer, self->label_count);
        for (size_t index = 0; index < self->label_count; index++) {
            char text [WIRE_MAX_LABEL_KEY + 2 + WIRE_MAX_LABEL_VALUE + 1];
            silence_label_format (&self->labels [index], text, sizeof text);
            wire_pack_string (packer, text);
        }
    }
}

void
silence_pack (msgpack_packer *packer, const silence_t *self, int64_t now)
{
    msgpack_pack_map (packer, 8 + (self->note != NULL) + (self->expired_by != NULL));
    wire_pack_key_string (packer, "id", self->id);
    s_pack_matchers (packer, self);
    wire_pack_key_int (packer, "starts", self->starts);
    wire_pack_key_int (packer, "ends", self->ends);
    wire_pack_key_int (packer, "created_at", self->created_at);
    wire_pack_key_string (packer, "by", self->by);
    if (self->note)
        wire_pack_key_string (packer, "note", self->note);
    if (self->expired_by)
        wire_pack_key_string (packer, "expired_by", self->expired_by);
    wire_pack_key (packer, "seq");
    msgpack_pack_uint64 (packer, self->seq);
    wire_pack_key_string (packer, "state", silence_state (self, now));
}

void
silence_change_pack (msgpack_packer *packer, uint64_t seq, int64_t at,
                     const silence_t *self, const epoch_t *epoch)
{
    msgpack_pack_map (packer, epoch ? 6 : 5);
    wire_pack_key_int (packer, "v", WIRE_VERSION);
    wire_pack_key (packer, "seq");
    msgpack_pack_uint64 (packer, seq);
    wire_pack_key_int (packer, "at", at);
    wire_pack_key_string (packer, "event", SILENCE_EVENT);
    wire_pack_key (packer, "silence");
    silence_pack (packer, self, at);
    if (epoch)
        epoch_pack (packer, epoch);
}

//  --- ids --------------------------------------------------------------------------------

int
silence_make_id (char id [SILENCE_ID_SIZE])
{
    uint8_t bytes [16];
    if (getrandom (bytes, sizeof bytes, 0) != (ssize_t) sizeof bytes)
        return -1;
    bytes [6] = (uint8_t) ((bytes [6] & 0x0f) | 0x40);     //  version 4
    bytes [8] = (uint8_t) ((bytes [8] & 0x3f) | 0x80);     //  the RFC 4122 variant
    char *out = id;
    for (int index = 0; index < 16; index++) {
        if (index == 4 || index == 6 || index == 8 || index == 10)
            *out++ = '-';
        out += sprintf (out, "%02x", bytes [index]);
    }
    return 0;
}

bool
silence_id_valid (const char *text)
{
    if (strlen (text) != SILENCE_ID_SIZE - 1)
        return false;
    for (int index = 0; index < SILENCE_ID_SIZE - 1; index++) {
        bool dash = index == 8 || index == 13 || index == 18 || index == 23;
        char c = text [index];
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}
