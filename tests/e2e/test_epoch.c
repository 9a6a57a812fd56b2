/*  test_epoch.c — the broker's epoch (architecture §10), end to end.

    One broker, restarted in every way that matters, with `ping` read after
    each start:
    - a new database: a db id, epoch 1 from seq 1, and a boot id;
    - a clean stop and start: the same epoch, another boot;
    - kill -9 and start: the next epoch, beginning after the last seq;
    - changes carry the epoch they were published in;
    - `since` with another epoch answers "take a snapshot";
    - the database file deleted while stopped: a new db id;
    - an older copy of the database put back (a restored backup): a new db
      id, though the copy itself stopped cleanly;
    - the file deleted under the running broker: a fatal stop, logged.
*/
#include <signal.h>
#include "../check.h"
#include "../harness/harness.h"
#include "epoch.h"

//  ping's epoch and boot. 0, or -1 (printed).
static int
s_ping_epoch (broker_process_t *broker, epoch_t *epoch, char *boot, size_t boot_size)
{
    wire_doc_t *ping = control_ok (broker, "ping", ARG_END);
    if (!ping)
        return -1;
    bool present = false;
    char error [WIRE_ERROR_SIZE] = "";
    int rc = epoch_decode (wire_doc_root (ping), epoch, &present, error, sizeof error);
    const msgpack_object *id = reply_get (ping, "boot");
    if (boot && id && id->type == MSGPACK_OBJECT_STR)
        snprintf (boot, boot_size, "%.*s", (int) id->via.str.size, id->via.str.ptr);
    wire_doc_destroy (&ping);
    if (rc || !present || !id) {
        harness_note ("ping without a good epoch or boot: %s", error);
        return -1;
    }
    return 0;
}

static void
s_restarts (testbed_t *bed)
{
    epoch_t first, again;
    char boot [32] = "", boot_again [32] = "";
    TEST ("a new database: a db id, epoch 1 from seq 1, a boot id");
    CHECK (s_ping_epoch (bed->broker, &first, boot, sizeof boot) == 0, "ping");
    CHECK (strlen (first.db) == 16 && first.n == 1 && first.first == 1,
           "epoch %s/%" PRIu64 "@%" PRIu64, first.db, first.n, first.first);

    TEST ("changes carry their epoch");
    alert_change_t change;
    if (CHECK (testbed_raise (bed, "epoch-host", "one", &change) == 0, "raise")) {
        CHECK (epoch_equal (&change.epoch, &first), "the change's epoch %s/%" PRIu64,
               change.epoch.db, change.epoch.n);
        alert_change_free (&change);
    }

    TEST ("a clean stop and start: the same epoch, another boot");
    CHECK (broker_process_stop (bed->broker) == 0 && broker_process_start (bed->broker) == 0,
           "restart");
    CHECK (s_ping_epoch (bed->broker, &again, boot_again, sizeof boot_again) == 0, "ping");
    CHECK (epoch_equal (&again, &first), "epoch %s/%" PRIu64 "@%" PRIu64, again.db, again.n,
           again.first);
    CHECK (strcmp (boot, boot_again) != 0, "boot %s both times", boot);

    TEST ("kill -9 and start: the next epoch, after the last seq");
    CHECK (testbed_rejoin (bed) == 0 && testbed_raise (bed, "epoch-host", "two", NULL) == 0,
           "raise");
    int64_t seq = broker_process_stat (bed->broker, "seq");
    CHECK (broker_process_kill (bed->broker) == 0 && broker_process_start (bed->broker) == 0,
           "kill and start");
    CHECK (s_ping_epoch (bed->broker, &again, NULL, 0) == 0, "ping");
    CHECK (strcmp (again.db, first.db) == 0 && again.n == 2 && again.first == (uint64_t) seq + 1,
           "epoch %s/%" PRIu64 "@%" PRIu64 " after seq %" PRId64, again.db, again.n,
           again.first, seq);

    TEST ("since with another epoch: take a snapshot; with the current one: ok");
    wire_writer_t writer;
    wire_writer_init (&writer);
    for (int current = 0; current < 2; current++) {
        wire_writer_reset (&writer);
        msgpack_pack_map (&writer.packer, 4);
        wire_pack_key_int (&writer.packer, "v", 1);
        wire_pack_key_string (&writer.packer, "op", "since");
        wire_pack_key_int (&writer.packer, "seq", 1);
        epoch_pack (&writer.packer, current ? &again : &first);
        zframe_t *frame = control_raw (bed->broker, writer.buffer.data, writer.buffer.size, 3000);
        char error [WIRE_ERROR_SIZE];
        wire_doc_t *reply = frame ? wire_doc_new (zframe_data (frame), zframe_size (frame),
                                                  error, sizeof error) : NULL;
        const char *said = reply ? reply_error (reply) : NULL;
        if (current)
            CHECK (reply && reply_ok (reply), "since in the current epoch: %s", said ? said : "-");
        else
            CHECK (reply && !reply_ok (reply) && said && strstr (said, "take a snapshot"),
                   "since in the old epoch: %s", said ? said : "ok or nothing");
        wire_doc_destroy (&reply);
        zframe_destroy (&frame);
    }
    wire_writer_free (&writer);
}

