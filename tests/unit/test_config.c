/*  test_config.c — the ZPL parser, its error positions, and the typed getters.

    Most cases parse text with config_parse() under a made-up file name, so
    every error message can be compared whole; config_load() is checked on a
    real temporary file and on a missing one.
*/
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../check.h"
#include "config.h"

//  Parses text that must fail; checks the whole error message.
static void
s_check_rejects (const char *text, const char *expected)
{
    char error [CONFIG_ERROR_SIZE] = "";
    config_t *config = config_parse (text, "test.conf", error, sizeof error);
    CHECK (config == NULL, "accepted: %s", text);
    CHECK (strcmp (error, expected) == 0, "error '%s', expected '%s'", error, expected);
    config_destroy (&config);
}

static const char *s_sample =
    "#   lilac broker, sample\n"
    "broker\n"
    "    ingest = tcp://127.0.0.1:32741     # PULL\n"
    "    database = \"var/lilac.db\"\n"
    "    grace = 5m\n"
    "    verbose = yes\n"
    "\n"
    "    limits\n"
    "        batch = 500\n"
    "        note = 'a # is not a comment here'\n"
    "        empty = \"\"\n"
    "    retention = 7d\n"
    "notifier\n"
    "    rule = first\n"
    "        level = urgent\n"
    "    rule = second\n"
    "  # an indented comment is still a comment\n"
    "last=1\r\n";

