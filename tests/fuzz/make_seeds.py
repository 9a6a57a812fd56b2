#!/usr/bin/env python3
"""make_seeds.py — writes the hand-made seeds of the fuzz corpus.

Run from the repository root: python3 tests/fuzz/make_seeds.py [FAMILY...]
(only the families named, e.g. web_act; all of them by default).
Writes tests/fuzz/corpus/{ingest,control,timespec}/seed-*: a few valid frames
of each family (docs/architecture.md §3) and a few broken ones. Packs msgpack by hand (no
module needed): maps, arrays, strings, ints, bools and nil are all we use.
Also lilac-web's request bodies (web_act, web_actions, web_silence,
web_am_silence: JSON text) and X-Forwarded-For cases (web_forwarded:
"TRUSTED\nPEER\nHEADER", or a header alone), each family a handful of valid
and broken ones. `make fuzz` later minimizes the corpus, which may rename or
drop seeds.
"""
import json
import os
import struct
import sys

def pack(value):
    if value is None:
        return b"\xc0"
    if value is True:
        return b"\xc3"
    if value is False:
        return b"\xc2"
    if isinstance(value, int):
        if 0 <= value < 128:
            return bytes([value])
        if -32 <= value < 0:
            return struct.pack("b", value)
        if value >= 0:
            return b"\xcf" + struct.pack(">Q", value)
        return b"\xd3" + struct.pack(">q", value)
    if isinstance(value, str):
        data = value.encode("utf-8")
        if len(data) < 32:
            return bytes([0xa0 | len(data)]) + data
        if len(data) < 256:
            return b"\xd9" + bytes([len(data)]) + data
        return b"\xda" + struct.pack(">H", len(data)) + data
    if isinstance(value, list):
        head = bytes([0x90 | len(value)]) if len(value) < 16 else b"\xdc" + struct.pack(">H", len(value))
        return head + b"".join(pack(item) for item in value)
    if isinstance(value, dict):
        head = bytes([0x80 | len(value)]) if len(value) < 16 else b"\xde" + struct.pack(">H", len(value))
        return head + b"".join(pack(k) + pack(v) for k, v in value.items())
    raise TypeError(value)

NOW = 1795000000000
ALERT = {"source": "web1", "id": "disk", "subject": "/var", "summary": "disk full",
         "detail": "97% used", "level": "urgent", "state": "raised",
         "raise_at": NOW, "clear_at": NOW + 3600000, "acked_by": "ana",
         "ack_note": "on it", "notify_count": 2, "seq": 41,
         "labels": {"team": "ops", "dc": "ams"}}

INGEST = {
    "batch": pack({"v": 1, "tx": "0123456789abcdef0123456789abcdef", "source": "web1",
                   "replace": True, "sent": NOW,
                   "alerts": [{"id": "disk", "raise": "+5m", "clear": "+1h", "suppress": "+2h",
                               "subject": "/var", "summary": "disk full", "detail": "97%",
                               "level": "urgent", "labels": {"team": "ops"}},
                              {"id": "heartbeat", "raise": "clear"},
                              {"id": "load", "raise": 1795000000, "level": "low"}]}),
    "minimal": pack({"v": 1, "alerts": [{"id": "a"}]}),
    "empty-alerts": pack({"v": 1, "alerts": []}),
    "wrong-version": pack({"v": 2, "alerts": [{"id": "a"}]}),
    "bad-time": pack({"v": 1, "alerts": [{"id": "a", "raise": "5m"}]}),
    "nil-id": pack({"v": 1, "alerts": [{"id": None}]}),
    "huge-array": b"\x82\xa1v\x01\xa6alerts\xdd\xff\xff\xff\xff",
    "truncated": pack({"v": 1, "alerts": [{"id": "a"}]})[:-3],
    "deep": b"\x81\xa1v" + b"\x91" * 12 + b"\x01",
    "bad-utf8": b"\x82\xa1v\x01\xa6alerts\x91\x81\xa2id\xa2\xc3\x28",
}

CONTROL = {
    "ping": pack({"v": 1, "op": "ping"}),
    "list": pack({"v": 1, "op": "list", "state": "raised", "source": "web1", "limit": 100}),
    "get": pack({"v": 1, "op": "get", "source": "web1", "id": "disk"}),
    "ack": pack({"v": 1, "op": "ack", "source": "web1", "id": "disk", "by": "ana",
                 "note": "looking", "until": "+2h"}),
    "suppress": pack({"v": 1, "op": "suppress", "source": "web1", "id": "disk", "until": 1795000000}),
    "snapshot": pack({"v": 1, "op": "snapshot", "cursor": 0, "limit": 500}),
    "since": pack({"v": 1, "op": "since", "seq": 40, "limit": -1}),
    "change": pack({"v": 1, "seq": 42, "at": NOW, "event": "raised", "alert": ALERT}),
    "hugz": pack({"v": 1, "seq": 42, "at": NOW}),
    "change-bad-alert": pack({"v": 1, "seq": 42, "at": NOW, "event": "raised", "alert": [1, 2]}),
    "op-control-char": pack({"v": 1, "op": "pi\x01ng"}),
    "not-a-map": pack([1, "op", "ping"]),
    "ext": b"\x82\xa1v\x01\xa2op\xd4\x01\x00",
}

