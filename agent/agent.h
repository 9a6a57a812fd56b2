/*  agent.h — lilac-agent: one server's alerts, kept flowing to the broker.

    One thread, one loop (like the broker): a PUSH to the broker's ingest, a
    SUB to its hugz (to know whether it is there), a PULL on the local
    endpoint for `lilac send -b ipc://...`, the pipes of running checks and a
    signalfd. Everything the agent hears — its heartbeat, its checks' results,
    local senders' events — goes into the latest-state table, and the loop
    hands dirty entries to the broker whenever it can. See architecture §5.
*/
#ifndef LILAC_AGENT_H
#define LILAC_AGENT_H

#include <stddef.h>
#include "agent_config.h"

typedef struct _agent_t agent_t;

//  Opens the sockets. Takes over config (and zeroes it). NULL with a reason
//  in error.
agent_t *agent_new (agent_config_t *config, char *error, size_t error_size);
void agent_destroy (agent_t **self_p);
//  Runs until SIGINT or SIGTERM; SIGHUP reloads the config file. Returns 0,
//  or -1 if the signal fd could not be set up.
int agent_run (agent_t *self);

#endif
