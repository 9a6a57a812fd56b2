-- pg_schema.sql — a DRAFT of the PostgreSQL store's schema (issue 17 §3),
-- the tables of broker/store.h's SQLite file in PostgreSQL's types, so the
-- PostgreSQL baseline (bench_pg_upsert.c) writes the same rows into the same
-- schema as bench_sqlite does into SQLite's. It lives here until
-- broker/store_pg.c exists; it will move next to that file, which owns it.
--
-- Types: every time is ms since the epoch (bigint), every seq a bigint (the
-- broker's uint64 seq stays below 2^63), every msgpack body a bytea written
-- as a binary parameter. alert_times, SQLite's refresh checkpoint keyed by
-- rowid, has no counterpart: with each change written once (issue 17 §2)
-- alert rows are written at checkpoints only, their seq in meta.
CREATE TABLE IF NOT EXISTS alerts (
    source text NOT NULL,
    id text NOT NULL,
    state text NOT NULL,
    level text NOT NULL,
    changed_at bigint,
    seq bigint,
    row bytea NOT NULL,                  -- {v, alert}, alert_pack
    UNIQUE (source, id)
);
-- prev_seq: the same alert's change before this one (0 for its first).
CREATE TABLE IF NOT EXISTS history (
    seq bigint PRIMARY KEY,
    at bigint NOT NULL,
    event text NOT NULL,
    source text NOT NULL,
    id text NOT NULL,
    body bytea NOT NULL,                 -- the change body as published
    prev_seq bigint NOT NULL DEFAULT 0
);
-- "seq", "db_id", "epoch" (the fencing token: every commit carries
-- WHERE key = 'epoch' AND value = the writer's), "epoch_first",
-- "clean_stop", the checkpoint's seq.
CREATE TABLE IF NOT EXISTS meta (
    key text PRIMARY KEY,
    value text NOT NULL
);
CREATE TABLE IF NOT EXISTS silences (
    id text PRIMARY KEY,
    ends bigint NOT NULL,
    seq bigint NOT NULL,
    body bytea NOT NULL                  -- its latest change body
);
