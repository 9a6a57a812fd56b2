/*  test_hostile.c — hostile frames on the ingest and control sockets.

    The broker must reject, count and carry on: random bytes (fixed seed),
    mutated valid frames, a 300 KiB frame (libzmq drops it at 256 KiB),
    huge declared counts, 9-deep nesting, ext and bin types, invalid UTF-8,
    trailing bytes, over-long strings, wrong types, a map without alerts, a
    multi-frame message. Every hand-made bad ingest frame names source
    "hostile", so afterwards `list source=hostile` must be empty. The same
    kinds go to the control ROUTER from a DEALER (empty delimiter + bad
    frame): every reply must be a well-formed ok:false with an error (or
    there is none). Throughout, good traffic keeps working and `stats`
    counts `rejected`.
*/
#include <sys/stat.h>
#include "../check.h"
#include "../harness/harness.h"
#include "bus.h"
#include "timespec.h"

#define RANDOM_FRAMES   1500       //  random byte frames to ingest
#define MUTATED_FRAMES  500        //  valid frames with random bytes flipped
#define CONTROL_RANDOM  200        //  random byte frames to control
#define HUGE_FRAME      (300 * 1024)

//  Deterministic generator (xorshift32), so a failure can be replayed.
static uint32_t s_random_state = 0x2545F491;
static uint32_t
s_random (void)
{
    uint32_t x = s_random_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s_random_state = x;
    return x;
}

//  A list of hand-made bad frames.
typedef struct {
    const char *name;              //  what is wrong with it
    unsigned char *data;           //  the bytes (owned)
    size_t size;
} bad_frame_t;

#define MAX_BAD 64
static bad_frame_t s_bad [MAX_BAD];
static int s_bad_count;

static void
s_add_bytes (const char *name, const void *data, size_t size)
{
    assert (s_bad_count < MAX_BAD);
    bad_frame_t *frame = &s_bad [s_bad_count++];
    frame->name = name;
    frame->data = malloc (size? size: 1);
    assert (frame->data);
    if (size)
        memcpy (frame->data, data, size);
    frame->size = size;
}

static void
s_add_writer (const char *name, wire_writer_t *writer)
{
    s_add_bytes (name, writer->buffer.data, writer->buffer.size);
    wire_writer_reset (writer);
}

//  Packs the head of an ingest frame {v:1, source:"hostile", alerts:[ ONE ]}
//  and the key/value of the event up to the point where the caller packs
//  the bad part; the caller packs exactly `remaining` more map entries of
//  the event.
static void
s_pack_event_head (msgpack_packer *packer, const char *id, size_t fields)
{
    msgpack_pack_map (packer, 3);
    wire_pack_key_int (packer, "v", 1);
    wire_pack_key_string (packer, "source", "hostile");
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, 1);
    msgpack_pack_map (packer, fields + 1);
    wire_pack_key_string (packer, "id", id);
}

//  A raw string object of exactly these bytes (no UTF-8 check by us).
static void
s_pack_raw_string (msgpack_packer *packer, const char *bytes, size_t size)
{
    msgpack_pack_str (packer, size);
    msgpack_pack_str_body (packer, bytes, size);
}

