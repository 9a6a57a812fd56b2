/*  broker.h — lilac-broker: one thread, one loop, no locks (architecture §4).

    The loop (broker.c) polls the ingest PULL, the control ROUTER and a
    signalfd, and sleeps exactly until the earliest of: the first due
    alert, the next hugz, the next slice of unwritten heartbeat refreshes,
    the next retention run. Each turn it drains up to `batch` ingest frames
    and answers control requests into the core (core.h), which fires due
    alerts — all in memory — then writes the alerts that changed and their
    history rows in one transaction, and only after COMMIT publishes the
    changes; the loop then sends the control replies that waited. Nothing
    is published that is not committed. Then, in transactions of their
    own, the core writes the refreshes that are due (their times only) and
    copies the SQLite log into the database when it has grown.
*/
#ifndef LILAC_BROKER_H
#define LILAC_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config_report.h"

typedef struct {
    char *config_file;             //  where these came from, for messages, or NULL
    char *ingest;                  //  PULL endpoint
    char *publish;                 //  PUB endpoint
    char *control;                 //  ROUTER endpoint
    char *database;                //  SQLite file
    int64_t reminder_interval;     //  ms between reminders
    int64_t grace;                 //  ms of restart grace
    int64_t retention;             //  ms to keep cleared alerts and history
    int64_t checkpoint;            //  ms between writes of bare refreshes
    int64_t batch;                 //  ingest frames per turn
    int64_t standbys;              //  brokers that should wait as standbys (PostgreSQL);
                                   //  fewer waiting: degraded
    bool insecure;                 //  broker/insecure: may bind beyond loopback without security
    bool durability_full;          //  broker/durability: fsync every commit (else at checkpoints)
    char *security_cert;           //  security/cert: the broker's secret certificate, or NULL
    char *security_clients;        //  security/clients: directory of allowed public certificates
    char *origins [3];             //  "FILE:LINE" (or "--ingest") of ingest, publish, control
    char *database_at;             //  "FILE:LINE" (or "--db") of database, or NULL
    char *standbys_at;             //  "FILE:LINE" of standbys, or NULL
    char *security_cert_at;        //  "FILE:LINE" of security/cert, or NULL
} broker_config_t;

//  Fills config with defaults, then with the `broker` and `security`
//  sections of path (if path is not NULL). Every problem goes to report
//  ("FILE:LINE: why"), not the first; 0, or -1 when it added errors.
int broker_config_load (broker_config_t *config, const char *path, config_report_t *report);
//  What a start needs beyond the file's syntax, checked at -n and at start
//  alike (after the command-line overrides), every problem into report:
//  each endpoint names a transport and an address; without a security
//  section every endpoint is loopback (127.0.0.0/8, ::1, localhost, ipc://,
//  inproc://) unless `insecure = yes` (*exposed says whether one is not, to
//  warn about); the database's directory exists; the certificate is
//  readable and holds a matching key pair.
void broker_config_verify (broker_config_t *config, bool *exposed, config_report_t *report);
//  True if every endpoint of the comma-separated list is loopback-only.
bool broker_endpoint_is_local (const char *endpoints);
//  A deep copy of from into to (free it with broker_config_free).
void broker_config_copy (broker_config_t *to, const broker_config_t *from);
void broker_config_free (broker_config_t *config);

typedef struct _broker_t broker_t;

//  Opens the database, loads alerts, binds the sockets. NULL with a reason
//  in error. The broker copies config.
broker_t *broker_new (const broker_config_t *config, char *error, size_t error_size);
void broker_destroy (broker_t **self_p);
//  Runs until SIGINT or SIGTERM, then commits and returns 0; -1 if the
//  signal fd could not be set up.
int broker_run (broker_t *self);

#endif
