/*  test_ingest_map.c — web/ingest_map.c: JSON bodies into ingest frames,
    read back with the broker's own decoder (wire_batch_decode), and
    http_unescape, the per-segment decoder of lilac-web's paths.
*/
#include <string.h>
#include "../check.h"
#include "../../web/http.h"
#include "../../web/ingest_map.h"
#include "alert.h"
#include "wire.h"

#define NOW_MS  INT64_C(1795000000000)

static const ingest_map_options_t s_options = {
    .peer = "192.0.2.7", .tx = "tx-1", .source_label = "instance"
};

typedef int (map_fn) (const char *text, size_t size, const ingest_map_options_t *options,
                      ingest_map_t *out, char *error, size_t error_size);

//  Maps text; 0 with batch decoded from frame `which`, or the mapper's rc.
static int
s_map (map_fn *map, const char *text, ingest_map_t *out, size_t which, wire_batch_t *batch,
       char *error, size_t error_size)
{
    ingest_map_init (out);
    int rc = map (text, strlen (text), &s_options, out, error, error_size);
    if (rc || which >= out->batch_count)
        return rc ? rc : -1;
    ingest_map_batch_t *frame = &out->batches [which];
    return wire_batch_decode (frame->frame.buffer.data, frame->frame.buffer.size, NOW_MS,
                              batch, error, error_size);
}

static void
test_events (void)
{
    TEST ("/api/events: every field maps; source and tx default to the peer and the given tx");
    ingest_map_t map;
    wire_batch_t batch = WIRE_BATCH_EMPTY;
    char error [WIRE_ERROR_SIZE] = "";
    int rc = s_map (ingest_map_events, "{\"replace\":true,\"alerts\":[{\"id\":\"disk\","
                    "\"raise\":\"+5m\",\"clear\":1795000600,\"suppress\":null,\"subject\":\"db1\","
                    "\"summary\":\"full\",\"detail\":\"d\",\"level\":\"urgent\",\"labels\":"
                    "{\"team\":\"ops\"},\"unknown\":[1]}]}", &map, 0, &batch, error, sizeof error);
    if (CHECK (rc == 0, "rc %d: %s", rc, error)) {
        CHECK (strcmp (batch.source, "192.0.2.7") == 0 && strcmp (batch.tx, "tx-1") == 0
               && batch.replace && batch.event_count == 1, "batch %s %s", batch.source, batch.tx);
        wire_event_t *event = &batch.events [0];
        CHECK (strcmp (event->id, "disk") == 0 && event->raise_at == NOW_MS + 300000
               && event->clear_at == INT64_C (1795000600000) && !event->has_suppress
               && strcmp (event->subject, "db1") == 0 && strcmp (event->summary, "full") == 0
               && strcmp (event->detail, "d") == 0 && event->level == LEVEL_URGENT
               && event->label_count == 1 && strcmp (event->labels [0].value, "ops") == 0,
               "event %s", event->id);
    }
    ingest_map_free (&map);
    rc = s_map (ingest_map_events, "{\"source\":\"web1\",\"tx\":\"mine\",\"alerts\":[{\"id\":\"a\"}]}",
                &map, 0, &batch, error, sizeof error);
    CHECK (rc == 0 && strcmp (batch.source, "web1") == 0 && strcmp (batch.tx, "mine") == 0
           && batch.event_count == 1, "rc %d %s", rc, error);
    ingest_map_free (&map);

    TEST ("/api/events: not JSON, wrong types, too deep, over-long fields: a reason with the place");
    static const struct { const char *body, *reason; } bad [] = {
        { "{\"alerts\":[", "not valid JSON" },
        { "[]", "must be a JSON object" },
        { "{}", "alerts: missing" },
        { "{\"alerts\":[]}", "alerts: empty" },
        { "{\"alerts\":{}}", "alerts: not an array" },
        { "{\"alerts\":[{\"id\":5}]}", "alerts[0].id: not a string" },
        { "{\"alerts\":[1]}", "alerts[0]: not an object" },
        { "{\"alerts\":[{\"id\":\"a\",\"raise\":1.5}]}", "alerts[0].raise: a time spec" },
        { "{\"alerts\":[{\"id\":\"a\",\"labels\":{\"k\":1}}]}", "alerts[0].labels.k: not a string" },
        { "{\"replace\":1,\"alerts\":[{\"id\":\"a\"}]}", "replace: not true or false" },
        { "{\"source\":\"\",\"alerts\":[{\"id\":\"a\"}]}", "source: must be 1-255 bytes" },
        { "{\"alerts\":[{\"id\":\"a\"}],\"x\":[[[[[[[[1]]]]]]]]}", "nested deeper than 8" },
        { "{\"alerts\":[{\"id\":\"a\\u0000b\"}]}", "not valid JSON" },
        { "{\"a\":1,\"a\":2,\"alerts\":[]}", "not valid JSON" },
        { "{\"alerts\":[]}\xff", "not valid JSON" },
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        ingest_map_init (&map);
        rc = ingest_map_events (bad [index].body, strlen (bad [index].body), &s_options, &map,
                                error, sizeof error);
        CHECK (rc == WIRE_MALFORMED && strstr (error, bad [index].reason), "%s: rc %d, %s",
               bad [index].body, rc, error);
        ingest_map_free (&map);
    }
    char *long_summary = malloc (WIRE_MAX_SUMMARY + 64);
    snprintf (long_summary, WIRE_MAX_SUMMARY + 64, "{\"alerts\":[{\"id\":\"a\",\"summary\":\"%0*d\"}]}",
              WIRE_MAX_SUMMARY + 1, 0);
    ingest_map_init (&map);
    rc = ingest_map_events (long_summary, strlen (long_summary), &s_options, &map, error,
                            sizeof error);
    CHECK (rc == WIRE_MALFORMED && strstr (error, "alerts[0].summary: longer than 1024 bytes"),
           "%s", error);
    ingest_map_free (&map);
    free (long_summary);
    wire_batch_free (&batch);
}