static void
s_build_bad_frames (void)
{
    wire_writer_t writer;
    wire_writer_init (&writer);
    msgpack_packer *packer = &writer.packer;

    //  Huge declared counts, alone and inside a batch.
    s_add_bytes ("array32 declaring 0xff000000 elements", "\xdd\xff\x00\x00\x00", 5);
    s_add_bytes ("map32 declaring 0xffffffff pairs", "\xdf\xff\xff\xff\xff", 5);
    s_add_bytes ("str32 declaring 4 GiB", "\xdb\xff\xff\xff\xff" "abc", 8);
    s_add_bytes ("array16 declaring 65535, holding 1", "\xdc\xff\xff\x01", 4);
    msgpack_pack_map (packer, 3);
    wire_pack_key_int (packer, "v", 1);
    wire_pack_key_string (packer, "source", "hostile");
    wire_pack_key (packer, "alerts");
    msgpack_sbuffer_write (&writer.buffer, "\xdd\xff\x00\x00\x00", 5);
    s_add_writer ("alerts: array32 declaring 0xff000000", &writer);

    //  Nesting 9 deep: the root map, alerts, and 7 more arrays.
    msgpack_pack_map (packer, 3);
    wire_pack_key_int (packer, "v", 1);
    wire_pack_key_string (packer, "source", "hostile");
    wire_pack_key (packer, "alerts");
    for (int depth = 0; depth < 7; depth++)
        msgpack_pack_array (packer, 1);
    msgpack_pack_array (packer, 0);
    s_add_writer ("nesting 9 deep in alerts", &writer);
    for (int depth = 0; depth < 8; depth++)
        msgpack_pack_array (packer, 1);
    msgpack_pack_array (packer, 0);
    s_add_writer ("9 nested arrays", &writer);
    s_pack_event_head (packer, "deep", 1);
    wire_pack_key (packer, "labels");            //  depth 4
    msgpack_pack_map (packer, 1);
    wire_pack_string (packer, "k");
    for (int depth = 0; depth < 4; depth++)      //  depths 5..8
        msgpack_pack_array (packer, 1);
    msgpack_pack_map (packer, 0);                //  depth 9
    s_add_writer ("event with labels nested 9 deep", &writer);

    //  Ext and bin types.
    s_pack_event_head (packer, "ext", 1);
    wire_pack_key (packer, "raise");
    msgpack_sbuffer_write (&writer.buffer, "\xd4\x01\x00", 3);
    s_add_writer ("fixext1 as raise", &writer);
    s_pack_event_head (packer, "ext16", 1);
    wire_pack_key (packer, "summary");
    msgpack_sbuffer_write (&writer.buffer, "\xd8\x05" "0123456789abcdef", 18);
    s_add_writer ("fixext16 as summary", &writer);
    s_pack_event_head (packer, "ext8", 1);
    wire_pack_key (packer, "unknown-key");
    msgpack_sbuffer_write (&writer.buffer, "\xc7\x02\x07xy", 5);
    s_add_writer ("ext8 under an unknown key", &writer);
    s_pack_event_head (packer, "bin", 1);
    wire_pack_key (packer, "summary");
    msgpack_pack_bin (packer, 3);
    msgpack_pack_bin_body (packer, "abc", 3);
    s_add_writer ("bin8 as summary", &writer);

    //  Invalid UTF-8.
    s_pack_event_head (packer, "utf8-a", 1);
    wire_pack_key (packer, "summary");
    s_pack_raw_string (packer, "\xff\xfe", 2);
    s_add_writer ("summary \\xff\\xfe", &writer);
    s_pack_event_head (packer, "utf8-b", 1);
    wire_pack_key (packer, "summary");
    s_pack_raw_string (packer, "\xc0\xaf", 2);
    s_add_writer ("summary overlong '/'", &writer);
    s_pack_event_head (packer, "utf8-c", 1);
    wire_pack_key (packer, "detail");
    s_pack_raw_string (packer, "a\xed\xa0\x80z", 5);
    s_add_writer ("detail with a surrogate", &writer);
    s_pack_event_head (packer, "utf8-d", 1);
    wire_pack_key (packer, "subject");
    s_pack_raw_string (packer, "trunc\xe2\x82", 7);
    s_add_writer ("subject with a truncated sequence", &writer);
    msgpack_pack_map (packer, 3);
    wire_pack_key_int (packer, "v", 1);
    wire_pack_key (packer, "source");
    s_pack_raw_string (packer, "hostile\xff", 8);
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, 1);
    msgpack_pack_map (packer, 1);
    wire_pack_key_string (packer, "id", "utf8-source");
    s_add_writer ("source with \\xff", &writer);

    //  Trailing bytes and truncation.
    s_pack_event_head (packer, "trailing", 1);
    wire_pack_key_string (packer, "raise", "now");
    msgpack_sbuffer_write (&writer.buffer, "\xc0", 1);
    s_add_writer ("valid batch + one trailing byte", &writer);
    s_pack_event_head (packer, "truncated", 1);
    wire_pack_key_string (packer, "summary", "cut short");
    writer.buffer.size -= 3;
    s_add_writer ("valid batch cut 3 bytes short", &writer);

    //  Over-long strings and too many labels.
    char *long_text = malloc (WIRE_MAX_SUMMARY + 2);
    assert (long_text);
    memset (long_text, 'x', WIRE_MAX_SUMMARY + 1);
    long_text [WIRE_MAX_SUMMARY + 1] = 0;
    s_pack_event_head (packer, "long-summary", 1);
    wire_pack_key_string (packer, "summary", long_text);
    s_add_writer ("summary of 1025 bytes", &writer);
    free (long_text);
    char long_id [WIRE_MAX_NAME + 2];
    memset (long_id, 'i', sizeof long_id - 1);
    long_id [sizeof long_id - 1] = 0;
    s_pack_event_head (packer, long_id, 0);
    s_add_writer ("id of 256 bytes", &writer);
    s_pack_event_head (packer, "many-labels", 1);
    wire_pack_key (packer, "labels");
    msgpack_pack_map (packer, WIRE_MAX_LABELS + 1);
    for (int label = 0; label <= WIRE_MAX_LABELS; label++) {
        char key [16];
        snprintf (key, sizeof key, "k%d", label);
        wire_pack_string (packer, key);
        wire_pack_string (packer, "v");
    }
    s_add_writer ("33 labels", &writer);

    //  Wrong types and missing parts.
    msgpack_pack_map (packer, 2);
    wire_pack_key_int (packer, "v", 1);
    wire_pack_key_string (packer, "source", "hostile");
    s_add_writer ("a map without alerts", &writer);
    msgpack_pack_map (packer, 3);
    wire_pack_key_int (packer, "v", 1);
    wire_pack_key_string (packer, "source", "hostile");
    wire_pack_key_string (packer, "alerts", "all of them");
    s_add_writer ("alerts is a string", &writer);
    s_pack_event_head (packer, "bad-raise", 1);
    wire_pack_key_string (packer, "raise", "yesterday-ish");
    s_add_writer ("raise is not a time spec", &writer);
    s_pack_event_head (packer, "bad-level", 1);
    wire_pack_key_string (packer, "level", "apocalyptic");
    s_add_writer ("unknown level", &writer);
    s_pack_event_head (packer, "int-summary", 1);
    wire_pack_key_int (packer, "summary", 42);
    s_add_writer ("summary is an integer", &writer);
    msgpack_pack_map (packer, 3);
    wire_pack_key_int (packer, "v", 1);
    wire_pack_key_string (packer, "source", "hostile");
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, 1);
    msgpack_pack_map (packer, 1);
    wire_pack_key_int (packer, "id", 42);
    s_add_writer ("id is an integer", &writer);
    msgpack_pack_map (packer, 3);
    wire_pack_key_int (packer, "v", 2);
    wire_pack_key_string (packer, "source", "hostile");
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, 1);
    msgpack_pack_map (packer, 1);
    wire_pack_key_string (packer, "id", "v2");
    s_add_writer ("v is 2", &writer);
    msgpack_pack_map (packer, 2);
    wire_pack_key_string (packer, "source", "hostile");
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, 1);
    msgpack_pack_map (packer, 1);
    wire_pack_key_string (packer, "id", "no-v");
    s_add_writer ("no v", &writer);
    s_add_bytes ("nil", "\xc0", 1);
    s_add_bytes ("an array, not a map", "\x91\x01", 2);
    s_add_bytes ("reserved byte 0xc1", "\xc1", 1);
    wire_writer_free (&writer);
}

