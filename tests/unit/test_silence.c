/*  test_silence.c — proto/silence.c: label matchers (=, !=, =~, !~, anchored
    regexes, a bad regex refused with its reason, regexes too costly for
    glibc refused), globs on source, id and subject, the live window, and
    the codec round trip.
*/
#include <string.h>
#include "../check.h"
#include "mem.h"
#include "silence.h"
#include "wire.h"

static wire_label_t s_labels [] = {
    { .key = (char *) "env", .value = (char *) "production" },
    { .key = (char *) "team", .value = (char *) "db" },
};
static const alert_t s_alert = {
    .source = (char *) "web-01", .id = (char *) "disk-space-/",
    .labels = s_labels, .label_count = 2,
};

//  Does a silence with this one label matcher match s_alert?
static bool
s_label_matches (const char *text)
{
    silence_t *silence = silence_new ();
    silence->labels = mem_alloc (sizeof (silence_label_t));
    char error [WIRE_ERROR_SIZE] = "";
    bool parsed = silence_label_parse (text, &silence->labels [0], error, sizeof error) == 0;
    CHECK (parsed, "%s: %s", text, error);
    silence->label_count = parsed;
    bool matches = parsed && silence_matches (silence, &s_alert);
    silence_destroy (&silence);
    return matches;
}

static void
test_label_ops (void)
{
    TEST ("label matchers: =, !=, =~, !~; a missing label is the empty string");
    CHECK (s_label_matches ("env=production"), "=");
    CHECK (!s_label_matches ("env=prod"), "= is exact");
    CHECK (s_label_matches ("env!=staging"), "!=");
    CHECK (!s_label_matches ("env!=production"), "!= refuses the equal");
    CHECK (s_label_matches ("team=~d.|web"), "=~");
    CHECK (!s_label_matches ("team!~d.|web"), "!~");
    CHECK (s_label_matches ("team!~web.*"), "!~ matches what the regex does not");
    CHECK (s_label_matches ("zone="), "a missing label equals ''");
    CHECK (!s_label_matches ("zone=~.+"), "a missing label is not .+");
    CHECK (s_label_matches ("zone!=eu"), "a missing label differs from eu");
}

static void
test_anchoring (void)
{
    TEST ("regexes are anchored at both ends, and cannot escape the anchors");
    CHECK (!s_label_matches ("env=~prod"), "a prefix does not match");
    CHECK (!s_label_matches ("env=~duction"), "a suffix does not match");
    CHECK (s_label_matches ("env=~prod.*"), "the whole value");
    CHECK (!s_label_matches ("env=~x|prod"), "alternation inside the anchors");
    silence_label_t label;
    char error [WIRE_ERROR_SIZE] = "";
    CHECK (silence_label_parse ("env=~a)|(.*", &label, error, sizeof error) == -1,
           "a regex that closes the anchors' group is refused");
}

static void
test_refusals (void)
{
    TEST ("a bad matcher is refused with a reason");
    silence_label_t label;
    char error [WIRE_ERROR_SIZE] = "";
    CHECK (silence_label_parse ("env=~(unclosed", &label, error, sizeof error) == -1, "bad regex");
    CHECK (strstr (error, "bad regex") && strstr (error, "env=~(unclosed"), "%s", error);
    CHECK (silence_label_parse ("env!~[z-a]", &label, error, sizeof error) == -1, "bad range");
    CHECK (silence_label_parse ("=x", &label, error, sizeof error) == -1, "no name");
    CHECK (silence_label_parse ("env", &label, error, sizeof error) == -1, "no operator");
    CHECK (silence_label_parse ("env!x", &label, error, sizeof error) == -1, "! alone");
    CHECK (silence_label_parse ("env=a=b", &label, error, sizeof error) == 0
           && label.op == SILENCE_EQUAL && strcmp (label.value, "a=b") == 0, "= in the value");
    silence_label_free (&label);
}

