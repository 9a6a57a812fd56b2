/*  notifier_process.h — a real lilac notifier (lilac-notify-exec,
    lilac-notify-pushover, ...) as a child process of a test.

    Generic on purpose: the test writes the whole config text (sections
    `notifier`, the destination's own, `rule = NAME`), this module writes it
    to sandbox/NAME.conf and spawns `$LILAC_BIN/PROGRAM -c FILE -v` (LILAC_BIN
    defaults to "bin") with its working directory unchanged, stdout and
    stderr appended to sandbox/NAME.log (kept across restarts, printed as "#"
    lines when the test failed). It can be stopped (SIGTERM), killed
    (SIGKILL) and started again with the same config, so a test can check
    that the cursor in state_dir carries delivery across a crash.
    notifier_process_broker_section() writes the `notifier` section for a
    broker_process_t, so configs need not spell the endpoints.

    Readiness: notifier_process_start() returns once this spawn's log has
    the line notifier_main prints before its loop ("ready: ..."). That is
    not "synced": the feed asks the broker where the stream stands on its
    first turn, so a fresh notifier (no cursor yet) ignores changes
    published before then. A test that needs it synced observes that, e.g.
    by raising a warm-up alert until the destination sees one.

    Every wait is a poll of its condition with a deadline; waitpid is only
    ever called on our own pid.
*/
#ifndef LILAC_NOTIFIER_PROCESS_H
#define LILAC_NOTIFIER_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "harness.h"

#define NOTIFIER_START_DEADLINE_MS  10000   //  "ready" in the log within this
#define NOTIFIER_STOP_DEADLINE_MS   5000    //  exit after SIGTERM within this
#define NOTIFIER_READY_TEXT         " info: ready: "

typedef struct _notifier_process_t notifier_process_t;

//  program: the binary's name in $LILAC_BIN ("lilac-notify-exec"); name: the
//  file stem in the sandbox ("notify" → notify.conf, notify.log). Writes the
//  config. Does not start the notifier. NULL on failure.
notifier_process_t *notifier_process_new (sandbox_t *sandbox, const char *program,
                                          const char *name, const char *config_text);
//  Rewrites the config file (takes effect at the next start). 0 or -1.
int notifier_process_write_config (notifier_process_t *self, const char *config_text);
//  Spawns the notifier and waits for its "ready" line (see above). 0, or
//  -1 (it exited, or it is killed after NOTIFIER_START_DEADLINE_MS).
int notifier_process_start (notifier_process_t *self);
//  SIGTERM and wait. Exit status (0 expected), 128+signal, or -1 if it did
//  not exit within NOTIFIER_STOP_DEADLINE_MS (then it is killed).
int notifier_process_stop (notifier_process_t *self);
//  SIGKILL and reap. 0, or -1 if it was not running.
int notifier_process_kill (notifier_process_t *self);
//  True while alive (reaps it if it exited, and says how).
bool notifier_process_running (notifier_process_t *self);
pid_t notifier_process_pid (notifier_process_t *self);
//  Borrowed paths.
const char *notifier_process_config_path (notifier_process_t *self);
const char *notifier_process_log_path (notifier_process_t *self);
//  Waits until the log holds text at least count times. 0, or -1 at the deadline.
int notifier_process_wait_log (notifier_process_t *self, const char *text, int count,
                               int timeout_ms);
//  How many times the log holds text.
int notifier_process_count_log (notifier_process_t *self, const char *text);
//  Last lines of the log as "#" lines.
void notifier_process_print_log (notifier_process_t *self);
//  Kills it if it still runs; prints its log if failed. NULL is a no-op.
void notifier_process_destroy (notifier_process_t **self_p, bool failed);

//  --- helpers ----------------------------------------------------------------------

//  Writes a `notifier` section for broker (events, control) with state_dir
//  into buffer (the start of a config). Returns buffer.
char *notifier_process_broker_section (broker_process_t *broker, const char *state_dir,
                                       char *buffer, size_t size);
//  Runs `$LILAC_BIN/PROGRAM ARGS...` (NULL-terminated) to completion within
//  timeout_ms, stdout/stderr captured through files in dir (for -n). 0, or
//  -1 if it could not be spawned.
int notifier_command_run (const char *program, const char *dir, int timeout_ms,
                          cli_result_t *result, const char *arg, ...) __attribute__ ((sentinel));

#endif
