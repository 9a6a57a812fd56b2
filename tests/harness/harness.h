/*  harness.h — end-to-end test harness: the real broker, the real CLI, the
    real protocol, on loopback.

    An end-to-end test never links broker code. It makes a temporary
    directory (sandbox), picks free loopback ports, writes a ZPL config and
    spawns $LILAC_BIN/lilac-broker (default "bin") on them, then talks to it
    as any client would: PUSH ingest frames built with the wire.h writer (or
    raw hostile bytes), SUB to the change bus, control requests with
    bus_call(), and the `lilac` command run as a child process.

    Tests synchronize on what they observe — a change on the bus, a control
    reply, a row — with a deadline, never on a bare sleep. Every wait here is
    bounded by a deadline in milliseconds and every loop by a count; a wait
    that runs out returns failure and the caller's CHECK reports it. The one
    kind of wait that necessarily lasts its whole window is
    expect_no_change(), for the few places where the spec requires absence:
    keep its window short (at most 1.5 s).

    PUB/SUB slow joiner: a fresh SUB misses what is published before its
    subscription reaches the broker. subscriber_new() therefore waits for one
    `hugz` (the broker sends one every second) before returning, so events
    sent afterwards are seen.

    On failure, testbed_destroy()/sandbox_destroy() keep the temporary
    directory and print its path, and the broker's log (stderr) is printed
    as "#" lines so tests/run shows it. Limits: one broker per testbed; ports
    are picked by binding to 127.0.0.1:0 and closing, so another process
    could in principle take one before the broker binds it (one test process
    is never given the same port twice).
*/
#ifndef LILAC_HARNESS_H
#define LILAC_HARNESS_H

#include <czmq.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "alert.h"
#include "wire.h"

#define HARNESS_START_DEADLINE_MS  10000   //  broker must answer ping within this
#define HARNESS_STOP_DEADLINE_MS   10000   //  broker must exit after SIGTERM within this
#define HARNESS_CALL_TIMEOUT_MS    3000    //  one control request
#define HARNESS_JOIN_DEADLINE_MS   3000    //  a new SUB must see a hugz within this
#define HARNESS_LOG_TAIL_LINES     60      //  broker log lines printed on failure

