#!/usr/bin/env python3
"""make_seeds.py — writes the hand-made seeds of the fuzz corpus.

Run from the repository root: python3 tests/fuzz/make_seeds.py
Writes tests/fuzz/corpus/{ingest,control,timespec}/seed-*: a few valid frames
of each family (DESIGN §3) and a few broken ones. Packs msgpack by hand (no
module needed): maps, arrays, strings, ints, bools and nil are all we use.
`make fuzz` later minimizes the corpus, which may rename or drop seeds.
"""
import os
import struct

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

for family, seeds in (("ingest", INGEST), ("control", CONTROL), ("timespec", TIMESPEC)):
    directory = os.path.join("tests", "fuzz", "corpus", family)
    os.makedirs(directory, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(directory, "seed-" + name), "wb") as out:
            out.write(data)
