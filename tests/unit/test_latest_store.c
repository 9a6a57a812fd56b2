/*  test_latest_store.c — the agent's held alerts on disk (latest_store.c
    through latest_table_open_disk / latest_table_sync): every field comes
    back; times keep the wall moment they named ("+5m" stored 30 s before a
    restart is "+270000ms" after it); dirty flags survive; a process that
    dies without closing loses nothing it synced; max_alerts bounds a
    reload; one agent per directory; and a damaged file — garbage,
    truncated, or one row that does not decode — never stops a start: the
    note says what happened, what could be read is kept, the rest of the
    file is set aside, and the table keeps working.

    Each case works in a fresh directory under /tmp (mkdtemp).
*/
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../check.h"
#include "../../agent/latest_table.h"
#include "alert.h"
#include "mem.h"

#define WALL 1800000000000LL           //  a wall clock "now", ms
#define NOTE_SIZE 1024

//  What a flush handed over: counts, and web1's frame decoded against WALL.
typedef struct {
    size_t alerts;                 //  in all frames
    bool web2_raise_clear;         //  web2's first alert had raise=clear
    wire_batch_t web1;             //  web1's frame
    char web1_raise [64];          //  the raw raise spec of web1's first alert
    char tx [4][WIRE_TX_SIZE];     //  the tx of the first four frames
    int frames;                    //  frames received
    int64_t web1_age;              //  the age web1's alert carried, -1 if none
} received_t;

static int
s_receive (const void *frame, size_t size, void *arg)
{
    received_t *received = arg;
    char error [WIRE_ERROR_SIZE];
    wire_batch_t batch = WIRE_BATCH_EMPTY;
    if (!CHECK (wire_batch_decode (frame, size, WALL, &batch, error, sizeof error) == 0,
                "frame does not decode: %s", error)) {
        wire_batch_free (&batch);
        return -1;
    }
    received->alerts += batch.event_count;
    if (received->frames < 4)
        snprintf (received->tx [received->frames], WIRE_TX_SIZE, "%s", batch.tx);
    received->frames++;
    if (streq (batch.source, "web2"))
        received->web2_raise_clear = batch.events [0].raise_clear;
    wire_batch_free (&batch);
    wire_doc_t *doc = wire_doc_new (frame, size, error, sizeof error);
    const msgpack_object *root = doc ? wire_doc_root (doc) : NULL;
    char *source = NULL, *raise = NULL;
    const msgpack_object *alerts = root ? wire_get (root, "alerts") : NULL;
    if (root && wire_get_string (root, "source", 64, &source, error, sizeof error) == 0
    &&  source && streq (source, "web1")) {
        CHECK (wire_batch_decode (frame, size, WALL, &received->web1, error, sizeof error) == 0,
               "web1 frame: %s", error);
        if (alerts && alerts->via.array.size
        &&  wire_get_string (&alerts->via.array.ptr [0], "raise", 64, &raise, error, sizeof error) == 0
        &&  raise)
            snprintf (received->web1_raise, sizeof received->web1_raise, "%s", raise);
        bool present = false;
        if (alerts && alerts->via.array.size
        &&  (wire_get_int (&alerts->via.array.ptr [0], "age", &present, &received->web1_age,
                           error, sizeof error) || !present))
            received->web1_age = -1;
    }
    mem_free (source);
    mem_free (raise);
    wire_doc_destroy (&doc);
    return 0;
}

static char *
s_new_dir (void)
{
    char template [] = "/tmp/lilac-test-latest-store-XXXXXX";
    char *dir = mkdtemp (template);
    CHECK (dir != NULL, "mkdtemp: %s", strerror (errno));
    return dir ? mem_strdup (dir) : NULL;
}

static void
s_remove_dir (char *dir)
{
    char command [600];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    CHECK (system (command) == 0, "%s", command);
    mem_free (dir);
}

//  A table kept in dir, loaded at wall_now. NULL (and a failed CHECK) on error.
static latest_table_t *
s_open (const char *dir, size_t max_alerts, int64_t wall_now, char *note)
{
    latest_table_t *table = latest_table_new (max_alerts);
    char error [512];
    if (!CHECK (latest_table_open_disk (table, dir, wall_now, 0, note, NOTE_SIZE,
                                        error, sizeof error) == 0, "open_disk: %s", error))
        latest_table_destroy (&table);
    return table;
}