//  Prints one diagnostic line prefixed with "# " to stdout (TAP comment).
void harness_note (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

//  Sleeps ms milliseconds. Only for pacing what the spec paces (a heartbeat
//  every 0.5 s) or polling a condition inside a deadline — never to wait for
//  an effect.
void harness_pause_ms (int ms);

//  --- sandbox: a temporary directory per test -------------------------------

typedef struct _sandbox_t sandbox_t;

//  Makes $TMPDIR/lilac-NAME.XXXXXX (or /tmp). NULL on failure.
sandbox_t *sandbox_new (const char *name);
//  The directory path, borrowed.
const char *sandbox_dir (sandbox_t *self);
//  Fresh "DIR/file" string; caller frees.
char *sandbox_path (sandbox_t *self, const char *file);
//  Removes the directory tree, unless failed: then keeps it and prints its
//  path. NULL is a no-op.
void sandbox_destroy (sandbox_t **self_p, bool failed);

//  A free TCP port on 127.0.0.1 (bind to port 0, read it, close), never one
//  it returned before in this process (of the last 1,024), or -1.
int port_free (void);

//  --- files ---------------------------------------------------------------------

//  The whole file as a fresh NUL-terminated string, caller frees ("" if it is
//  missing). Reads until EOF, so /proc files (which report size 0) work too.
char *file_read_all (const char *path);
//  Writes text to path (replacing it through a sibling and a rename, so a
//  reader never sees half a file). 0 or -1 (the reason printed).
int file_write_text (const char *path, const char *text);
//  True if the file at path contains text.
bool file_has_text (const char *path, const char *text);
//  How many times text occurs in the file at path (0 if it is missing).
int file_count_text (const char *path, const char *text);
//  Polls the file at path until it holds text at least count times (a
//  missing file holds nothing). 0, or -1 at the deadline.
int file_wait_count (const char *path, const char *text, int count, int timeout_ms);

//  --- a full disk ------------------------------------------------------------------

//  Makes dir and mounts a tmpfs of size ("8m") on it (needs root, as
//  `make test` has). 0, or -1 (the reason printed).
int disk_mount (const char *dir, const char *size);
//  Writes zeros to path until its file system is full. 0 when it is.
int disk_fill (const char *path);
//  Unmounts dir (lazily, so a process still there cannot stop it).
void disk_unmount (const char *dir);

//  --- child processes -------------------------------------------------------------

//  Where the binaries under test are: $LILAC_BIN, or "bin" when unset or
//  empty. Borrowed.
const char *harness_bin_dir (void);
//  Spawns argv [0] with argv (environment inherited), stdin from /dev/null,
//  stdout to out_path and stderr to err_path (both appended; the same path
//  may be given twice). Returns the pid, or -1 with the reason printed.
pid_t process_spawn (char *const argv [], const char *out_path, const char *err_path);
//  Waits for our child pid up to timeout_ms, reaping it. Returns its exit
//  code, 128+signal, or -1 if it still runs at the deadline (not killed
//  here) or cannot be waited for.
int process_wait (pid_t pid, int timeout_ms);
//  True while our child *pid runs; once it has exited, reaps it, prints how
//  ("NAME exited with status N", "NAME died of signal N") and sets *pid to
//  0. False when *pid is 0.
bool process_running (pid_t *pid, const char *name);
//  SIGTERM and wait up to timeout_ms; *pid becomes 0. The exit status,
//  128+signal, or -1 if *pid was 0 or it did not exit in time (then it is
//  killed with process_kill, the reason printed).
int process_stop (pid_t *pid, const char *name, int timeout_ms);
//  SIGKILL and reap (waiting up to timeout_ms); *pid becomes 0. 0, or -1 if
//  *pid was 0.
int process_kill (pid_t *pid, int timeout_ms);
//  A "Vm..." field of /proc/PID/status in KiB ("VmRSS", "VmHWM"), or -1.
int64_t process_status_kb (pid_t pid, const char *field);
//  Prints the last max_lines lines of the log at path as "#" lines, under
//  "--- NAME log PATH (last N lines) ---".
void log_print_tail (const char *name, const char *path, int max_lines);

//  --- the broker process -----------------------------------------------------

//  Broker config values (durations as text: "1s", "500ms"); NULL leaves the
//  key out of the config file, so the broker's default applies.
typedef struct {
    const char *reminder_interval;
    const char *grace;
    const char *retention;
    const char *batch;
    const char *checkpoint;
    const char *database;          //  the SQLite file (NULL: sandbox/lilac.db)
    const char *standbys;          //  standby brokers expected (PostgreSQL)
    //  Optional: a `security` section with these paths (both or neither).
    const char *security_cert;     //  the broker's secret certificate file
    const char *security_clients;  //  the directory of allowed client certificates
} broker_process_config_t;

typedef struct _broker_process_t broker_process_t;

//  Picks three free ports, writes sandbox/broker.conf (section `broker`:
//  ingest, publish, control, database, and the given values). Does not
//  start the broker. NULL on failure.
broker_process_t *broker_process_new (sandbox_t *sandbox, const broker_process_config_t *config);
//  Spawns `$LILAC_BIN/lilac-broker -c FILE` (stdout and stderr appended to
//  sandbox/broker.log) and waits until `ping` answers ok, within
//  HARNESS_START_DEADLINE_MS. Works again after stop/kill: same config,
//  database and ports. Returns 0, or -1 (the broker is killed).
int broker_process_start (broker_process_t *self);
//  The two halves of broker_process_start: spawn only (a standby answers
//  nothing until it takes over), and wait up to timeout_ms for ping to be
//  answered (ready_at is then set). 0, or -1 (not killed).
int broker_process_spawn (broker_process_t *self);
int broker_process_wait_ready (broker_process_t *self, int timeout_ms);
//  SIGTERM and wait. Returns the exit status (0 expected), 128+signal if it
//  died of a signal, or -1 if it did not exit in time (then it is killed).
int broker_process_stop (broker_process_t *self);
//  SIGKILL and reap. Returns 0, or -1 if it was not running.
int broker_process_kill (broker_process_t *self);
//  True while the process is alive (reaps it if it has exited).
bool broker_process_running (broker_process_t *self);
//  Sends signal (e.g. SIGHUP) to the running broker. 0, or -1 if it does
//  not run or the signal could not be sent.
int broker_process_signal (broker_process_t *self, int signal);
//  Path of the broker's log (stdout and stderr), borrowed.
const char *broker_process_log (broker_process_t *self);
//  Wall-clock ms when the last broker_process_start spawned the process, and when it
//  first answered ping.
int64_t broker_process_spawned_at (broker_process_t *self);
int64_t broker_process_ready_at (broker_process_t *self);
//  Endpoints clients use ("tcp://127.0.0.1:PORT"), borrowed.
const char *broker_process_ingest (broker_process_t *self);
const char *broker_process_publish (broker_process_t *self);
const char *broker_process_control (broker_process_t *self);
//  Path of the SQLite file, borrowed.
const char *broker_process_database (broker_process_t *self);
//  The running broker's pid, 0 when it does not run.
pid_t broker_process_pid (broker_process_t *self);
//  Prints the last HARNESS_LOG_TAIL_LINES lines of the broker log as "#" lines.
void broker_process_print_log (broker_process_t *self);
//  Kills the broker if it still runs; prints its log if failed. NULL no-op.
void broker_process_destroy (broker_process_t **self_p, bool failed);

//  --- ingest -----------------------------------------------------------------

//  One event of a batch. NULL fields are left out of the frame.
typedef struct {
    const char *id;                //  required by the protocol (NULL leaves it out)
    const char *raise;             //  time spec: "now", "+2s", "clear", ...
    const char *clear;             //  time spec
    const char *suppress;          //  time spec
    const char *summary;
    const char *subject;
    const char *level;             //  "urgent", "normal", "low"
    const char *detail;
    int64_t age;                   //  ms the sender held it; packed when > 0
    const char *const *labels;     //  NULL-terminated key, value, key, value...
} event_spec_t;

//  One ingest frame.
typedef struct {
    const char *source;            //  NULL leaves it out
    const char *tx;                //  NULL leaves it out
    bool replace;                  //  packed only when true
    const event_spec_t *events;
    size_t event_count;
} batch_spec_t;

//  Against a secured broker: ingest sockets then connect with ingest_cert
//  (say a relay's), control calls and subscribers with control_cert (an
//  admin's), both secret certificate files, and server_key (the broker's
//  public key or certificate). harness_secure (NULL, NULL, NULL) is plain again.
void harness_secure (const char *ingest_cert, const char *control_cert, const char *server_key);

//  A PUSH socket connected to the broker's ingest endpoint, with a send
//  timeout so a test never blocks. NULL on failure.
zsock_t *ingest_open (broker_process_t *broker);
//  Packs batch as an ingest frame into writer (which it resets first).
void batch_pack (wire_writer_t *writer, const batch_spec_t *batch);
//  Packs and sends one batch. 0 or -1.
int ingest_send (zsock_t *push, const batch_spec_t *batch);
//  One event {source, alerts: [{id, raise}]}; raise may be NULL. 0 or -1.
int ingest_event (zsock_t *push, const char *source, const char *id, const char *raise);
//  Sends bytes as one frame, unchecked. 0 or -1.
int ingest_raw (zsock_t *push, const void *data, size_t size);

//  --- subscriber ---------------------------------------------------------------

typedef struct _subscriber_t subscriber_t;

//  A SUB connected to the publish endpoint, subscribed to prefix (NULL or ""
//  for everything) and to "hugz"; returns only after it received one hugz
//  (within HARNESS_JOIN_DEADLINE_MS), so it is joined. NULL on failure.
subscriber_t *subscriber_new (broker_process_t *broker, const char *prefix);
void subscriber_destroy (subscriber_t **self_p);

//  Receives changes until one matches (event, source, id; NULL matches
//  anything), skipping hugz and non-matching changes, for at most
//  timeout_ms. On a match fills *change (caller frees with
//  alert_change_free) and returns 0. Returns -1 at the deadline, -2 if a
//  message was malformed (undecodable body, topic that does not match the
//  body): the reason is printed.
int expect_change (subscriber_t *self, const char *event, const char *source,
                   const char *id, int timeout_ms, alert_change_t *change);
//  Watches for window_ms; true if no change matching (event, source, id)
//  arrived and nothing was malformed. Always takes the whole window.
bool expect_no_change (subscriber_t *self, const char *event, const char *source,
                       const char *id, int window_ms);
//  Waits for a hugz whose `at` is >= min_at_ms. 0 or -1 at the deadline.
int expect_hugz (subscriber_t *self, int64_t min_at_ms, int timeout_ms);
//  Changes received so far whose seq was not above the previous change's
//  (should stay 0 while one broker process runs), and the highest seq seen.
int subscriber_seq_errors (subscriber_t *self);
uint64_t subscriber_max_seq (subscriber_t *self);

//  --- control ------------------------------------------------------------------

//  Request arguments for control_call: a list of typed key/value pairs ended
//  by ARG_END, e.g. control_call (b, "get", ARG_STR ("source", "s"),
//  ARG_STR ("id", "x"), ARG_END).
#define ARG_STR(key, value)  's', (const char *) (key), (const char *) (value)
#define ARG_INT(key, value)  'i', (const char *) (key), (int64_t) (value)
#define ARG_BOOL(key, value) 'b', (const char *) (key), (int) (value)
#define ARG_END              0

//  Builds {v:1, op, args...} and bus_calls the broker's control endpoint.
//  Returns the decoded reply (whatever its ok), or NULL if there was no
//  reply or it was not a valid {v:1,...} map (the reason is printed).
wire_doc_t *control_call (broker_process_t *broker, const char *op, ...);
//  As control_call, but returns NULL (and prints the error) unless ok is true.
wire_doc_t *control_ok (broker_process_t *broker, const char *op, ...);
//  Sends arbitrary request bytes with bus_call; the raw reply frame or NULL.
zframe_t *control_raw (broker_process_t *broker, const void *data, size_t size, int timeout_ms);

//  Reply accessors. reply_ok: the reply has ok == true.
bool reply_ok (wire_doc_t *reply);
//  The `error` text (borrowed from a static buffer), or NULL when absent.
const char *reply_error (wire_doc_t *reply);
//  An integer field, or fallback when absent or not an integer.
int64_t reply_int (wire_doc_t *reply, const char *key, int64_t fallback);
//  The broker's current seq (its ping answer), or 0 when it does not answer.
uint64_t control_seq (broker_process_t *broker);
//  A bool field, or fallback.
bool reply_bool (wire_doc_t *reply, const char *key, bool fallback);
//  reply[key] as msgpack object (e.g. an array), or NULL.
const msgpack_object *reply_get (wire_doc_t *reply, const char *key);
//  Decodes reply.alert into *alert (caller frees with alert_clear_fields).
//  0, or -1 when absent or malformed.
int reply_alert (wire_doc_t *reply, alert_t *alert);

//  `get` source/id: fills *alert and returns 0, or -1 (not found / error).
int control_get_alert (broker_process_t *broker, const char *source, const char *id, alert_t *alert);
//  One counter from `stats`, or -1 when the call or the key failed.
int64_t broker_process_stat (broker_process_t *broker, const char *name);

//  --- the lilac command ----------------------------------------------------------

typedef struct {
    int status;                    //  exit code; 128+signal; -1 if it timed out
    char *out;                     //  everything it wrote to stdout (owned)
    char *err;                     //  everything it wrote to stderr (owned)
    int64_t elapsed_ms;            //  wall time from spawn to exit
} cli_result_t;

typedef struct _cli_t cli_t;

//  Spawns `$LILAC_BIN/lilac ARGS...` (NULL-terminated), environment
//  inherited, stdout/stderr captured into files in dir. NULL on failure.
cli_t *cli_start (const char *dir, const char *arg, ...) __attribute__ ((sentinel));
//  True once the process has exited (does not block).
bool cli_exited (cli_t *self);
//  The file its stdout goes to, borrowed: a test can wait on what a running
//  command printed (file_wait_count).
const char *cli_out_path (cli_t *self);
//  Waits up to timeout_ms (then SIGKILL, status -1), fills *result, destroys
//  the handle. 0, or -1 if the handle was NULL.
int cli_finish (cli_t **self_p, int timeout_ms, cli_result_t *result);
//  cli_start + cli_finish.
int cli_run (const char *dir, int timeout_ms, cli_result_t *result,
             const char *arg, ...) __attribute__ ((sentinel));
void cli_result_free (cli_result_t *result);
//  Runs `$LILAC_BIN/PROGRAM ARGS...` (PROGRAM itself when it is an absolute
//  path: a real client that is not ours; args NULL-terminated, at most 32) to
//  completion within timeout_ms (then SIGKILL, reaped within
//  kill_timeout_ms, status -1), stdout/stderr captured through
//  DIR/STEM-N.out and DIR/STEM-N.err. Fills *result (free with
//  cli_result_free). 0, or -1 if it could not be spawned (status -1).
int command_runv (const char *program, const char *stem, const char *dir, int timeout_ms,
                  int kill_timeout_ms, cli_result_t *result, const char *arg, va_list args);
//  command_runv with its arguments listed (NULL-terminated).
int command_run (const char *program, const char *stem, const char *dir, int timeout_ms,
                 cli_result_t *result, const char *arg, ...) __attribute__ ((sentinel));
//  True if text contains needle after both are stripped of white space, so
//  JSON can be matched as '"state":"raised"' whatever its spacing.
bool text_has (const char *text, const char *needle);

//  --- testbed: what most tests need, in one bundle -----------------------------

typedef struct {
    sandbox_t *sandbox;            //  the temp dir
    broker_process_t *broker;      //  started and answering ping
    zsock_t *push;                 //  PUSH to the broker's ingest
    subscriber_t *sub;             //  SUB to everything, joined
} testbed_t;

//  Sandbox + broker (started) + push + joined subscriber. config NULL means
//  reminder_interval 1s, grace 2s, checkpoint 500ms. NULL on failure (the
//  reason is printed, the sandbox kept).
testbed_t *testbed_new (const char *name, const broker_process_config_t *config);
//  Sends {source, alerts:[{id, raise:"now"}]} and waits (5 s) for its
//  `raised` change; fills *change unless NULL. 0, or -1.
int testbed_raise (testbed_t *self, const char *source, const char *id,
                   alert_change_t *change);
//  Recreates push and subscriber after the broker was restarted.
int testbed_rejoin (testbed_t *self);
//  Stops the broker (SIGTERM) if it runs, closes sockets; keeps the sandbox
//  and prints the broker log if failed (or if the broker did not exit 0).
//  Returns 0, or -1 if the broker had died or did not exit 0 on SIGTERM.
//  NULL is a no-op (returns 0).
int testbed_destroy (testbed_t **self_p, bool failed);
//  A testbed whose database is on a tmpfs of size (disk_mount) in a sandbox
//  of its own, NAME-disk: config's database is set to DISK/lilac.db, and
//  body gets DISK/filler, a path to fill the disk with. body returns whether
//  its case failed (then both sandboxes and the broker log are kept). The
//  tmpfs is unmounted after. 0, or -1 when the sandbox, the tmpfs or the
//  testbed could not be made (printed; body not run).
int testbed_on_tmpfs (const char *name, const char *size, broker_process_config_t config,
                      bool (*body) (testbed_t *bed, const char *filler));

#endif
