/*  agent_config.h — lilac-agent's settings, read from a ZPL file.

    Sections (see configs/agent.conf, where every key is commented):
      agent       broker, events, listen, source, allow_other_sources,
                  max_alerts, resync, max_running, state_dir, cert, server_key
      heartbeat   enabled, interval, raise, summary, detail, level
      check = NAME   (any number) command, interval, timeout,
                  warning_level, critical_level
    Every problem is reported, not the first: agent_config_load and the
    agent_config_verify_* checks add each error and warning, with its
    file:line (or the option, variable or default it came from), to an
    config_report_t, and the caller prints them all. `-n` runs every check a
    start runs. A config with errors is not used, so SIGHUP with a bad file
    keeps the running one.
*/
#ifndef LILAC_AGENT_CONFIG_H
#define LILAC_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "alert.h"
#include "config.h"
#include "config_report.h"

typedef struct {
    char *name;                    //  the check's alert id
    char *command;                 //  run with /bin/sh -c
    char *command_at;              //  "FILE:LINE" of its command
    int64_t interval;              //  ms between starts
    int64_t timeout;               //  ms before its process group is killed
    alert_level_t warning_level;   //  level for exit 1
    alert_level_t critical_level;  //  level for exit 2, 3, timeouts, failures
} check_config_t;

typedef struct {
    char *config_file;             //  where it came from, or NULL
    char *broker;                  //  the broker's ingest endpoint (unused since submit; kept
                                   //  so that older configs still load)
    char *control;                 //  the broker's control endpoint (submit to it)
    char *events;                  //  the broker's publish endpoint (hugz)
    char *listen;                  //  local ingest endpoint (PULL)
    char *submit;                  //  local submit endpoint (ROUTER), "" for the derived one
    char *source;                  //  our source name
    char *source_at;               //  where it was set: "FILE:LINE", "--source", or NULL
    char *state_dir;               //  where the held alerts are kept on disk
    char *cert;                    //  CURVE: our secret certificate file, or NULL
    char *server_key;              //  CURVE: the broker's public key or its file, or NULL
    char *broker_at, *events_at, *listen_at, *state_dir_at, *cert_at, *server_key_at;
    char *control_at, *submit_at;
                                   //  where each was set, as source_at; NULL: default
    char *heartbeat_at;            //  "FILE:LINE" of heartbeat/interval (else raise), or NULL
    bool allow_other_sources;      //  may local senders claim another source?
    int64_t max_alerts;            //  most distinct alerts held
    int64_t resync;                //  ms between full replace batches
    int64_t max_running;           //  checks running at once
    bool heartbeat;                //  send a heartbeat?
    int64_t heartbeat_interval;    //  ms between heartbeats
    int64_t heartbeat_raise;       //  ms after a heartbeat that it raises
    char *heartbeat_summary;       //  its summary
    char *heartbeat_detail;        //  its detail, or NULL
    alert_level_t heartbeat_level; //  its level
    check_config_t *checks;        //  check_count checks, in file order
    size_t check_count;
} agent_config_t;

//  Defaults, then path (NULL: defaults only), reading on past errors so
//  that all are in report. 0, or -1 when it added errors. The caller frees
//  config with agent_config_free either way.
int agent_config_load (agent_config_t *config, const char *path, config_report_t *report);
//  What start needs of the settings bound at start, after options and the
//  environment: every endpoint has a transport; CURVE keys both or neither,
//  readable and well formed (and then set up for bus_open, as
//  bus_secure_client does); the certificate's source (below); state_dir
//  can be made and written. Errors, plus a warning for allow_other_sources
//  without a relay certificate.
void agent_config_verify_bound (agent_config_t *config, config_report_t *report);
//  What reload also checks, all warnings: a heartbeat interval above half
//  its raise (one late beat raises it); a check command that is not found
//  or not executable (a warning, not an error: the check then raises its
//  own alert "exit code 127", which is loud, while refusing to start would
//  silence the heartbeat and every other check of the server; and a
//  unit's PATH may differ from the one -n is run with).
void agent_config_verify_checks (const agent_config_t *config, config_report_t *report);
void agent_config_free (agent_config_t *config);
//  The default local endpoint: ipc:///run/lilac/agent.sock for root,
//  else under $XDG_RUNTIME_DIR/lilac, else /tmp/lilac-UID. Fresh string.
char *agent_default_listen (void);
//  The local submit endpoint: agent/submit, else beside an ipc:// listen
//  endpoint ("ipc://DIR/agent.sock" → "ipc://DIR/agent-submit.sock"),
//  else NULL (no local submit). Caller frees.
char *agent_submit_endpoint (const agent_config_t *config);
//  The default state directory: /var/lib/lilac-agent for root (systemd's
//  StateDirectory=lilac-agent), else $XDG_STATE_HOME/lilac/agent, else
//  ~/.local/state/lilac/agent, else /tmp/lilac-UID/agent. Fresh string.
char *agent_default_state_dir (void);
//  With a certificate, the source is the certificate's, as the broker reads
//  it (metadata `source`; role `relay` may send for any source): no source
//  configured → the certificate's; a configured one that differs, or a
//  non-relay certificate that names no source, is an error (the broker
//  would refuse every event as spoofed). Call after options and the
//  environment are applied. 0, or -1 with "WHERE: why" (both names) in
//  error. Without a certificate, a no-op.
int agent_config_certificate_source (agent_config_t *config, char *error, size_t error_size);
//  The check called name, or NULL.
const check_config_t *agent_config_check (const agent_config_t *config, const char *name);

#endif