int
main (void)
{
    char error [CONFIG_ERROR_SIZE];

    TEST ("parse: nested sections, values, comments, order");
    config_t *config = config_parse (s_sample, "sample.conf", error, sizeof error);
    if (!CHECK (config, "parse failed: %s", error))
        return check_done ();
    CHECK (strcmp (config_value (config_locate (config, "broker/ingest")),
                   "tcp://127.0.0.1:32741") == 0, "bare value with comment: '%s'",
           config_value (config_locate (config, "broker/ingest")));
    CHECK (strcmp (config_value (config_locate (config, "broker/database")),
                   "var/lilac.db") == 0, "double quotes");
    CHECK (strcmp (config_value (config_locate (config, "broker/limits/note")),
                   "a # is not a comment here") == 0, "single quotes");
    CHECK (strcmp (config_value (config_locate (config, "broker/limits/empty")), "") == 0,
           "empty quotes");
    CHECK (strcmp (config_value (config_locate (config, "broker/limits")), "") == 0,
           "section without value");
    CHECK (strcmp (config_value (config_locate (config, "last")), "1") == 0,
           "no spaces around = and CRLF: '%s'", config_value (config_locate (config, "last")));
    CHECK (config_locate (config, "broker/nothing") == NULL, "missing path found");
    CHECK (config_locate (config, "broker/ingest/deeper") == NULL, "path below a leaf");
    CHECK (config_locate (config, "") == config, "empty path is self");

    config_t *limits = config_locate (config, "broker/limits");
    CHECK (limits && config_line (limits) == 8, "line of limits: %d", config_line (limits));
    CHECK (strcmp (config_file (limits), "sample.conf") == 0, "file: %s", config_file (limits));
    CHECK (config_line (config_locate (config, "last")) == 18, "line of last");
    CHECK (config_locate (limits, "batch") == config_locate (config, "broker/limits/batch"),
           "relative locate");

    const char *order [] = { "ingest", "database", "grace", "verbose", "limits", "retention" };
    config_t *child = config_child (config_locate (config, "broker"));
    for (size_t index = 0; index < 6; index++, child = config_next (child))
        CHECK (child && strcmp (config_name (child), order [index]) == 0,
               "child %zu is '%s'", index, child ? config_name (child) : "(none)");
    CHECK (child == NULL, "extra child");

    //  Repeated names stay, in order, each with its own children
    config_t *rule = config_child (config_locate (config, "notifier"));
    CHECK (rule && strcmp (config_value (rule), "first") == 0, "first rule");
    CHECK (strcmp (config_value (config_locate (rule, "level")), "urgent") == 0, "rule child");
    rule = config_next (rule);
    CHECK (rule && strcmp (config_value (rule), "second") == 0 && !config_child (rule),
           "second rule");

    TEST ("typed getters: good values and defaults");
    config_t *broker = config_locate (config, "broker");
    const char *text = NULL;
    CHECK (config_string (broker, "database", "x", &text) == 0
           && strcmp (text, "var/lilac.db") == 0, "string");
    CHECK (config_string (broker, "missing", "fallback", &text) == 0
           && strcmp (text, "fallback") == 0, "string default");
    int64_t ms = 0;
    CHECK (config_duration (broker, "grace", 1, &ms, error, sizeof error) == 0
           && ms == 300000, "duration %lld", (long long) ms);
    CHECK (config_duration (broker, "missing", 1234, &ms, error, sizeof error) == 0
           && ms == 1234, "duration default");
    int64_t number = 0;
    CHECK (config_integer (broker, "limits/batch", 1, 1, 10000, &number, error, sizeof error) == 0
           && number == 500, "integer %lld", (long long) number);
    CHECK (config_integer (broker, "limits/missing", 77, 1, 10, &number, error, sizeof error) == 0
           && number == 77, "integer default");
    bool flag = false;
    CHECK (config_boolean (broker, "verbose", false, &flag, error, sizeof error) == 0 && flag,
           "boolean");
    CHECK (config_boolean (broker, "missing", true, &flag, error, sizeof error) == 0 && flag,
           "boolean default");

    TEST ("typed getters: bad values name file:line: path");
    CHECK (config_duration (broker, "ingest", 0, &ms, error, sizeof error) == -1,
           "bad duration accepted");
    CHECK (strcmp (error, "sample.conf:3: broker/ingest: 'tcp://127.0.0.1:32741' is not a "
                          "duration (like 30s, 5m, 2h, 7d or 500ms)") == 0, "%s", error);
    CHECK (config_integer (config, "broker/grace", 0, 0, 10, &number, error, sizeof error) == -1,
           "bad integer accepted");
    CHECK (strcmp (error, "sample.conf:5: broker/grace: '5m' is not an integer") == 0,
           "%s", error);
    CHECK (config_integer (broker, "limits/batch", 0, 1, 100, &number, error, sizeof error) == -1,
           "out of range accepted");
    CHECK (strcmp (error, "sample.conf:9: broker/limits/batch: '500' is out of range "
                          "(1 to 100)") == 0, "%s", error);
    CHECK (config_boolean (broker, "limits/note", false, &flag, error, sizeof error) == -1,
           "bad boolean accepted");
    CHECK (strncmp (error, "sample.conf:10: broker/limits/note: 'a # is not", 47) == 0,
           "%s", error);
    CHECK (config_duration (broker, "limits", 0, &ms, error, sizeof error) == -1,
           "section without value taken as a duration");

    TEST ("typed getters: every boolean word, integer edges");
    config_t *words = config_parse (
        "a = yes\nb = no\nc = true\nd = false\ne = 1\nf = 0\ng = on\nh = off\n"
        "i = -9223372036854775808\nj = 9223372036854775807\nk = 9223372036854775808\n"
        "l = +5\nm = 5 \nn = -\n", "words.conf", error, sizeof error);
    if (CHECK (words, "%s", error)) {
        const char *names = "abcdefgh";
        for (int index = 0; names [index]; index++) {
            char path [2] = { names [index], 0 };
            flag = index % 2;
            CHECK (config_boolean (words, path, false, &flag, error, sizeof error) == 0
                   && flag == !(index % 2), "boolean %s", path);
        }
        CHECK (config_integer (words, "i", 0, INT64_MIN, INT64_MAX, &number, error,
                               sizeof error) == 0 && number == INT64_MIN, "INT64_MIN");
        CHECK (config_integer (words, "j", 0, INT64_MIN, INT64_MAX, &number, error,
                               sizeof error) == 0 && number == INT64_MAX, "INT64_MAX");
        CHECK (config_integer (words, "k", 0, INT64_MIN, INT64_MAX, &number, error,
                               sizeof error) == -1, "overflow accepted");
        CHECK (config_integer (words, "l", 0, INT64_MIN, INT64_MAX, &number, error,
                               sizeof error) == -1, "+5 accepted");
        CHECK (config_integer (words, "m", 0, 0, 10, &number, error, sizeof error) == 0
               && number == 5, "trailing blank of a bare value is dropped");
        CHECK (config_integer (words, "n", 0, INT64_MIN, INT64_MAX, &number, error,
                               sizeof error) == -1, "- accepted");
    }
    config_destroy (&words);

    TEST ("check_keys");
    const char *const known [] = { "ingest", "database", "grace", "verbose", "limits",
                                   "retention", NULL };
    CHECK (config_check_keys (broker, known, error, sizeof error) == 0, "%s", error);
    const char *const fewer [] = { "ingest", "database", "grace", NULL };
    CHECK (config_check_keys (broker, fewer, error, sizeof error) == -1, "unknown accepted");
    CHECK (strcmp (error, "sample.conf:6: unknown key 'verbose' in section 'broker'") == 0,
           "%s", error);
    const char *const batch_only [] = { "batch", "note", NULL };
    CHECK (config_check_keys (limits, batch_only, error, sizeof error) == -1, "unknown accepted");
    CHECK (strcmp (error, "sample.conf:11: unknown key 'empty' in section 'broker/limits'") == 0,
           "%s", error);
    const char *const top [] = { "broker", "notifier", NULL };
    CHECK (config_check_keys (config, top, error, sizeof error) == -1, "unknown accepted");
    CHECK (strcmp (error, "sample.conf:18: unknown key 'last' in section 'root'") == 0,
           "%s", error);
    config_destroy (&config);
    CHECK (config == NULL, "destroy did not clear the pointer");
    config_destroy (&config);           //  NULL is a no-op
    config_destroy (NULL);

    TEST ("check_keys: a key set twice is an error, a repeated section is not");
    config = config_parse ("broker\n    grace = 1s\n    grace = 2s\n"
                           "check = a\n    command = x\ncheck = b\n    command = y\n",
                           "twice.conf", error, sizeof error);
    if (CHECK (config, "parse: %s", error)) {
        const char *const keys [] = { "grace", NULL };
        CHECK (config_check_keys (config_locate (config, "broker"), keys, error, sizeof error) == -1,
               "duplicate key accepted");
        CHECK (strcmp (error, "twice.conf:3: 'grace' is set twice (first at line 2)") == 0,
               "%s", error);
        const char *const sections [] = { "broker", "check", NULL };
        CHECK (config_check_keys (config, sections, error, sizeof error) == 0, "%s", error);
        config_destroy (&config);
    }

    TEST ("syntax errors name file:line");
    s_check_rejects ("a\n\tb = 1\n", "test.conf:2: tab in indentation; indent with 4 spaces per level");
    s_check_rejects ("a\n  \tb = 1\n", "test.conf:2: tab in indentation; indent with 4 spaces per level");
    s_check_rejects ("a\n    b\n   c = 1\n", "test.conf:3: indentation of 3 spaces is not a multiple of 4");
    s_check_rejects ("a\n    b\n\n# x\n            c = 1\n",
                     "test.conf:5: indented more than one level deeper than 'b' (line 2)");
    s_check_rejects ("a = 1\nb\n        c = 1\n",
                     "test.conf:3: indented more than one level deeper than 'b' (line 2)");
    s_check_rejects ("    a = 1\n", "test.conf:1: indented, but there is no section above it");
    s_check_rejects ("a = \"open\n", "test.conf:1: missing closing \"");
    s_check_rejects ("a = 'open\n", "test.conf:1: missing closing '");
    s_check_rejects ("a = \"x\" y\n", "test.conf:1: unexpected text after the quoted value of 'a'");
    s_check_rejects ("a b\n", "test.conf:1: expected '=' or the end of the line after 'a', found 'b'");
    s_check_rejects ("x\n= 1\n", "test.conf:2: expected a name, found '='");
    s_check_rejects ("na!me = 1\n", "test.conf:1: expected '=' or the end of the line after 'na', found '!'");
    s_check_rejects ("\"a\" = 1\n", "test.conf:1: expected a name, found '\"'");

    TEST ("RFC 4 names and values");
    config = config_parse ("$a-b_c@d.e&f+g/h = 'x'\nz = \"it's\"  # quoted with the other quote\n"
                           "u = a  b   # inner blanks kept\n", "rfc.conf", error, sizeof error);
    if (CHECK (config, "%s", error)) {
        config_t *first = config_child (config);
        CHECK (strcmp (config_name (first), "$a-b_c@d.e&f+g/h") == 0, "name %s", config_name (first));
        CHECK (strcmp (config_value (config_locate (config, "z")), "it's") == 0, "z");
        CHECK (strcmp (config_value (config_locate (config, "u")), "a  b") == 0, "u: '%s'",
               config_value (config_locate (config, "u")));
    }
    config_destroy (&config);
    config = config_parse ("", "empty.conf", error, sizeof error);
    CHECK (config && config_child (config) == NULL, "empty text is an empty tree");
    config_destroy (&config);

    TEST ("deep nesting is bounded");
    char deep [64 * 200];
    size_t used = 0;
    for (int level = 0; level < 40; level++)
        used += (size_t) snprintf (deep + used, sizeof deep - used, "%*sn\n", level * 4, "");
    s_check_rejects (deep, "test.conf:33: nested deeper than 32 levels");

    TEST ("config_list_next: commas and white space separate, a long item is cut");
    {
        char item [8], joined [64] = "";
        for (const char *at = " alice,bob\t, ::1  127.0.0.1 ,";
             (at = config_list_next (at, item, sizeof item)); ) {
            strcat (joined, item);
            strcat (joined, "|");
        }
        CHECK (strcmp (joined, "alice|bob|::1|127.0.0|") == 0, "'%s'", joined);
        CHECK (config_list_next (" , ,", item, sizeof item) == NULL, "an empty list has items");
    }

    TEST ("config_load: a real file, a missing file, NUL bytes");
    char path [] = "/tmp/lilac-test-config-XXXXXX";
    int fd = mkstemp (path);
    if (CHECK (fd >= 0, "mkstemp")) {
        const char body [] = "broker\n    grace = 2h\n";
        CHECK (write (fd, body, sizeof body - 1) == (ssize_t) (sizeof body - 1), "write");
        close (fd);
        config = config_load (path, error, sizeof error);
        if (CHECK (config, "load: %s", error)) {
            CHECK (config_duration (config, "broker/grace", 0, &ms, error, sizeof error) == 0
                   && ms == 7200000, "grace");
            CHECK (strcmp (config_file (config_locate (config, "broker/grace")), path) == 0,
                   "file name kept");
        }
        config_destroy (&config);

        fd = open (path, O_WRONLY | O_TRUNC);
        if (CHECK (fd >= 0, "reopen")) {
            CHECK (write (fd, "a = 1\nb\0 = 2\n", 13) == 13, "write");
            close (fd);
            config = config_load (path, error, sizeof error);
            CHECK (config == NULL, "NUL byte accepted");
            char expected [128];
            snprintf (expected, sizeof expected, "%s:2: NUL byte in a text file", path);
            CHECK (strcmp (error, expected) == 0, "%s", error);
            config_destroy (&config);
        }
        unlink (path);
    }
    config = config_load ("/nonexistent/lilac.conf", error, sizeof error);
    CHECK (config == NULL, "missing file loaded");
    CHECK (strcmp (error, "/nonexistent/lilac.conf: No such file or directory") == 0, "%s", error);
    config = config_load ("/tmp", error, sizeof error);
    CHECK (config == NULL, "a directory loaded");
    CHECK (strcmp (error, "/tmp: Is a directory") == 0, "%s", error);

    return check_done ();
}