static void
test_purppura (void)
{
    TEST ("/events: purppura's fields in any case (the last wins), subject is the summary");
    ingest_map_t map;
    wire_batch_t batch = WIRE_BATCH_EMPTY;
    char error [WIRE_ERROR_SIZE] = "";
    int rc = s_map (ingest_map_purppura, "{\"ID\":\"heartbeat\",\"Subject\":\"s\",\"DETAIL\":\"d\","
                    "\"rAiSe\":\"+5m\",\"raise\":\"+10m\"}", &map, 0, &batch, error, sizeof error);
    if (CHECK (rc == 0, "rc %d: %s", rc, error)) {
        wire_event_t *event = &batch.events [0];
        CHECK (strcmp (batch.source, "192.0.2.7") == 0 && strcmp (event->id, "heartbeat") == 0
               && strcmp (event->summary, "s") == 0 && !event->subject
               && strcmp (event->detail, "d") == 0 && event->raise_at == NOW_MS + 600000,
               "%s", event->id);
    }
    ingest_map_free (&map);
    rc = s_map (ingest_map_purppura, "[{\"id\":\"a\",\"source\":\"h1\",\"raise\":\"\"},"
                "{\"Id\":\"b\",\"Source\":\"h1\",\"raise\":\"clear\"}]", &map, 0, &batch, error,
                sizeof error);
    CHECK (rc == 0 && batch.event_count == 2 && strcmp (batch.source, "h1") == 0
           && !batch.events [0].has_raise && batch.events [1].raise_clear, "rc %d %s", rc, error);
    ingest_map_free (&map);

    TEST ("/events: a number for a string, mixed sources, not an object: refused with why");
    static const struct { const char *body, *reason; } bad [] = {
        { "{\"id\":5}", "events[0].id: not a string" },
        { "[{\"id\":\"a\"},{\"id\":\"b\",\"source\":\"x\"}]", "events[1].source: every event" },
        { "7", "not valid JSON" },
        { "[7]", "events[0]: not an object" },
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        ingest_map_init (&map);
        rc = ingest_map_purppura (bad [index].body, strlen (bad [index].body), &s_options, &map,
                                  error, sizeof error);
        CHECK (rc == WIRE_MALFORMED && strstr (error, bad [index].reason), "%s: rc %d, %s",
               bad [index].body, rc, error);
        ingest_map_free (&map);
    }
    wire_batch_free (&batch);
}

