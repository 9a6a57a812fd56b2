/*  control.h — the parsing half of the control commands (list get ack
    unack clear suppress stats), public so it can be tested.

    control_args_parse() reads one control command's line into a
    control_args_t, with every argument checked the way the broker will
    check it, and fills in the defaults (endpoint, deadline, --by). The
    request, the reply and the printing stay in control.c, behind
    cli_list() ... cli_stats() (cli.h). Strings are borrowed from argv, the
    environment or cli; nothing needs freeing.
*/
#ifndef LILAC_CLI_CONTROL_H
#define LILAC_CLI_CONTROL_H

#include <stdbool.h>
#include "cli.h"

#define CONTROL_MAX_POSITIONALS  3      //  suppress SOURCE ID TIME

//  What a command takes (its options and positional count): a row of
//  control.c's table, opaque here.
typedef struct control_command control_command_t;

//  A parsed control command line.
typedef struct {
    const control_command_t *command;   //  the command parsed for
    const char *endpoint;          //  control endpoint: -C, $LILAC_CONTROL or default
    int timeout_ms;                //  deadline for the reply
    bool json;                     //  --json: print the reply as JSON
    char state [64];               //  --state, normalized ("raised,acked"), or ""
    bool all;                      //  list --all: cleared ones too
    bool utc;                      //  --utc: times in UTC, not local time
    const char *source_glob;       //  --source, or NULL
    const char *id_glob;           //  --id, or NULL
    long limit;                    //  --limit, 0 unset
    long before;                   //  --before SEQ (history), 0 unset
    const char *until;             //  --until time spec, or NULL
    const char *by;                //  --by, else $USER...
    const char *note;              //  --note, or NULL
    char *positional [CONTROL_MAX_POSITIONALS];   //  SOURCE ID [TIME], argv's (a time may be rewritten)
} control_args_t;

//  Parses argv (argv[0] is the command's name) for the control command
//  `name`, one of list get ack unack clear suppress stats (anything else
//  is a programmer error). cli holds the -C and -t given before the
//  command; the ones after it override. self is zeroed first. Scans with
//  getopt_long: set optind = 0 before. Returns -1 when self is ready to be
//  sent, else the exit status to end with: CLI_EXIT_OK after printing the
//  usage for --help, CLI_EXIT_USAGE after reporting wrong usage on stderr.
int control_args_parse (control_args_t *self, const char *name, const cli_t *cli,
                        int argc, char **argv);

#endif
