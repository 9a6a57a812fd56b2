/*  test_fuzz_corpus.c — replays the fuzz corpus and every crash found.

    Each file under tests/fuzz/corpus/NAME/ and tests/fuzz/crashes/NAME/ goes
    through the fuzz target NAME (tests/fuzz/targets.h) once, in this gcc
    build: a crash found by `make fuzz` and kept in crashes/ stays a
    regression case of `make test` (and of `make asan`, with sanitizers).
    One case per directory. Dot-files (.gitkeep) are skipped. The tree is
    read from $LILAC_FUZZ_DIR, default tests/fuzz (make runs tests from the
    repository root).
*/
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../check.h"
#include "../fuzz/targets.h"

#define REPLAY_MAX_INPUT   (1024 * 1024)   //  larger files are not fuzz inputs: fail

typedef int (target_fn) (const uint8_t *data, size_t size);

static const struct {
    const char *name;               //  directory name under corpus/ and crashes/
    target_fn *target;              //  what its files go through
} s_targets [] = {
    { "ingest", fuzz_ingest },
    { "control", fuzz_control },
    { "timespec", fuzz_timespec },
    { "json", fuzz_json },
    { "web_events", fuzz_web_events },
    { "web_purppura", fuzz_web_purppura },
    { "web_alertmanager", fuzz_web_alertmanager },
    { "web_act", fuzz_web_act },
    { "web_actions", fuzz_web_actions },
    { "web_silence", fuzz_web_silence },
    { "web_am_silence", fuzz_web_am_silence },
    { "web_forwarded", fuzz_web_forwarded },
};

//  Reads a whole file into a fresh buffer; NULL if unreadable or too large.
static uint8_t *
s_read_file (const char *path, size_t *size)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    uint8_t *data = malloc (REPLAY_MAX_INPUT + 1);
    size_t got = data ? fread (data, 1, REPLAY_MAX_INPUT + 1, file) : 0;
    bool failed = !data || ferror (file) || got > REPLAY_MAX_INPUT;
    fclose (file);
    if (failed) {
        free (data);
        return NULL;
    }
    *size = got;
    return data;
}

//  Runs every file of directory through target, as one case. A corpus
//  directory must hold files; a crash directory may be empty.
static void
s_replay (const char *root, const char *kind, const char *name, target_fn *target)
{
    //  check.h keeps the case name until the next TEST: one buffer per case.
    static char titles [2 * sizeof s_targets / sizeof s_targets [0]][128];
    static size_t cases = 0;
    char directory [512], *title = titles [cases++];
    snprintf (directory, sizeof directory, "%s/%s/%s", root, kind, name);
    DIR *handle = opendir (directory);
    size_t files = 0, unreadable = 0;
    if (handle) {
        struct dirent *entry;
        while ((entry = readdir (handle))) {
            if (entry->d_name [0] == '.')
                continue;
            char path [1024];
            snprintf (path, sizeof path, "%s/%s", directory, entry->d_name);
            size_t size = 0;
            uint8_t *data = s_read_file (path, &size);
            if (!data) {
                printf ("#   cannot read %s\n", path);
                unreadable++;
                continue;
            }
            //  A crash here is the finding: tests/run reports the binary's exit.
            target (data, size);
            free (data);
            files++;
        }
        closedir (handle);
    }
    snprintf (title, sizeof titles [0], "replays %zu %s %s files", files, name,
              strcmp (kind, "corpus") == 0 ? "corpus" : "crash");
    TEST (title);
    CHECK (handle != NULL, "cannot open %s", directory);
    CHECK (unreadable == 0, "%zu unreadable files in %s", unreadable, directory);
    if (strcmp (kind, "corpus") == 0)
        CHECK (files > 0, "%s is empty", directory);
}

int
main (void)
{
    const char *root = getenv ("LILAC_FUZZ_DIR");
    if (!root)
        root = "tests/fuzz";
    for (size_t index = 0; index < sizeof s_targets / sizeof s_targets [0]; index++) {
        s_replay (root, "corpus", s_targets [index].name, s_targets [index].target);
        s_replay (root, "crashes", s_targets [index].name, s_targets [index].target);
    }
    return check_done ();
}
