/*  targets.h — the bodies of lilac's fuzz harnesses.

    Each target feeds one untrusted input to the decoder that meets it in
    production and frees everything it got back. They are plain functions so
    two programs share them: the libFuzzer harnesses (tests/fuzz/fuzz_*.c,
    built by `make fuzz` with clang) and the corpus replay of `make test`
    (tests/unit/test_fuzz_corpus.c, built by gcc). No global state: a target
    depends on its input alone. Every target returns 0; a broken invariant
    aborts (assert), which both libFuzzer and the replay report as a crash.
*/
#ifndef LILAC_FUZZ_TARGETS_H
#define LILAC_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

#define FUZZ_NOW_MS     INT64_C(1795000000000)    //  the fixed "receive time"
#define FUZZ_SPEC_MAX   64                        //  bytes of a time spec tried
#define FUZZ_JSON_MAX   (64 * 1024)               //  bytes of an HTTP answer read
#define FUZZ_FORWARDED_MAX 4096                   //  bytes of a forwarded case tried

//  An ingest frame: wire_batch_decode at FUZZ_NOW_MS; checks that it agrees
//  with wire_batch_decode_reference (its fast path decides nothing alone),
//  and that wire_doc_new unpacks the bytes exactly as msgpack-c does.
int fuzz_ingest (const uint8_t *data, size_t size);
//  A control request as the broker reads it (control.c), and a change body
//  as subscribers read it (alert_change_decode on the root and root["alert"]);
//  checks that wire_doc_new unpacks the bytes exactly as msgpack-c does.
int fuzz_control (const uint8_t *data, size_t size);
//  A time spec and a duration (timespec.h); checks the duration_format
//  round trip. Inputs longer than FUZZ_SPEC_MAX bytes are skipped.
int fuzz_timespec (const uint8_t *data, size_t size);
//  An answer of an HTTP API as lilac-notify-pushover reads it: json_read_object
//  (at most FUZZ_JSON_MAX bytes, Pushover's body limit) and the typed getters
//  for its fields; checks that getters give NUL-terminated UTF-8 within their
//  buffers and that a read object writes out and reads back equal.
int fuzz_json (const uint8_t *data, size_t size);
//  A body of lilac-web's ingest (web/ingest_map.h) through its mapper:
//  lilac's JSON batch, purppura's events, Alertmanager's alerts. Checks
//  that every frame made passes wire_check and that the broker's submit
//  decoder takes it (refused whole only when each of its events is, never
//  for the envelope: tx, source, v); for Alertmanager also that it
//  refuses none of its events (the mapper checked them all), that each
//  alert of the body is in a frame or refused, once, and that each frame
//  holds one source.
int fuzz_web_events (const uint8_t *data, size_t size);
int fuzz_web_purppura (const uint8_t *data, size_t size);
int fuzz_web_alertmanager (const uint8_t *data, size_t size);
//  lilac-web's request bodies, through the pure parsers its routes call
//  (web/api_acts.h, web/api_silences.h). For each: a refused body has a
//  sentence; an accepted one gives NUL-terminated UTF-8 within its limits,
//  keeps what the body said (nothing dropped, nothing made up), and packs
//  into a control request the broker reads as lilac-web meant it
//  (wire_get_* and silence_matchers_decode, as control.c and silences.c).
//  The act body of POST /api/alerts/SOURCE/ID/ACT, for each act: until a
//  time the broker takes (never "clear"; suppress's required), the note
//  within WIRE_MAX_NOTE.
int fuzz_web_act (const uint8_t *data, size_t size);
//  The body of POST /api/actions: as above, and 1..API_ACTIONS_MAX alerts,
//  each a source and an id of the body, in its order.
int fuzz_web_actions (const uint8_t *data, size_t size);
//  Silences, lilac's POST /api/silences and Alertmanager's POST
//  /api/v2/silences: at least one matcher, every label matcher parsed by
//  silence_label_parse (its regex compiled), ends a time after starts and
//  FUZZ_NOW_MS. Alertmanager's: each of its matchers became one of the same
//  meaning (the source glob matches its value alone; a label matcher its
//  name, operator and value), an update (id) is refused.
int fuzz_web_silence (const uint8_t *data, size_t size);
int fuzz_web_am_silence (const uint8_t *data, size_t size);
//  The X-Forwarded-For walk (http_forwarded_client): "TRUSTED\nPEER\nHEADER"
//  (or "TRUSTED\nPEER": no header; or a header alone, from a trusted peer),
//  at most FUZZ_FORWARDED_MAX bytes. The client is the one the rule gives,
//  computed another way: the peer, or one of the header's addresses, never
//  a trusted proxy unless every hop from the right up to garbage (or the
//  leftmost) is one.
int fuzz_web_forwarded (const uint8_t *data, size_t size);

#endif