static void
test_costly_regexes (void)
{
    TEST ("a regex whose repetitions multiply or nest deep, or with a back-reference, "
          "is refused");
    //  glibc's regcomp copies what a repetition repeats: "z" and 22 '+'
    //  took 3 GB, one more '+' doubles it; and its closures grow with the
    //  nesting: "d" and 40 '?' took seconds (found by make fuzz web_silence).
    static const char *const refused [] = {
        "env=~z++++++++++++++++++++++", "env=~((((((((((z+)+)+)+)+)+)+)+)+)+)",
        "env=~((a|b){1,40}){1,40}", "env=~.{1,5000}", "env=~x{99999999999999999999}",
        "env=~d????????????????????????????????????????", "env=~((((a*)*)*)*)*",
        "env=~(a*)*\\1", "env!~(x)\\1",
    };
    for (size_t index = 0; index < sizeof refused / sizeof refused [0]; index++) {
        silence_label_t label;
        char error [WIRE_ERROR_SIZE] = "";
        CHECK (silence_label_parse (refused [index], &label, error, sizeof error) == -1
               && strstr (error, "bad regex"), "%s: %s", refused [index], error);
    }
    static const char *const taken [] = {
        "env=~z++", "env=~((a|b)+(-[0-9]+)?)*", "env=~(a|b){1,100}",
        "env=~[[:alpha:]]+[]x]{2,5}(foo|bar)?",
        "env=~web[0-9]{1,3}\\.example\\.com", "env=~\\(x\\)", "env=~a{1,}",
    };
    for (size_t index = 0; index < sizeof taken / sizeof taken [0]; index++) {
        silence_label_t label;
        char error [WIRE_ERROR_SIZE] = "";
        CHECK (silence_label_parse (taken [index], &label, error, sizeof error) == 0,
               "%s: %s", taken [index], error);
        silence_label_free (&label);
    }
}

static void
test_globs (void)
{
    TEST ("globs on source, id and subject; subject defaults to the source; all must match");
    silence_t *silence = silence_new ();
    silence->source = mem_strdup ("web-*");
    CHECK (silence_matches (silence, &s_alert), "source glob");
    silence->alert_id = mem_strdup ("disk-*");
    CHECK (silence_matches (silence, &s_alert), "and id glob");
    silence->subject = mem_strdup ("web-0?");
    CHECK (silence_matches (silence, &s_alert), "subject is the source");
    alert_t other = s_alert;
    other.subject = (char *) "db-01";
    CHECK (!silence_matches (silence, &other), "subject set");
    other = s_alert;
    other.source = (char *) "db-01";
    other.subject = (char *) "web-01";
    CHECK (!silence_matches (silence, &other), "source differs");
    silence_destroy (&silence);
}

static void
test_codec (void)
{
    TEST ("a silence packs and decodes; the window; ids");
    silence_t *silence = silence_new ();
    CHECK (silence_make_id (silence->id) == 0 && silence_id_valid (silence->id), "%s", silence->id);
    CHECK (!silence_id_valid ("not-a-uuid"), "not a uuid");
    silence->source = mem_strdup ("web-*");
    silence->labels = mem_alloc (2 * sizeof (silence_label_t));
    char error [WIRE_ERROR_SIZE] = "";
    CHECK (silence_label_parse ("team!~web.*", &silence->labels [0], error, sizeof error) == 0, "%s", error);
    silence->label_count = 1;
    silence->starts = 1000;
    silence->ends = 2000;
    silence->by = mem_strdup ("alice");
    silence->note = mem_strdup ("upgrade");
    silence->seq = 7;
    CHECK (!silence_live (silence, 999) && silence_live (silence, 1000)
           && !silence_live (silence, 2000), "live from starts, not at ends");
    CHECK (strcmp (silence_state (silence, 1500), "active") == 0, "active");
    wire_writer_t writer;
    wire_writer_init (&writer);
    msgpack_pack_map (&writer.packer, 2);
    wire_pack_key_int (&writer.packer, "v", WIRE_VERSION);
    wire_pack_key (&writer.packer, "silence");
    silence_pack (&writer.packer, silence, 2500);
    wire_doc_t *doc = wire_doc_new (writer.buffer.data, writer.buffer.size, error, sizeof error);
    silence_t *back = doc ? silence_decode (wire_get (wire_doc_root (doc), "silence"),
                                            error, sizeof error) : NULL;
    CHECK (back, "%s", error);
    if (back) {
        CHECK (strcmp (back->id, silence->id) == 0 && back->starts == 1000 && back->ends == 2000
               && back->seq == 7 && strcmp (back->by, "alice") == 0
               && strcmp (back->note, "upgrade") == 0 && strcmp (back->source, "web-*") == 0
               && back->label_count == 1 && back->labels [0].op == SILENCE_NOT_REGEX
               && strcmp (back->announced, "expired") == 0, "round trip");
        CHECK (silence_matches (back, &s_alert), "the decoded regex works");
    }
    silence_destroy (&back);
    wire_doc_destroy (&doc);
    wire_writer_free (&writer);
    silence_destroy (&silence);
}

int
main (void)
{
    test_label_ops ();
    test_anchoring ();
    test_refusals ();
    test_costly_regexes ();
    test_globs ();
    test_codec ();
    return check_done ();
}
