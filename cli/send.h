/*  send.h — the parsing half of `lilac send`, public so it can be tested.

    send_parse() turns a `lilac send` command line into a send_request_t:
    the batch options and one send_alert_t per -i, every value checked the
    way the broker will check it. send_pack_batch() writes the request as
    one ingest frame. Nothing here opens a socket; cli_send() (cli.h) does
    that with the result. Strings are borrowed from argv, except the labels,
    which send_request_free() releases.
*/
#ifndef LILAC_CLI_SEND_H
#define LILAC_CLI_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include "cli.h"
#include "wire.h"

//  One alert of the batch: an -i ID and the alert options after it.
typedef struct {
    const char *id;                //  -i: the alert's id
    const char *raise;             //  -r: time spec as typed, or NULL
    const char *clear;             //  -c: time spec as typed, or NULL
    const char *suppress;          //  -e: time spec as typed, or NULL
    const char *subject;           //  -u, or NULL for the source
    const char *summary;           //  -s, or NULL
    const char *detail;            //  -d, or NULL
    const char *level;             //  -l as typed, or NULL
    wire_label_t *labels;          //  --label: owned, label_count entries
    size_t label_count;            //  entries in labels
} send_alert_t;

//  A parsed `lilac send` command line.
typedef struct {
    const char *endpoint;          //  -b PUSH endpoint (implies no_wait), or NULL for the default
    const char *control;           //  -C submit endpoint, or NULL for the default
    bool no_wait;                  //  --no-wait (or -b): PUSH, do not wait for an answer
    const char *source;            //  -o, or NULL for the host name
    bool replace;                  //  -p: clear this source's alerts not in the batch
    int timeout_ms;                //  -t deadline in ms (preset by the caller)
    bool verbose;                  //  -v: print one line per alert sent
    bool help;                     //  -h: print usage, send nothing
    int getopt_failure;            //  '?' or ':' from getopt_long, else 0
    send_alert_t *alerts;          //  owned, alert_count entries, in argv order
    size_t alert_count;            //  entries in alerts
    char error [512];              //  why parsing failed
} send_request_t;

//  Parses argv (argv[0] is "send") into self, which starts zeroed except
//  for timeout_ms, the default deadline. Scans with getopt_long: set
//  optind = 0 first. Returns 0, or -1 with the reason in self->error (or
//  self->getopt_failure set). self->help is set for -h. Call
//  send_request_free() afterwards in every case.
int send_parse (send_request_t *self, int argc, char **argv);

//  Packs the request as one ingest batch into writer, with transmission id
//  tx and the given source.
void send_pack_batch (wire_writer_t *writer, const send_request_t *self,
                      const char *tx, const char *source);

//  Frees the alerts and their labels, leaving alerts NULL and alert_count
//  0. The rest of self is untouched.
void send_request_free (send_request_t *self);

#endif