//  Test names carry the kind of broker they ran against.
static const char *s_broker_kind = "";

static const char *
s_named (const char *name)
{
    static char names [8][256];
    static int next;
    char *buffer = names [next++ % 8];
    snprintf (buffer, sizeof names [0], "%s%s", name, s_broker_kind);
    return buffer;
}

//  True once the good event (source "good", id) is published as raised.
static bool
s_good_event_works (testbed_t *bed, const char *id)
{
    alert_change_t change;
    if (ingest_event (bed->push, "good", id, "now") != 0
    ||  expect_change (bed->sub, "raised", "good", id, 10000, &change) != 0)
        return false;
    alert_change_free (&change);
    return true;
}

static void
s_ingest (testbed_t *bed)
{
    TEST (s_named ("hostile ingest: random, mutated and hand-made bad frames are rejected, good traffic flows"));
    int64_t rejected_before = broker_process_stat (bed->broker, "rejected");
    CHECK (rejected_before >= 0, "no rejected counter");
    int counted = 0;                //  bad frames that must be counted as rejected

    for (int frame = 0; frame < RANDOM_FRAMES; frame++) {
        unsigned char bytes [64];
        size_t size = 1 + s_random () % sizeof bytes;
        for (size_t index = 0; index < size; index++)
            bytes [index] = (unsigned char) s_random ();
        if (ingest_raw (bed->push, bytes, size) == 0)
            counted++;
    }
    //  Mutations of a valid frame may still be valid, so they are not
    //  counted; they use their own source and are not checked afterwards.
    event_spec_t event = { .id = "m", .raise = "+1h", .summary = "mutate me", .level = "low" };
    batch_spec_t batch = { .source = "mutant", .tx = "mutant-tx", .events = &event, .event_count = 1 };
    wire_writer_t valid;
    wire_writer_init (&valid);
    batch_pack (&valid, &batch);
    for (int frame = 0; frame < MUTATED_FRAMES; frame++) {
        unsigned char bytes [256];
        size_t size = valid.buffer.size < sizeof bytes? valid.buffer.size: sizeof bytes;
        memcpy (bytes, valid.buffer.data, size);
        int flips = 1 + (int) (s_random () % 3);
        for (int flip = 0; flip < flips; flip++)
            bytes [s_random () % size] = (unsigned char) s_random ();
        ingest_raw (bed->push, bytes, size);
    }
    wire_writer_free (&valid);

    for (int index = 0; index < s_bad_count; index++)
        if (CHECK (ingest_raw (bed->push, s_bad [index].data, s_bad [index].size) == 0,
                   "send '%s'", s_bad [index].name))
            counted++;

    //  A two-frame message: ingest is one frame per batch.
    wire_writer_t part;
    wire_writer_init (&part);
    event_spec_t multi = { .id = "multi", .raise = "now" };
    batch_spec_t multi_batch = { .source = "hostile-multi", .events = &multi, .event_count = 1 };
    batch_pack (&part, &multi_batch);
    CHECK (zmq_send (zsock_resolve (bed->push), part.buffer.data, part.buffer.size, ZMQ_SNDMORE) != -1
       &&  zmq_send (zsock_resolve (bed->push), part.buffer.data, part.buffer.size, 0) != -1,
           "send multi-frame");

    //  300 KiB on a connection of its own: libzmq drops the frame and the
    //  connection at 256 KiB, which must not disturb the other peers.
    zsock_t *big_push = ingest_open (bed->broker);
    char *huge_detail = malloc (HUGE_FRAME + 1);
    assert (huge_detail);
    memset (huge_detail, 'h', HUGE_FRAME);
    huge_detail [HUGE_FRAME] = 0;
    wire_writer_reset (&part);
    s_pack_event_head (&part.packer, "huge", 2);
    wire_pack_key_string (&part.packer, "raise", "now");
    wire_pack_key_string (&part.packer, "detail", huge_detail);
    free (huge_detail);
    CHECK (big_push && ingest_raw (big_push, part.buffer.data, part.buffer.size) == 0, "send 300 KiB");
    wire_writer_free (&part);

    //  Frames on one connection arrive in order: once the good event after
    //  them is published, every bad frame before it has been handled.
    CHECK (s_good_event_works (bed, "after-ingest"), "a good event after the bad frames was not applied");
    CHECK (broker_process_running (bed->broker), "the broker died");
    int64_t rejected = broker_process_stat (bed->broker, "rejected");
    CHECK (rejected - rejected_before >= counted, "rejected grew by %lld, %d bad frames were sent",
           (long long) (rejected - rejected_before), counted);
    harness_note ("rejected +%lld for %d counted bad frames (+%d mutated, multi-frame, 300 KiB)",
                  (long long) (rejected - rejected_before), counted, MUTATED_FRAMES);
    wire_doc_t *reply = control_ok (bed->broker, "list", ARG_STR ("source", "hostile"), ARG_END);
    if (CHECK (reply, "list refused"))
        CHECK (reply_int (reply, "count", -1) == 0, "%lld alerts from bad frames were applied",
               (long long) reply_int (reply, "count", -1));
    const msgpack_object *alerts = reply_get (reply, "alerts");
    if (alerts && alerts->type == MSGPACK_OBJECT_ARRAY)
        for (uint32_t index = 0; index < alerts->via.array.size; index++) {
            alert_t alert;
            char error [WIRE_ERROR_SIZE];
            if (alert_decode (&alerts->via.array.ptr [index], &alert, error, sizeof error) == 0) {
                harness_note ("applied from a bad frame: hostile/%s", alert.id);
                alert_clear_fields (&alert);
            }
        }
    wire_doc_destroy (&reply);
    zsock_destroy (&big_push);
    CHECK (s_good_event_works (bed, "after-huge"), "a good event after the 300 KiB frame was not applied");
}