static int
s_sync (latest_table_t *table, int64_t wall_now)
{
    char error [512];
    int written = latest_table_sync (table, wall_now, 0, error, sizeof error);
    CHECK (written >= 0, "sync: %s", error);
    return written;
}

static void
s_put (latest_table_t *table, const char *source, const char *id, int64_t raise_in)
{
    char copy [64];
    snprintf (copy, sizeof copy, "%s", id);
    wire_event_t event = { .id = copy, .has_raise = true, .raise_at = WALL + raise_in,
                           .level = -1, .summary = (char *) "held" };
    CHECK (latest_table_put (table, source, &event, WALL, 0) == 0, "put %s/%s", source, id);
}

//  Fills dir with count alerts of source "web1" and closes it.
static void
s_fill (const char *dir, int count)
{
    char note [NOTE_SIZE], id [32];
    latest_table_t *table = s_open (dir, 100000, WALL, note);
    for (int index = 0; table && index < count; index++) {
        snprintf (id, sizeof id, "alert-%05d", index);
        s_put (table, "web1", id, 60000);
    }
    if (table)
        CHECK (s_sync (table, WALL) == count, "first sync of %d", count);
    latest_table_destroy (&table);
}

static void
s_round_trip (void)
{
    TEST ("every field comes back; +5m stored 30 s before the restart goes out as +270000ms");
    char *dir = s_new_dir ();
    char note [NOTE_SIZE];
    latest_table_t *table = s_open (dir, 100, WALL, note);
    if (!table) {
        s_remove_dir (dir);
        return;
    }
    CHECK (*note == 0, "note on a fresh directory: %s", note);
    wire_label_t labels [] = { { (char *) "team", (char *) "ops" }, { (char *) "dc", (char *) "ams" } };
    wire_event_t event = {
        .id = (char *) "disk", .has_raise = true, .raise_at = WALL + 300000,
        .has_clear = true, .clear_at = WALL + 3600000, .has_suppress = true,
        .suppress_until = WALL + 60000, .subject = (char *) "db1", .summary = (char *) "disk full",
        .detail = (char *) "line 1\nline 2", .level = LEVEL_URGENT, .has_labels = true,
        .labels = labels, .label_count = 2,
    };
    CHECK (latest_table_put (table, "web1", &event, WALL, 0) == 0, "put");
    wire_event_t cleared = { .id = (char *) "load", .has_raise = true, .raise_clear = true,
                             .raise_at = WALL, .level = -1 };
    CHECK (latest_table_put (table, "web2", &cleared, WALL, 0) == 0, "put");
    s_put (table, "web1", "gone", 0);
    CHECK (s_sync (table, WALL) == 3, "three rows written");
    CHECK (latest_table_remove (table, "web1", "gone"), "remove");
    CHECK (s_sync (table, WALL) == 1, "the removal written");
    CHECK (s_sync (table, WALL) == 0, "nothing left to write");
    latest_table_destroy (&table);

    //  Restart 30 s later (wall clock); monotonic time starts again at 0
    table = s_open (dir, 100, WALL + 30000, note);
    if (table) {
        CHECK (*note == 0, "note: %s", note);
        CHECK (latest_table_size (table) == 2, "%zu held", latest_table_size (table));
        CHECK (latest_table_dirty (table) == 2, "%zu dirty", latest_table_dirty (table));
        received_t received = { 0 };
        latest_table_flush (table, false, false, 0, s_receive, &received);
        CHECK (received.alerts == 2, "%zu alerts resent", received.alerts);
        CHECK (received.web2_raise_clear, "web2/load is not raise=clear");
        //  Held 30 s before the restart: its age counts them
        CHECK (received.web1_age == 30000, "age after a restart %lld", (long long) received.web1_age);
        CHECK (strcmp (received.web1_raise, "+270000ms") == 0, "raise +5m stored 30 s before"
               " went out as %s", received.web1_raise);
        wire_event_t *got = received.web1.event_count == 1 ? &received.web1.events [0] : NULL;
        if (CHECK (got, "no web1/disk")) {
            CHECK (got->raise_at == WALL + 270000, "raise_at %+lld", (long long) (got->raise_at - WALL));
            CHECK (got->clear_at == WALL + 3570000, "clear_at %+lld", (long long) (got->clear_at - WALL));
            CHECK (got->suppress_until == WALL + 30000, "suppress_until");
            CHECK (streq (got->subject, "db1") && streq (got->summary, "disk full")
                   && streq (got->detail, "line 1\nline 2"), "texts");
            CHECK (got->level == LEVEL_URGENT, "level %d", got->level);
            CHECK (got->has_labels && got->label_count == 2
                   && streq (got->labels [0].key, "dc") == !streq (got->labels [1].key, "dc"),
                   "labels");
        }
        wire_batch_free (&received.web1);
        CHECK (s_sync (table, WALL + 30000) == 0, "sent is not acknowledged: nothing to write");
        for (int frame = 0; frame < received.frames && frame < 4; frame++)
            CHECK (latest_table_acked (table, received.tx [frame]) == 1, "ack of frame %d", frame);
        CHECK (s_sync (table, WALL + 30000) == 2, "the clean flags not written");
        latest_table_destroy (&table);
    }
    table = s_open (dir, 100, WALL + 30000, note);
    if (table)
        CHECK (latest_table_dirty (table) == 0 && latest_table_size (table) == 2,
               "after a flush and a restart: %zu dirty of %zu", latest_table_dirty (table),
               latest_table_size (table));
    latest_table_destroy (&table);
    s_remove_dir (dir);
}