//  Copies the file at from to to. 0 / -1.
static int
s_copy (const char *from, const char *to)
{
    char *text = NULL;
    size_t size = 0;
    FILE *in = fopen (from, "rb");
    if (!in)
        return -1;
    FILE *memory = open_memstream (&text, &size);
    char block [65536];
    size_t count;
    while (memory && (count = fread (block, 1, sizeof block, in)) > 0)
        fwrite (block, 1, count, memory);
    fclose (in);
    if (!memory)
        return -1;
    fclose (memory);
    FILE *out = fopen (to, "wb");
    int rc = out && fwrite (text, 1, size, out) == size ? 0 : -1;
    if (out && fclose (out))
        rc = -1;
    free (text);
    return rc;
}

static void
s_replaced (testbed_t *bed)
{
    const char *database = broker_process_database (bed->broker);
    char *backup = sandbox_path (bed->sandbox, "backup.db");
    epoch_t before, after;

    TEST ("an older copy of the database put back: a new db id");
    CHECK (s_ping_epoch (bed->broker, &before, NULL, 0) == 0, "ping");
    CHECK (broker_process_stop (bed->broker) == 0, "stop");
    CHECK (s_copy (database, backup) == 0, "copy");
    CHECK (broker_process_start (bed->broker) == 0 && testbed_rejoin (bed) == 0
           && testbed_raise (bed, "epoch-host", "three", NULL) == 0, "start and raise");
    CHECK (broker_process_stop (bed->broker) == 0, "stop");
    CHECK (s_copy (backup, database) == 0, "put the copy back");
    CHECK (broker_process_start (bed->broker) == 0, "start");
    CHECK (s_ping_epoch (bed->broker, &after, NULL, 0) == 0, "ping");
    CHECK (strlen (after.db) == 16 && strcmp (after.db, before.db) != 0,
           "db id %s before, %s after", before.db, after.db);

    TEST ("the database deleted while stopped: a new db id");
    before = after;
    CHECK (broker_process_stop (bed->broker) == 0, "stop");
    CHECK (unlink (database) == 0, "delete");
    CHECK (broker_process_start (bed->broker) == 0, "start");
    CHECK (s_ping_epoch (bed->broker, &after, NULL, 0) == 0, "ping");
    CHECK (strcmp (after.db, before.db) != 0 && after.n == 1,
           "db id %s before, %s/%" PRIu64 " after", before.db, after.db, after.n);

    TEST ("the database deleted under the running broker: a fatal stop, logged");
    CHECK (unlink (database) == 0, "delete");
    int status = -1;
    for (int waited = 0; waited < 5000 && broker_process_running (bed->broker); waited += 100)
        harness_pause_ms (100);
    status = broker_process_running (bed->broker) ? -1 : 0;
    CHECK (status == 0, "the broker still runs 5 s after its file was deleted");
    CHECK (file_has_text (broker_process_log (bed->broker), "deleted, replaced or taken over under the running broker"),
           "no log line says why");
    free (backup);
}

int
main (void)
{
    testbed_t *bed = testbed_new ("epoch", NULL);
    if (!bed) {
        TEST ("testbed");
        CHECK (false, "no testbed");
        return check_done ();
    }
    s_restarts (bed);
    s_replaced (bed);
    bool failed = check_case_failed;
    broker_process_destroy (&bed->broker, failed);      //  it stopped on purpose
    testbed_destroy (&bed, failed);
    return check_done ();
}