//  Reads replies on the dealer until quiet for quiet_ms (at most max
//  replies). Counts replies that are not a well-formed {v:1, ok:false,
//  error:"..."} in *bad, replies in *count.
static void
s_drain_replies (zsock_t *dealer, int quiet_ms, int max, int *count, int *bad)
{
    for (int index = 0; index < max; index++) {
        zmq_pollitem_t item = { zsock_resolve (dealer), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, quiet_ms) <= 0)
            return;
        zmsg_t *message = zmsg_recv (dealer);
        if (!message)
            return;
        (*count)++;
        zframe_t *body = zmsg_last (message);
        char error [WIRE_ERROR_SIZE];
        wire_doc_t *doc = body? wire_doc_new (zframe_data (body), zframe_size (body),
                                              error, sizeof error): NULL;
        const char *text = doc? reply_error (doc): NULL;
        if (!doc || reply_ok (doc) || !text || !*text) {
            (*bad)++;
            harness_note ("control reply %d: %s", *count,
                          !doc? error: reply_ok (doc)? "ok is true": "no error text");
        }
        wire_doc_destroy (&doc);
        zmsg_destroy (&message);
    }
}

static void
s_control (testbed_t *bed)
{
    TEST (s_named ("hostile control: bad requests get ok:false with an error, or nothing; never a crash"));
    char error [256];
    zsock_t *dealer = bus_open (ZMQ_DEALER, broker_process_control (bed->broker), BUS_CONNECT,
                                error, sizeof error);
    if (!CHECK (dealer, "dealer: %s", error))
        return;
    zsock_set_sndtimeo (dealer, 2000);
    void *handle = zsock_resolve (dealer);
    int sent = 0;
    for (int frame = 0; frame < CONTROL_RANDOM; frame++) {
        unsigned char bytes [64];
        size_t size = 1 + s_random () % sizeof bytes;
        for (size_t index = 0; index < size; index++)
            bytes [index] = (unsigned char) s_random ();
        if (zmq_send (handle, "", 0, ZMQ_SNDMORE) != -1 && zmq_send (handle, bytes, size, 0) != -1)
            sent++;
    }
    for (int index = 0; index < s_bad_count; index++)
        if (zmq_send (handle, "", 0, ZMQ_SNDMORE) != -1
        &&  zmq_send (handle, s_bad [index].data, s_bad [index].size, 0) != -1)
            sent++;
    //  No empty delimiter, and an empty frame alone.
    zmq_send (handle, "\xdf\xff\xff\xff\xff", 5, 0);
    zmq_send (handle, "", 0, 0);
    //  Three frames: delimiter, garbage, garbage.
    zmq_send (handle, "", 0, ZMQ_SNDMORE);
    zmq_send (handle, "\xdd\xff\x00\x00\x00", 5, ZMQ_SNDMORE);
    zmq_send (handle, "\xc1", 1, 0);
    int replies = 0, bad = 0;
    s_drain_replies (dealer, 1000, sent + 10, &replies, &bad);
    CHECK (bad == 0, "%d of %d replies to bad requests were not ok:false with an error", bad, replies);
    harness_note ("control: %d replies to %d bad requests", replies, sent + 3);
    zsock_destroy (&dealer);

    //  300 KiB request on a connection of its own.
    dealer = bus_open (ZMQ_DEALER, broker_process_control (bed->broker), BUS_CONNECT, error, sizeof error);
    if (CHECK (dealer, "dealer: %s", error)) {
        char *huge = calloc (1, HUGE_FRAME);
        assert (huge);
        zmq_send (zsock_resolve (dealer), "", 0, ZMQ_SNDMORE);
        zmq_send (zsock_resolve (dealer), huge, HUGE_FRAME, 0);
        free (huge);
        replies = 0, bad = 0;
        s_drain_replies (dealer, 300, 4, &replies, &bad);
        CHECK (bad == 0, "a reply to the 300 KiB request was not ok:false");
        zsock_destroy (&dealer);
    }
    CHECK (broker_process_running (bed->broker), "the broker died");
    wire_doc_t *ping = control_ok (bed->broker, "ping", ARG_END);
    CHECK (ping, "ping after bad control requests");
    wire_doc_destroy (&ping);
    CHECK (s_good_event_works (bed, "after-control"), "a good event after bad control requests");

    TEST (s_named ("control: an unknown op or a bad argument gets ok:false and an error text"));
    struct {
        const char *name;
        wire_doc_t *reply;
    } cases [] = {
        { "unknown op", control_call (bed->broker, "frobnicate", ARG_END) },
        { "get without arguments", control_call (bed->broker, "get", ARG_END) },
        { "get with an integer id", control_call (bed->broker, "get", ARG_STR ("source", "good"),
                                                  ARG_INT ("id", 7), ARG_END) },
        { "ack without by", control_call (bed->broker, "ack", ARG_STR ("source", "good"),
                                          ARG_STR ("id", "after-ingest"), ARG_END) },
        { "ack with a bad until", control_call (bed->broker, "ack", ARG_STR ("source", "good"),
                                                ARG_STR ("id", "after-ingest"), ARG_STR ("by", "x"),
                                                ARG_STR ("until", "soonish"), ARG_END) },
        { "suppress with a bad until", control_call (bed->broker, "suppress", ARG_STR ("source", "good"),
                                                     ARG_STR ("id", "after-ingest"),
                                                     ARG_STR ("until", "later"), ARG_END) },
        { "since with a string seq", control_call (bed->broker, "since", ARG_STR ("seq", "abc"), ARG_END) },
        { "list with limit -1", control_call (bed->broker, "list", ARG_INT ("limit", -1), ARG_END) },
        { "list with an integer state", control_call (bed->broker, "list", ARG_INT ("state", 3), ARG_END) },
        { "snapshot with a string cursor", control_call (bed->broker, "snapshot",
                                                         ARG_STR ("cursor", "x"), ARG_END) },
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        if (CHECK (cases [index].reply, "%s: no reply", cases [index].name)) {
            const char *text = reply_error (cases [index].reply);
            CHECK (!reply_ok (cases [index].reply), "%s: ok is true", cases [index].name);
            CHECK (text && *text, "%s: no error text", cases [index].name);
        }
        wire_doc_destroy (&cases [index].reply);
    }
    //  {op: "ping"} without v, and op of the wrong type, through bus_call.
    wire_writer_t writer;
    wire_writer_init (&writer);
    msgpack_pack_map (&writer.packer, 1);
    wire_pack_key_string (&writer.packer, "op", "ping");
    zframe_t *raw = control_raw (bed->broker, writer.buffer.data, writer.buffer.size, 2000);
    if (raw) {
        wire_doc_t *doc = wire_doc_new (zframe_data (raw), zframe_size (raw), error, sizeof error);
        CHECK (doc && !reply_ok (doc), "a request without v was answered ok");
        wire_doc_destroy (&doc);
        zframe_destroy (&raw);
    }
    wire_writer_reset (&writer);
    msgpack_pack_map (&writer.packer, 2);
    wire_pack_key_int (&writer.packer, "v", 1);
    wire_pack_key_int (&writer.packer, "op", 42);
    raw = control_raw (bed->broker, writer.buffer.data, writer.buffer.size, 2000);
    if (CHECK (raw, "no reply to an integer op")) {
        wire_doc_t *doc = wire_doc_new (zframe_data (raw), zframe_size (raw), error, sizeof error);
        CHECK (doc && !reply_ok (doc) && reply_error (doc), "an integer op was not refused with an error");
        wire_doc_destroy (&doc);
        zframe_destroy (&raw);
    }
    wire_writer_free (&writer);
    //  The 300 KiB ingest frame went on its own connection, so nothing
    //  orders it with the good events; by now (seconds later) it would
    //  have been applied if libzmq had let it through.
    alert_t row;
    if (control_get_alert (bed->broker, "hostile", "huge", &row) == 0) {
        CHECK (false, "the 300 KiB ingest frame was applied");
        alert_clear_fields (&row);
    }
    int64_t control_errors = broker_process_stat (bed->broker, "control_errors");
    CHECK (control_errors > 0, "stats control_errors is %lld", (long long) control_errors);
}

