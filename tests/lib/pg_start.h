/*  pg_start.h — a real PostgreSQL for a C test, through tests/lib/pg_cluster.

    pg_start (DIR, uri, size) makes DIR (and lets the server's unprivileged
    user through the temp dir above it), starts a cluster there and reads
    its URI; pg_stop (DIR) stops it and removes DIR. Header-only, like
    check.h: a test includes it once. `make test` runs tests from the top of
    the tree, where the script's relative path holds.
*/
#ifndef LILAC_PG_START_H
#define LILAC_PG_START_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

//  Runs `tests/lib/pg_cluster start DIR` (a PostgreSQL of the test's own:
//  `make test` runs from the top of the tree), its URI into uri. The
//  server keeps what it inherits: only 0-2, redirected to files. 0 / -1.
static inline int
pg_start (const char *dir, char *uri, size_t uri_size)
{
    char command [2400], path [600], parent [600];
    //  The server runs as an unprivileged user (as root: lilac-test), who
    //  must get through the temp dir above
    snprintf (parent, sizeof parent, "%.*s", (int) (strrchr (dir, '/') - dir), dir);
    if ((mkdir (dir, 0755) && errno != EEXIST) || chmod (parent, 0755) || chmod (dir, 0755))
        return -1;
    snprintf (path, sizeof path, "%s.uri", dir);
    snprintf (command, sizeof command, "tests/lib/pg_cluster start '%s' > '%s' 2> '%s.log'"
              " < /dev/null", dir, path, dir);
    if (system (command) != 0)
        return -1;
    FILE *file = fopen (path, "r");
    bool read = file && fgets (uri, (int) uri_size, file);
    if (file)
        fclose (file);
    if (!read)
        return -1;
    uri [strcspn (uri, "\n")] = 0;
    return strncmp (uri, "postgresql://", 13) == 0 ? 0 : -1;
}

static inline void
pg_stop (const char *dir)
{
    char command [2400];
    snprintf (command, sizeof command, "tests/lib/pg_cluster stop '%s' > /dev/null 2>&1"
              " < /dev/null; rm -rf '%s' '%s.uri' '%s.log'", dir, dir, dir, dir);
    if (system (command) != 0)
        printf ("#   stopping the cluster in %s failed\n", dir);
}

#endif
