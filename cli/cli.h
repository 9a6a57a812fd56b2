/*  cli.h — what the files of the `lilac` command share.

    `lilac` is a thin dispatcher (main.c) over one file per family of
    subcommands: send.c (the ingest client), tap.c (a live view of the
    change bus), control.c (list get ack unack clear suppress stats, the
    control-socket client) and silence.c (silence add|list|expire).
    Global options (-C EP, -t SECONDS) are parsed by
    main.c into a cli_t and may be repeated after the subcommand, where they
    override. Helpers for checking user input before anything is sent live
    in options.c, so that each family reports a bad time, level or name the
    same way, and so that tests can call them. For the same reason the
    parsers of send and of the control commands have their own headers,
    send.h and control.h; everything else in those files is static.

    Exit status, everywhere: 0 success, 1 a runtime failure (no broker, the
    broker said no), 2 wrong usage or input that does not validate
    (CLI_EXIT_USAGE).
*/
#ifndef LILAC_CLI_H
#define LILAC_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_EXIT_OK           0
#define CLI_EXIT_FAILURE      1
#define CLI_EXIT_USAGE        2

#define CLI_DEFAULT_TIMEOUT_MS  5000      //  -t default: 5 s
#define CLI_MAX_TIMEOUT_MS      86400000  //  -t at most one day

//  Settings shared by every subcommand.
typedef struct {
    const char *control;           //  -C endpoint, or NULL for $LILAC_CONTROL / default
    int timeout_ms;                //  -t deadline in ms, or 0 for the default
    const char *broker;            //  -b before the command (send's PUSH endpoint), or NULL
} cli_t;

//  One subcommand: name, entry point (argv[0] is the subcommand's name),
//  its usage text.
typedef int (cli_command_fn) (cli_t *cli, int argc, char **argv);

int cli_send (cli_t *cli, int argc, char **argv);
int cli_tap (cli_t *cli, int argc, char **argv);
int cli_list (cli_t *cli, int argc, char **argv);
int cli_get (cli_t *cli, int argc, char **argv);
int cli_ack (cli_t *cli, int argc, char **argv);
int cli_unack (cli_t *cli, int argc, char **argv);
int cli_clear (cli_t *cli, int argc, char **argv);
int cli_suppress (cli_t *cli, int argc, char **argv);
int cli_stats (cli_t *cli, int argc, char **argv);
int cli_ping (cli_t *cli, int argc, char **argv);
int cli_delete (cli_t *cli, int argc, char **argv);
int cli_history (cli_t *cli, int argc, char **argv);
int cli_keygen (cli_t *cli, int argc, char **argv);
int cli_silence (cli_t *cli, int argc, char **argv);

extern const char cli_send_usage[];
extern const char cli_tap_usage[];
extern const char cli_list_usage[];
extern const char cli_get_usage[];
extern const char cli_ack_usage[];
extern const char cli_unack_usage[];
extern const char cli_clear_usage[];
extern const char cli_suppress_usage[];
extern const char cli_stats_usage[];
extern const char cli_history_usage[];
extern const char cli_keygen_usage[];
extern const char cli_silence_usage[];

//  --- options.c: checking input, reporting errors --------------------------

//  The control client every command uses: ctl_new, watching the connection
//  so a refused connection or a failed handshake is said at once, by name
//  (ctl_watch_connection). NULL with the reason in error.
struct _ctl_t *cli_ctl_open (const char *endpoint, int timeout_ms, char *error,
                             size_t error_size);

//  Prints "lilac COMMAND: message" and "try 'lilac COMMAND --help'" on
//  stderr (one line of what is wrong, not a page of usage), and returns
//  CLI_EXIT_USAGE. A NULL format prints the usage instead.
int cli_usage_error (const char *command, const char *usage, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
//  Prints "lilac COMMAND: message" on stderr and returns CLI_EXIT_FAILURE.
int cli_fail (const char *command, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
//  Reports a getopt failure ('?' or ':' from getopt_long with opterr 0)
//  and returns CLI_EXIT_USAGE.
int cli_option_error (const char *command, const char *usage, int result,
                      int argc, char **argv);

//  Each check returns 0, or -1 with a sentence in error ("-r: 'xyz' is not
//  a time (try ...)") naming the option as `what`.
//  A time in local time ("tomorrow 09:00", an ISO time without a zone) is
//  the user's zone, not the broker's: it is rewritten in place as epoch
//  seconds, which is never longer than such a spec (text is argv's).
int cli_check_time (const char *what, char *text, char *error, size_t error_size);
int cli_check_name (const char *what, const char *text, char *error, size_t error_size);
int cli_check_text (const char *what, const char *text, size_t max_bytes,
                    char *error, size_t error_size);
int cli_check_level (const char *what, const char *text, char *error, size_t error_size);
//  "K=V": splits into fresh *key and *value (caller frees) after checking
//  them against the label limits of wire.h.
int cli_parse_label (const char *what, const char *text, char **key, char **value,
                     char *error, size_t error_size);
//  Seconds (decimals allowed, > 0, at most a day) into ms.
int cli_parse_timeout (const char *what, const char *text, int *timeout_ms,
                       char *error, size_t error_size);
//  A whole number in [min, max].
int cli_parse_count (const char *what, const char *text, long min, long max,
                     long *value, char *error, size_t error_size);

//  The deadline in ms: -t, else CLI_DEFAULT_TIMEOUT_MS.
int cli_timeout_ms (const cli_t *cli);
//  First non-empty of: given, $variable, fallback.
const char *cli_endpoint (const char *given, const char *variable, const char *fallback);
//  Who acts: $USER, else the login name, else "unknown". Borrowed.
const char *cli_user_name (void);
//  Copies text to out, replacing control characters by spaces, so a line
//  stays one line on a terminal.
void cli_print_plain (FILE *out, const char *text);

#endif
