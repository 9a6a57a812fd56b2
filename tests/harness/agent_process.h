/*  agent_process.h — the real lilac-agent as a child process of a test.

    An agent_process_t writes sandbox/agent.conf for one agent that speaks
    to one broker_process_t (its ingest and publish endpoints), listens on
    ipc://SANDBOX/agent.sock, keeps its state in SANDBOX/agent-state, and
    runs the checks the test gives it. It is
    spawned as `$LILAC_BIN/lilac-agent -c FILE -v` with stdout and stderr
    appended to sandbox/agent.log, which is printed as "#" lines when the
    test failed. The config can be rewritten at any time (then SIGHUP).

    Readiness is observed, not timed: agent_process_start() returns once the
    broker holds the agent's `heartbeat` alert updated after the spawn
    (control `get`, polled with a deadline). When the broker is not running
    (or the heartbeat is disabled) it only waits for the local endpoint's
    socket file to exist.

    Also here, because agent tests need them: running `lilac-agent -n`,
    reading /proc/PID/status, making the test binary a child subreaper (so
    the killed grandchildren of checks are reparented to it and can be
    reaped, even where PID 1 reaps nothing), and polling `get` for an
    alert. The file helpers (file_write_text, file_has_text,
    file_count_text) are in harness.h. Every wait is bounded by a deadline.
*/
#ifndef LILAC_AGENT_PROCESS_H
#define LILAC_AGENT_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "harness.h"

#define AGENT_START_DEADLINE_MS  10000  //  heartbeat at the broker within this
#define AGENT_STOP_DEADLINE_MS   5000   //  exit after SIGTERM within this

//  One `check = NAME` section. NULL values are left out (agent defaults).
typedef struct {
    const char *name;
    const char *command;           //  written as a quoted ZPL string
    const char *interval;          //  "1s"
    const char *timeout;           //  "2s"
    const char *warning_level;
    const char *critical_level;
} agent_check_spec_t;

//  Agent settings; NULL values are left out of the file (agent defaults),
//  except source ("web1" when NULL).
typedef struct {
    const char *source;
    const char *allow_other_sources;   //  "yes" / "no"
    const char *max_alerts;
    const char *resync;
    const char *max_running;
    bool heartbeat_disabled;       //  enabled = no
    const char *heartbeat_interval;    //  default here "500ms"
    const char *heartbeat_raise;       //  default here "+2s"
    const char *heartbeat_level;
    const char *heartbeat_summary;
    const char *cert;                  //  agent/cert: its secret certificate file
    const char *server_key;            //  agent/server_key: the broker's public key or file
    bool source_from_cert;             //  leave agent/source out: the certificate names it
                                       //  (source is still what the test expects)
    const char *control;               //  agent/control instead of the broker's (a list of
                                       //  brokers' endpoints), or NULL
    const char *events;                //  agent/events likewise, or NULL
} agent_process_config_t;

typedef struct _agent_process_t agent_process_t;

//  Writes sandbox/agent.conf (config NULL: all defaults above) with checks.
//  Does not start the agent. NULL on failure.
agent_process_t *agent_process_new (sandbox_t *sandbox, broker_process_t *broker,
                                    const agent_process_config_t *config,
                                    const agent_check_spec_t *checks, size_t check_count);
//  Rewrites the config file with the same settings and these checks
//  (for a SIGHUP reload). 0 or -1.
int agent_process_write_checks (agent_process_t *self, const agent_check_spec_t *checks,
                                size_t check_count);
//  Spawns the agent and waits until it is ready (see above). Returns 0, or
//  -1 (the agent is killed).
int agent_process_start (agent_process_t *self);
//  SIGTERM and wait. Exit status (0 expected), 128+signal, or -1 if it did
//  not exit within AGENT_STOP_DEADLINE_MS (then it is killed).
int agent_process_stop (agent_process_t *self);
//  SIGKILL and reap. 0, or -1 if it was not running.
int agent_process_kill (agent_process_t *self);
//  SIGHUP. 0, or -1 if it is not running.
int agent_process_hup (agent_process_t *self);
//  True while alive (reaps it if it exited, and says so).
bool agent_process_running (agent_process_t *self);
pid_t agent_process_pid (agent_process_t *self);
//  Wall-clock ms of the last spawn.
int64_t agent_process_spawned_at (agent_process_t *self);
//  Borrowed: the source, the local endpoint (ipc://...), the config path,
//  the log path, the state directory.
const char *agent_process_source (agent_process_t *self);
//  Its local submit endpoint (ipc://SANDBOX/agent-submit.sock), borrowed.
const char *agent_process_submit (agent_process_t *self);
const char *agent_process_listen (agent_process_t *self);
const char *agent_process_config_path (agent_process_t *self);
const char *agent_process_log_path (agent_process_t *self);
const char *agent_process_state_dir (agent_process_t *self);
//  A "Vm..." field of /proc/PID/status in KiB ("VmRSS", "VmHWM"), or -1.
int64_t agent_process_status_kb (agent_process_t *self, const char *field);
//  Waits until the agent's log contains text. 0, or -1 at the deadline.
int agent_process_wait_log (agent_process_t *self, const char *text, int timeout_ms);
//  Last lines of the agent log as "#" lines.
void agent_process_print_log (agent_process_t *self);
//  Kills the agent if it still runs; prints its log if failed. NULL no-op.
void agent_process_destroy (agent_process_t **self_p, bool failed);

//  PUSHes count events to the agent's local endpoint, per_frame to a frame
//  (at most 1000), all for source: event with its id replaced by
//  id_format printed with 0, 1, ... ("bulk-%05d"). 0, or -1 (printed) when
//  a frame was not taken within 5 s.
int agent_push_ids (agent_process_t *self, const char *source, const char *id_format,
                    int count, int per_frame, const event_spec_t *event);

//  --- helpers --------------------------------------------------------------------

//  Runs `$LILAC_BIN/lilac-agent ARGS...` (NULL-terminated) to completion
//  within timeout_ms, capturing stdout/stderr into files in dir, like
//  cli_run. 0, or -1 if it could not be spawned.
int agent_command_run (const char *dir, int timeout_ms, cli_result_t *result,
                       const char *arg, ...) __attribute__ ((sentinel));
//  Makes this process a child subreaper (prctl PR_SET_CHILD_SUBREAPER). 0 or -1.
int harness_become_subreaper (void);
//  True once pid no longer exists: reaps it first if it is our (zombie)
//  child, then kill(pid, 0) == -1 with ESRCH.
bool process_gone (pid_t pid);
//  Waits until every pid listed in path (one a line) is gone, all within
//  one deadline of timeout_ms; a survivor is noted and SIGKILLed. Returns
//  how many pids the file listed (-1 when it cannot be read); *alive says
//  how many had survived.
int pids_gone (const char *path, int timeout_ms, int *alive);
//  Polls `get` (source, id) until the row has state (and level unless
//  level < 0, and a summary starting with summary_prefix unless NULL), for
//  at most timeout_ms. Fills *alert with the last row seen (caller frees
//  with alert_clear_fields; zeroed when none) and returns 0 on a match, -1
//  at the deadline.
int wait_alert (broker_process_t *broker, const char *source, const char *id,
                alert_state_t state, int level, const char *summary_prefix,
                int timeout_ms, alert_t *alert);

#endif