static void
test_alertmanager (void)
{
    TEST ("/api/v2/alerts: id alertname{labels sorted}, source the instance, level, times");
    ingest_map_t map;
    wire_batch_t batch = WIRE_BATCH_EMPTY;
    char error [WIRE_ERROR_SIZE] = "";
    int rc = s_map (ingest_map_alertmanager, "[{\"labels\":{\"zone\":\"a\\\"b\",\"alertname\":"
                    "\"HighLoad\",\"instance\":\"node1:9100\",\"job\":\"node\",\"severity\":"
                    "\"critical\"},\"annotations\":{\"summary\":\"s\",\"description\":\"d\"},"
                    "\"startsAt\":\"2026-11-18T12:13:20.250+01:00\",\"endsAt\":"
                    "\"2026-11-18T11:20:00.001Z\",\"generatorURL\":\"http://p/g\"}]", &map, 0,
                    &batch, error, sizeof error);
    if (CHECK (rc == 0, "rc %d: %s", rc, error)) {
        wire_event_t *event = &batch.events [0];
        CHECK (strcmp (batch.source, "node1:9100") == 0, "source %s", batch.source);
        CHECK (strcmp (event->id, "HighLoad{job=\"node\",severity=\"critical\",zone=\"a\\\"b\"}")
               == 0, "id %s", event->id);
        //  2026-11-18T11:13:20Z is 1795000400 s; .250 rounds down, .001 up
        CHECK (event->raise_at == INT64_C (1795000400000)
               && event->clear_at == INT64_C (1795000801000), "raise %lld clear %lld",
               (long long) event->raise_at, (long long) event->clear_at);
        CHECK (event->level == LEVEL_URGENT && strcmp (event->summary, "s") == 0
               && strcmp (event->detail, "d") == 0 && event->label_count == 5, "fields");
    }
    ingest_map_free (&map);

    TEST ("/api/v2/alerts: amtool's zero time is absent, severities, no instance: the peer");
    rc = s_map (ingest_map_alertmanager, "[{\"labels\":{\"alertname\":\"A\",\"severity\":"
                "\"warning\"},\"startsAt\":\"0001-01-01T00:00:00Z\",\"endsAt\":"
                "\"0001-01-01T00:00:00Z\"},{\"labels\":{\"alertname\":\"B\",\"severity\":\"Info\"}},"
                "{\"labels\":{\"alertname\":\"C\",\"severity\":\"page\"}}]", &map, 0, &batch,
                error, sizeof error);
    if (CHECK (rc == 0 && batch.event_count == 3, "rc %d: %s", rc, error)) {
        CHECK (strcmp (batch.source, "192.0.2.7") == 0 && strcmp (batch.events [0].id, "A{severity=\"warning\"}") == 0
               && !batch.events [0].has_raise && !batch.events [0].has_clear
               && batch.events [0].level == LEVEL_NORMAL && batch.events [1].level == LEVEL_LOW
               && batch.events [2].level == LEVEL_URGENT, "%s", batch.events [0].id);
    }
    ingest_map_free (&map);

    TEST ("/api/v2/alerts: each bad alert refused alone; one frame per source, tx numbered");
    rc = s_map (ingest_map_alertmanager, "[{\"labels\":{\"alertname\":\"A\",\"instance\":\"h1\"}},"
                "7,{\"labels\":{\"job\":\"x\"}},{\"labels\":{\"alertname\":\"B\"},\"startsAt\":"
                "\"yesterday\"},{\"labels\":{\"alertname\":\"C\",\"instance\":\"h2\"}},"
                "{\"labels\":{\"alertname\":\"D\",\"instance\":\"h1\"}}]", &map, 1, &batch,
                error, sizeof error);
    CHECK (rc == 0 && map.batch_count == 2 && map.refused_count == 3, "rc %d %s: %zu batches, "
           "%zu refused", rc, error, map.batch_count, map.refused_count);
    if (rc == 0 && map.refused_count == 3 && map.batch_count == 2) {
        CHECK (map.refused [0].index == 1 && strstr (map.refused [0].reason, "not an object")
               && map.refused [1].index == 2 && strstr (map.refused [1].reason, "alertname: missing")
               && map.refused [2].index == 3 && strstr (map.refused [2].reason, "startsAt"),
               "%s / %s / %s", map.refused [0].reason, map.refused [1].reason,
               map.refused [2].reason);
        CHECK (map.batches [0].event_count == 2 && map.batches [0].origin [1] == 5
               && strcmp (map.batches [0].source, "h1") == 0
               && strcmp (map.batches [1].source, "h2") == 0 && map.batches [1].origin [0] == 4
               && strcmp (map.batches [0].tx, "tx-1") == 0
               && strcmp (map.batches [1].tx, "tx-1-2") == 0 && strcmp (batch.tx, "tx-1-2") == 0,
               "batches");
    }
    ingest_map_free (&map);
    rc = s_map (ingest_map_alertmanager, "{}", &map, 0, &batch, error, sizeof error);
    CHECK (rc == WIRE_MALFORMED && strstr (error, "a JSON array"), "%s", error);
    ingest_map_free (&map);

    TEST ("/api/v2/alerts: an id past 255 bytes is alertname#HASH of every label");
    char value [300];
    memset (value, 'v', 250);
    value [250] = 0;
    const char *keys [] = { "path", "alertname", "job" }, *values [] = { value, "Big", "a" };
    const char *values_b [] = { value, "Big", "b" };
    char id [WIRE_MAX_NAME + 1], id_b [WIRE_MAX_NAME + 1];
    CHECK (ingest_map_am_id (keys, values, 3, NULL, id, sizeof id) == 0
           && ingest_map_am_id (keys, values_b, 3, NULL, id_b, sizeof id_b) == 0
           && strncmp (id, "Big#", 4) == 0 && strlen (id) == 4 + 16 && strcmp (id, id_b) != 0,
           "%s %s", id, id_b);
    const char *short_values [] = { "/", "Big", "x\ny" };
    CHECK (ingest_map_am_id (keys, short_values, 3, "job", id, sizeof id) == 0
           && strcmp (id, "Big{path=\"/\"}") == 0, "%s", id);
    CHECK (ingest_map_am_id (keys, short_values, 3, NULL, id, sizeof id) == 0
           && strcmp (id, "Big{job=\"x\\ny\",path=\"/\"}") == 0, "%s", id);
    wire_batch_free (&batch);
}

