/*  test_session.c — signed session cookies (web/session.c): a cookie made
    is valid until its expiry and only under its binding; any change to it
    is refused; the key is made once, kept, and a damaged key file is
    replaced. Each run works in a fresh directory under /tmp.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../check.h"
#include "../../web/session.h"

static char s_dir [] = "/tmp/lilac-session.XXXXXX";

static void
s_make_and_check (void)
{
    TEST ("a cookie is valid until its expiry, under its binding only");
    char error [256], cookie [SESSION_COOKIE_MAX], name [80];
    session_t *session = session_new (s_dir, error, sizeof error);
    if (!CHECK (session, "session_new: %s", error))
        return;
    CHECK (session_make (session, "alice", "$2b$12$hash", 2000, cookie, sizeof cookie) == 0,
           "make");
    CHECK (strncmp (cookie, "v1.2000.616c696365.", 19) == 0, "form: %s", cookie);
    CHECK (session_name (cookie, name, sizeof name) == 0 && strcmp (name, "alice") == 0,
           "name: %s", name);
    CHECK (session_valid (session, cookie, "$2b$12$hash", 1999), "valid before its expiry");
    CHECK (!session_valid (session, cookie, "$2b$12$hash", 2000), "valid at its expiry");
    CHECK (!session_valid (session, cookie, "$2b$12$other", 1999), "valid under another binding");
    //  Every single-character change is refused.
    size_t length = strlen (cookie);
    int accepted = 0;
    for (size_t index = 0; index < length; index++) {
        char changed [SESSION_COOKIE_MAX];
        memcpy (changed, cookie, length + 1);
        changed [index] = changed [index] == '1' ? '2' : '1';
        accepted += session_valid (session, changed, "$2b$12$hash", 1999);
    }
    CHECK (accepted == 0, "%d changed cookies accepted", accepted);
    //  A later expiry written in without the key is refused.
    char later [SESSION_COOKIE_MAX];
    snprintf (later, sizeof later, "v1.9000%s", cookie + 7);
    CHECK (!session_valid (session, later, "$2b$12$hash", 1999), "a longer life accepted");
    static const char *const bad [] = { "", "v1.", "v2.2000.61.", "v1.x.61.00", "v1.2000.6.",
                                        "v1.2000.0061.aa", "v1.2000..", "v1.99999999999999999999.61." };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++)
        CHECK (session_name (bad [index], name, sizeof name) == -1
               && !session_valid (session, bad [index], "", 0), "'%s' taken", bad [index]);
    CHECK (session_make (session, "", "b", 2000, cookie, sizeof cookie) == -1, "an empty name");
    session_destroy (&session);
}

static void
s_key_file (void)
{
    TEST ("the key is made once (0600) and kept; a damaged key file is replaced");
    char error [256], path [256], first [SESSION_COOKIE_MAX], again [SESSION_COOKIE_MAX];
    snprintf (path, sizeof path, "%s/%s", s_dir, SESSION_KEY_FILE);
    unlink (path);
    session_t *session = session_new (s_dir, error, sizeof error);
    CHECK (session && session_make (session, "bob", "x", 5000, first, sizeof first) == 0, "make");
    session_destroy (&session);
    struct stat status;
    CHECK (stat (path, &status) == 0 && (status.st_mode & 0777) == 0600
           && status.st_size == SESSION_KEY_SIZE, "the key file");
    session = session_new (s_dir, error, sizeof error);
    CHECK (session && session_valid (session, first, "x", 100), "the kept key lost the cookie");
    session_destroy (&session);
    FILE *file = fopen (path, "w");
    CHECK (file && fputs ("short", file) >= 0 && fclose (file) == 0, "damage");
    session = session_new (s_dir, error, sizeof error);
    CHECK (session != NULL, "a damaged key file stopped it: %s", error);
    CHECK (stat (path, &status) == 0 && status.st_size == SESSION_KEY_SIZE, "not replaced");
    CHECK (session && session_make (session, "bob", "x", 5000, again, sizeof again) == 0
           && strcmp (first, again) != 0 && !session_valid (session, first, "x", 100),
           "the old cookie still valid under a new key");
    session_destroy (&session);
    CHECK (session_new ("/nonexistent/lilac", error, sizeof error) == NULL && *error,
           "an unwritable state directory");
}

int
main (void)
{
    if (!mkdtemp (s_dir)) {
        TEST ("mkdtemp");
        CHECK (false, "%s", strerror (errno));
        return check_done ();
    }
    s_make_and_check ();
    s_key_file ();
    char path [256];
    snprintf (path, sizeof path, "%s/%s", s_dir, SESSION_KEY_FILE);
    unlink (path);
    rmdir (s_dir);
    return check_done ();
}