TIMESPEC = {name: text.encode() for name, text in {
    "now": "now", "clear": "clear", "plus-5m": "+5m", "minus-10s": "-10s", "plus-2h": "+2h",
    "plus-1d": "+1d", "plus-90": "+90", "plus-500ms": "+500ms", "epoch": "1795000000",
    "duration-30": "30", "duration-7d": "7d", "big": "+9223372036854775807s",
    "junk": "5m ", "upper": "+5M", "fraction": "+1.5h", "empty": "",
}.items()}

def text(value):
    """JSON text of value (or value itself when it is already text)."""
    return (value if isinstance(value, str) else json.dumps(value)).encode("utf-8")

#  FUZZ_NOW_MS is 2026-11-18T11:06:40Z: the silences below end after it.
WEB_ACT = {name: text(body) for name, body in {
    "empty": "", "ack": {"until": "+1h", "note": "on it"}, "epoch": {"until": 1795003600},
    "now": {"until": "now"}, "note": {"note": "looking \u00e9"},
    "by-ignored": {"until": "+2h", "by": "mallory"}, "not-object": [], "broken": "{\"until",
    "duplicate": '{"note": "a", "note": "b"}',
}.items()}

ALERTS = [{"source": "web1", "id": "disk"}, {"source": "db1", "id": "load"}]
WEB_ACTIONS = {name: text(body) for name, body in {
    "ack": {"act": "ack", "note": "batch", "alerts": ALERTS},
    "suppress": {"act": "suppress", "until": "+2h", "alerts": ALERTS[:1]},
    "clear": {"act": "clear", "alerts": ALERTS},
    "no-alerts": {"act": "clear", "alerts": []}, "unknown-act": {"act": "reboot", "alerts": ALERTS},
    "no-id": {"act": "unack", "alerts": [{"source": "web1"}]},
    "suppress-no-until": {"act": "suppress", "alerts": ALERTS},
}.items()}

WEB_SILENCE = {name: text(body) for name, body in {
    "labels": {"matchers": {"source": "db*", "labels": ["alertname=Disk"]}, "ends": "+1h",
               "note": "maintenance"},
    "operators": {"matchers": {"id": "disk", "subject": "/var",
                               "labels": ["team!=ops", "dc=~ams|fra", "env!~dev.*"]},
                  "starts": "+1h", "ends": "+3h"},
    "rfc3339": {"matchers": {"source": "web1"}, "starts": "2026-11-24T10:00:00Z",
                "ends": "2027-01-01T12:00:00.5+01:00"},
    "epoch": {"matchers": {"source": "web1"}, "ends": 1795007200},
    "no-ends": {"matchers": {"source": "db1"}}, "labels-not-array": {"matchers": {"labels": "a=b"},
                                                                    "ends": "+1h"},
    "broken": "{\"matchers\": {",
}.items()}

WEB_AM_SILENCE = {name: text(body) for name, body in {
    "amtool": {"matchers": [{"name": "alertname", "value": "Disk", "isRegex": False,
                             "isEqual": True},
                            {"name": "instance", "value": "web1:9100", "isRegex": False}],
               "startsAt": "2026-11-18T11:06:40.000Z", "endsAt": "2027-01-01T00:00:00Z",
               "createdBy": "ana", "comment": "maintenance", "id": ""},
    "regex": {"matchers": [{"name": "job", "value": "node|db", "isRegex": True},
                           {"name": "env", "value": "dev", "isEqual": False}],
              "startsAt": "0001-01-01T00:00:00Z", "endsAt": "2027-01-01T00:00:00Z",
              "comment": "x"},
    "update": {"id": "0b6a1a4e-9d5f-4f8e-9a51-2f2d0c5e8a10",
               "matchers": [{"name": "job", "value": "node"}], "endsAt": "2027-01-01T00:00:00Z"},
    "no-matchers": {"matchers": [], "endsAt": "2027-01-01T00:00:00Z"},
    "no-ends": {"matchers": [{"name": "job", "value": "node"}]},
}.items()}

WEB_FORWARDED = {name: data.encode() for name, data in {
    "client": "203.0.113.9, 10.0.0.1",
    "mapped": "10.0.0.1 ::1\n::1\n198.51.100.7, ::ffff:10.0.0.1",
    "untrusted-peer": "10.0.0.1\n192.0.2.99\n203.0.113.9",
    "garbage": "10.0.0.1\n10.0.0.1\nunknown, 10.0.0.1",
    "no-header": "10.0.0.1\n10.0.0.1",
    "blanks": "  2001:db8::1 ,\t10.0.0.1",
    "all-trusted": "10.0.0.1, 192.0.2.7",
}.items()}

for family, seeds in (("ingest", INGEST), ("control", CONTROL), ("timespec", TIMESPEC),
                      ("web_act", WEB_ACT), ("web_actions", WEB_ACTIONS),
                      ("web_silence", WEB_SILENCE), ("web_am_silence", WEB_AM_SILENCE),
                      ("web_forwarded", WEB_FORWARDED)):
    if len(sys.argv) > 1 and family not in sys.argv[1:]:
        continue
    directory = os.path.join("tests", "fuzz", "corpus", family)
    os.makedirs(directory, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(directory, "seed-" + name), "wb") as out:
            out.write(data)