//  One run of every case against a broker made with config.
static void
s_run (const broker_process_config_t *config)
{
    testbed_t *bed = testbed_new ("hostile", config);
    if (!bed) {
        TEST (s_named ("hostile: testbed starts"));
        CHECK (false, "broker did not start");
        return;
    }
    s_ingest (bed);
    s_control (bed);
    TEST (s_named ("hostile: seq strictly increasing on the bus; broker exits 0 on SIGTERM"));
    CHECK (subscriber_seq_errors (bed->sub) == 0, "seq not strictly increasing on the bus");
    CHECK (testbed_destroy (&bed, check_failed > 0 || check_case_failed) == 0,
           "broker did not exit cleanly");
}

//  Makes keys with the real `lilac keygen` in dir: the broker's, a relay
//  (it may send for the sources these frames claim) and an admin (control
//  calls), and allows the two clients. false when any step failed.
static bool
s_make_keys (const char *dir)
{
    char clients [600];
    snprintf (clients, sizeof clients, "%s/clients", dir);
    const char *const commands [][8] = {
        { "keygen", "--server", "-d", dir, NULL },
        { "keygen", "relay", "--role", "relay", "-d", dir, NULL },
        { "keygen", "admin", "--role", "admin", "-d", dir, NULL },
    };
    if (mkdir (clients, 0700))
        return false;
    for (int index = 0; index < 3; index++) {
        cli_result_t result;
        const char *const *argv = commands [index];
        cli_run (dir, 10000, &result, argv [0], argv [1], argv [2], argv [3], argv [4],
                 argv [5], argv [6], NULL);
        bool ok = result.status == 0;
        if (!ok)
            harness_note ("%s %s: %s", argv [0], argv [1], result.err);
        cli_result_free (&result);
        if (!ok)
            return false;
    }
    //  The clients directory holds their public certificates.
    const char *const names [] = { "relay", "admin" };
    for (int index = 0; index < 2; index++) {
        char from [700], to [700];
        snprintf (from, sizeof from, "%s/%s", dir, names [index]);
        snprintf (to, sizeof to, "%s/%s", clients, names [index]);
        char *text = file_read_all (from);
        bool ok = text && *text && file_write_text (to, text) == 0;
        free (text);
        if (!ok)
            return false;
    }
    return true;
}