static void
s_crash (void)
{
    TEST ("a process that dies after a sync without closing anything loses nothing");
    char *dir = s_new_dir ();
    pid_t pid = fork ();
    if (pid == 0) {
        char note [NOTE_SIZE], error [512], id [32];
        latest_table_t *table = latest_table_new (1000);
        if (latest_table_open_disk (table, dir, WALL, 0, note, sizeof note, error, sizeof error))
            _exit (2);
        for (int index = 0; index < 500; index++) {
            snprintf (id, sizeof id, "crash-%03d", index);
            wire_event_t event = { .id = id, .has_raise = true, .raise_at = WALL, .level = -1 };
            if (latest_table_put (table, "web1", &event, WALL, 0))
                _exit (3);
            if (index % 50 == 49 && latest_table_sync (table, WALL, 0, error, sizeof error) < 0)
                _exit (4);
        }
        _exit (0);          //  no destroy, no close: as after kill -9
    }
    int status = 0;
    CHECK (pid > 0 && waitpid (pid, &status, 0) == pid && WIFEXITED (status)
           && WEXITSTATUS (status) == 0, "the child failed (status %d)", status);
    char note [NOTE_SIZE];
    latest_table_t *table = s_open (dir, 1000, WALL, note);
    if (table) {
        CHECK (latest_table_size (table) == 500, "%zu of 500 after the crash",
               latest_table_size (table));
        CHECK (*note == 0, "note: %s", note);
        latest_table_destroy (&table);
    }
    s_remove_dir (dir);
}

static void
s_bounds (void)
{
    TEST ("one agent per directory; a lower max_alerts drops the excess from the file");
    char *dir = s_new_dir ();
    s_fill (dir, 30);
    char note [NOTE_SIZE], error [512];
    latest_table_t *table = s_open (dir, 20, WALL, note);
    if (table) {
        CHECK (latest_table_size (table) == 20, "%zu held", latest_table_size (table));
        CHECK (strstr (note, "10 entries past max_alerts = 20 dropped") != NULL, "note: %s", note);
        latest_table_t *second = latest_table_new (20);
        CHECK (latest_table_open_disk (second, dir, WALL, 0, note, sizeof note,
                                       error, sizeof error) == -1, "a second table opened");
        CHECK (strstr (error, "in use by another lilac-agent (pid ") != NULL, "error: %s", error);
        latest_table_destroy (&second);
        CHECK (s_sync (table, WALL) == 10, "the ten dropped rows deleted");
        latest_table_destroy (&table);
    }
    table = s_open (dir, 100, WALL, note);
    if (table)
        CHECK (latest_table_size (table) == 20, "%zu in the file", latest_table_size (table));
    latest_table_destroy (&table);
    s_remove_dir (dir);
}