static void
test_rfc3339 (void)
{
    TEST ("RFC 3339 times: offsets, fractions kept to the ms, bad ones refused");
    static const struct { const char *text; int64_t ms; } good [] = {
        { "2026-11-18T11:13:20Z", INT64_C (1795000400000) },
        { "2026-11-18t11:13:20.5z", INT64_C (1795000400500) },
        { "2026-11-18T13:13:20.123456789+02:00", INT64_C (1795000400123) },
        { "2026-11-18T10:43:20-00:30", INT64_C (1795000400000) },
        { "1970-01-01T00:00:00Z", 0 },
        { "2024-02-29T00:00:00Z", INT64_C (1709164800000) },
        { "0001-01-01T00:00:00Z", INT64_C (-62135596800000) },
    };
    for (size_t index = 0; index < sizeof good / sizeof good [0]; index++) {
        int64_t ms = 1;
        CHECK (ingest_map_rfc3339 (good [index].text, &ms) == 0 && ms == good [index].ms,
               "%s: %lld", good [index].text, (long long) ms);
    }
    static const char *const bad [] = {
        "", "2026-11-20", "2026-11-20T07:13:20", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
        "2025-02-29T00:00:00Z", "2026-11-20T24:00:00Z", "2026-11-20T07:13:20.Z",
        "2026-11-20T07:13:20Z ", "2026-11-20T07:13:20+0200", "+2026-11-20T07:13:20Z",
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        int64_t ms = 1;
        CHECK (ingest_map_rfc3339 (bad [index], &ms) == -1 && ms == 1, "'%s' read", bad [index]);
    }
}