int
main (void)
{
    s_build_bad_frames ();
    broker_process_config_t config = { .reminder_interval = "1h", .grace = "2s", .checkpoint = "500ms" };
    s_run (&config);

    //  The same frames against a broker with CURVE on every socket, sent by
    //  clients it knows: what passes the handshake must still be checked.
    s_broker_kind = " (secured broker)";
    sandbox_t *keys = sandbox_new ("hostile-keys");
    char dir [512] = "", cert [700], relay [700], admin [700], server [700], clients [700];
    if (keys)
        snprintf (dir, sizeof dir, "%s", sandbox_dir (keys));
    TEST (s_named ("hostile: keys from lilac keygen"));
    bool keyed = CHECK (keys && s_make_keys (dir), "keygen failed");
    snprintf (cert, sizeof cert, "%s/broker_secret", dir);
    snprintf (server, sizeof server, "%s/broker", dir);
    snprintf (relay, sizeof relay, "%s/relay_secret", dir);
    snprintf (admin, sizeof admin, "%s/admin_secret", dir);
    snprintf (clients, sizeof clients, "%s/clients", dir);
    if (keyed) {
        config.security_cert = cert;
        config.security_clients = clients;
        harness_secure (relay, admin, server);
        s_run (&config);
        harness_secure (NULL, NULL, NULL);
    }
    sandbox_destroy (&keys, check_failed > 0);
    for (int index = 0; index < s_bad_count; index++)
        free (s_bad [index].data);
    return check_done ();
}
