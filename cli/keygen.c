/*  keygen.c — `lilac keygen`: CURVE certificates for lilac (README "Security").

    A certificate is czmq's pair of files: NAME holds the public key and
    the metadata, NAME_secret the same plus the secret key, mode 0600. The
    broker's `security/clients` directory holds clients' PUBLIC files; its
    metadata is what the broker trusts: `name` (NAME: who acts with it,
    recorded as `by` on an ack, unack or clear), `source` (the only source
    this client may send for, unless its role is relay or gateway) and
    `role` (agent, relay, reader, admin, gateway). `--server` makes the broker's own pair, "broker" and
    "broker_secret": clients give the public file (or the key it prints) as
    --server-key.

    Existing files are never overwritten: a lost secret key is replaced by
    a new name or by removing the old files by hand, deliberately.
*/
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include "signals.h"
#include "wire.h"

#define KEYGEN_PATH_MAX 1024

const char cli_keygen_usage[] =
    "usage: lilac keygen NAME [--source SOURCE] [--role ROLE] [-d DIR]\n"
    "       lilac keygen --server [-d DIR]\n"
    "\n"
    "Writes a CURVE certificate: DIR/NAME (public: copy it into the broker's\n"
    "clients directory) and DIR/NAME_secret (mode 0600: keep it on the client).\n"
    "\n"
    "  -o, --source SOURCE  the source this client sends as (default NAME)\n"
    "  -r, --role ROLE      agent (default): sends events for its own source\n"
    "                       relay: sends events for any source\n"
    "                       reader: may also ping, stats, list, get, snapshot, since,\n"
    "                       history\n"
    "                       admin: a reader that may also ack, unack, clear, suppress\n"
    "                       gateway: relay and admin in one, whose --by the broker\n"
    "                       trusts (lilac-web; every other role acts as NAME)\n"
    "  -d, --dir DIR        where to write (default .; made when missing)\n"
    "      --server         the broker's pair, DIR/broker and DIR/broker_secret\n";

static const char *const s_roles [] = { "agent", "relay", "reader", "admin", "gateway", NULL };

static bool
s_role_valid (const char *role)
{
    for (int index = 0; s_roles [index]; index++)
        if (streq (s_roles [index], role))
            return true;
    return false;
}

//  A file name of its own: no path separator, not hidden, a valid name.
static bool
s_file_name_valid (const char *name)
{
    return wire_name_valid (name) && !strchr (name, '/') && name [0] != '.'
        && strlen (name) < 200;
}

static int
s_write (const char *dir, const char *name, const char *source, const char *role)
{
    char public_path [KEYGEN_PATH_MAX], secret_path [KEYGEN_PATH_MAX];
    snprintf (public_path, sizeof public_path, "%s/%s", dir, name);
    snprintf (secret_path, sizeof secret_path, "%s/%s_secret", dir, name);
    struct stat info;
    char error [512];
    if (stat (dir, &info) != 0 && paths_make_dirs (dir, error, sizeof error))
        return cli_fail ("keygen", "%s", error);          //  -d DIR is made when missing
    if (stat (dir, &info) != 0 || !S_ISDIR (info.st_mode))
        return cli_fail ("keygen", "%s is not a directory", dir);
    if (access (public_path, F_OK) == 0 || access (secret_path, F_OK) == 0)
        return cli_fail ("keygen", "%s or %s already exists: not overwritten",
                         public_path, secret_path);
    zcert_t *cert = zcert_new ();
    if (!cert)
        return cli_fail ("keygen", "cannot make a key pair");
    if (role)                      //  a client's: the broker's own pair has no name
        zcert_set_meta (cert, "name", "%s", name);
    if (source)
        zcert_set_meta (cert, "source", "%s", source);
    if (role)
        zcert_set_meta (cert, "role", "%s", role);
    //  The secret file is created with umask 077, so it is never readable
    //  by others, not even for a moment
    mode_t mask = umask (077);
    int rc = zcert_save_secret (cert, secret_path);
    umask (mask);
    if (rc == 0)
        rc = chmod (secret_path, 0600);
    if (rc == 0)
        rc = zcert_save_public (cert, public_path);
    int status = CLI_EXIT_OK;
    if (rc != 0) {
        status = cli_fail ("keygen", "cannot write %s: %s", rc ? secret_path : public_path,
                           strerror (errno));
        unlink (secret_path);
    }
    else
    if (role)
        printf ("wrote %s (public: copy it into the broker's clients directory)\n"
                "  and %s (secret, mode 0600: keep it on the client, give it as --cert)\n"
                "  name %s, source %s, role %s, public key %s\n",
                public_path, secret_path, name, source, role, zcert_public_txt (cert));
    else
        printf ("wrote %s (public: give it, or the key below, to clients as --server-key)\n"
                "  and %s (secret, mode 0600: the broker's security/cert)\n"
                "  public key %s\n", public_path, secret_path, zcert_public_txt (cert));
    zcert_destroy (&cert);
    return status;
}

int
cli_keygen (cli_t *cli, int argc, char **argv)
{
    (void) cli;
    enum { OPT_SERVER = 1000 };
    static const struct option long_options [] = {
        { "source", required_argument, NULL, 'o' },
        { "role", required_argument, NULL, 'r' },
        { "dir", required_argument, NULL, 'd' },
        { "server", no_argument, NULL, OPT_SERVER },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *source = NULL, *role = NULL, *dir = ".";
    bool server = false;
    opterr = 0;
    int option;
    while ((option = getopt_long (argc, argv, ":o:r:d:h", long_options, NULL)) != -1)
        switch (option) {
            case 'o': source = optarg; break;
            case 'r': role = optarg; break;
            case 'd': dir = optarg; break;
            case OPT_SERVER: server = true; break;
            case 'h': fputs (cli_keygen_usage, stdout); return CLI_EXIT_OK;
            default:
                return cli_option_error ("keygen", cli_keygen_usage, option, argc, argv);
        }
    if (!zsys_has_curve ())
        return cli_fail ("keygen", "this libzmq was built without CURVE security (libsodium)");
    if (server) {
        if (optind != argc || source || role)
            return cli_usage_error ("keygen", cli_keygen_usage,
                                    "--server takes no NAME, --source or --role");
        return s_write (dir, "broker", NULL, NULL);
    }
    if (optind >= argc)
        return cli_usage_error ("keygen", cli_keygen_usage, "which NAME?");
    if (optind + 1 != argc)
        return cli_usage_error ("keygen", cli_keygen_usage, "unexpected argument '%s'",
                                argv [optind + 1]);
    const char *name = argv [optind];
    if (!s_file_name_valid (name))
        return cli_usage_error ("keygen", cli_keygen_usage,
                                "'%s' is not a usable NAME (a file name: no '/', no leading '.')",
                                name);
    if (!source)
        source = name;
    char error [256];
    if (cli_check_name ("--source", source, error, sizeof error))
        return cli_usage_error ("keygen", cli_keygen_usage, "%s", error);
    if (!role)
        role = "agent";
    if (!s_role_valid (role))
        return cli_usage_error ("keygen", cli_keygen_usage,
                                "--role: '%s' is not agent, relay, reader, admin or gateway",
                                role);
    return s_write (dir, name, source, role);
}