static void
test_ping (void)
{
    TEST ("ping: a plain one refreshes; /fail raises now; /0 clears then refreshes");
    ingest_map_t map;
    wire_batch_t batch = WIRE_BATCH_EMPTY;
    char error [WIRE_ERROR_SIZE] = "";
    int statuses [] = { INGEST_PING_PLAIN, INGEST_PING_FAIL, 3, 0 };
    for (size_t index = 0; index < 4; index++) {
        ingest_map_init (&map);
        int rc = ingest_map_ping ("cron1", "disk-space-/", statuses [index], "+25h",
                                  index == 3 ? "out" : NULL, 3, "t", &map, error, sizeof error);
        if (rc == 0)
            rc = wire_batch_decode (map.batches [0].frame.buffer.data,
                                    map.batches [0].frame.buffer.size, NOW_MS, &batch,
                                    error, sizeof error);
        if (CHECK (rc == 0, "rc %d: %s", rc, error)) {
            wire_event_t *last = &batch.events [batch.event_count - 1];
            int64_t raise = statuses [index] == INGEST_PING_PLAIN || statuses [index] == 0
                          ? NOW_MS + 25 * 3600000LL : NOW_MS;
            CHECK (strcmp (batch.source, "cron1") == 0 && strcmp (last->id, "disk-space-/") == 0
                   && last->raise_at == raise, "status %d: raise %lld", statuses [index],
                   (long long) last->raise_at);
            CHECK ((statuses [index] == 0) == (batch.event_count == 2), "events %zu",
                   batch.event_count);
            if (statuses [index] == 0)
                CHECK (batch.events [0].has_clear && batch.events [0].clear_at == NOW_MS
                       && strcmp (batch.events [0].detail, "out") == 0, "the clear");
        }
        ingest_map_free (&map);
    }
    ingest_map_init (&map);
    CHECK (ingest_map_ping ("cron1", "x", 1, "+25h", "\xff", 1, "t", &map, error, sizeof error)
           == WIRE_MALFORMED && strstr (error, "UTF-8"), "%s", error);
    ingest_map_free (&map);
    wire_batch_free (&batch);
}

static void
test_unescape (void)
{
    TEST ("http_unescape: %HH in either case, + kept, bad escapes, %00 and overflow refused");
    char out [16];
    CHECK (http_unescape ("disk-space-%2F", 14, out, sizeof out) == 12
           && strcmp (out, "disk-space-/") == 0, "%s", out);
    CHECK (http_unescape ("a%2fb+%7E", 9, out, sizeof out) == 5 && strcmp (out, "a/b+~") == 0,
           "%s", out);
    CHECK (http_unescape ("a/b", 1, out, sizeof out) == 1 && strcmp (out, "a") == 0, "%s", out);
    static const char *const bad [] = { "%", "%2", "%zz", "%00", "0123456789abcdefg" };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++)
        CHECK (http_unescape (bad [index], strlen (bad [index]), out, sizeof out) == -1,
               "'%s' decoded", bad [index]);
}

int
main (void)
{
    test_events ();
    test_purppura ();
    test_alertmanager ();
    test_rfc3339 ();
    test_ping ();
    test_unescape ();
    return check_done ();
}