static bool
s_exists (const char *dir, const char *name)
{
    char path [600];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    return access (path, F_OK) == 0;
}

//  After damage: the table works, and a restart reads it back whole.
static void
s_still_works (latest_table_t *table, const char *dir, size_t expected)
{
    s_put (table, "web1", "after-damage", 0);
    CHECK (s_sync (table, WALL) >= 1, "no write after the damage");
    latest_table_destroy (&table);
    char note [NOTE_SIZE];
    table = s_open (dir, 100000, WALL, note);
    if (table) {
        CHECK (*note == 0, "still damaged: %s", note);
        CHECK (latest_table_size (table) == expected + 1, "%zu held after a restart, expected %zu",
               latest_table_size (table), expected + 1);
    }
    latest_table_destroy (&table);
}

static void
s_garbage (void)
{
    TEST ("a file that is not a database: set aside, start empty, say so, keep working");
    char *dir = s_new_dir ();
    char path [600], junk [8192];
    snprintf (path, sizeof path, "%s/latest.db", dir);
    memset (junk, 'x', sizeof junk);
    FILE *file = fopen (path, "w");
    CHECK (file && fwrite (junk, 1, sizeof junk, file) == sizeof junk && fclose (file) == 0,
           "write %s", path);
    char note [NOTE_SIZE];
    latest_table_t *table = s_open (dir, 100, WALL, note);
    if (table) {
        CHECK (strstr (note, "latest.db is damaged") != NULL, "note: '%s'", note);
        CHECK (latest_table_size (table) == 0, "%zu held", latest_table_size (table));
        CHECK (s_exists (dir, "latest.db.damaged"), "the damaged file was not kept aside");
        s_still_works (table, dir, 0);
    }
    s_remove_dir (dir);
}

static void
s_truncated (void)
{
    TEST ("a truncated file: keeps what it can read, says so, rewrites it, keeps working");
    char *dir = s_new_dir ();
    s_fill (dir, 2000);
    char path [600];
    snprintf (path, sizeof path, "%s/latest.db", dir);
    struct stat status;
    CHECK (stat (path, &status) == 0 && status.st_size > 65536, "the file is small: %lld",
           (long long) status.st_size);
    CHECK (truncate (path, status.st_size / 2) == 0, "truncate: %s", strerror (errno));
    char note [NOTE_SIZE];
    latest_table_t *table = s_open (dir, 100000, WALL, note);
    if (table) {
        size_t kept = latest_table_size (table);
        CHECK (strstr (note, "damaged") != NULL, "note: '%s'", note);
        CHECK (kept < 2000, "all 2000 back from half a file");
        fprintf (stderr, "# truncated to half: kept %zu of 2000: %s\n", kept, note);
        s_still_works (table, dir, kept);
    }
    s_remove_dir (dir);
}

static void
s_bad_row (void)
{
    TEST ("a row that does not decode: dropped and said; the others are kept");
    char *dir = s_new_dir ();
    s_fill (dir, 10);
    char path [600];
    snprintf (path, sizeof path, "%s/latest.db", dir);
    sqlite3 *db = NULL;
    CHECK (sqlite3_open (path, &db) == SQLITE_OK
           && sqlite3_exec (db, "UPDATE held SET frame = x'c1c1c1' WHERE id = 'alert-00003';"
                            "UPDATE held SET written_at = 'soon' WHERE id = 'alert-00004'",
                            NULL, NULL, NULL) == SQLITE_OK,
           "damage a row: %s", sqlite3_errmsg (db));
    CHECK (sqlite3_close (db) == SQLITE_OK, "close");
    char note [NOTE_SIZE];
    latest_table_t *table = s_open (dir, 100, WALL, note);
    if (table) {
        CHECK (strstr (note, "2 entries did not decode: dropped them, kept 8") != NULL,
               "note: '%s'", note);
        CHECK (latest_table_size (table) == 8, "%zu held", latest_table_size (table));
        s_still_works (table, dir, 8);
    }
    s_remove_dir (dir);
}

int
main (void)
{
    s_round_trip ();
    s_crash ();
    s_bounds ();
    s_garbage ();
    s_truncated ();
    s_bad_row ();
    return check_done ();
}
