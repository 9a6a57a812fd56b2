/*  test_session.c — signed session cookies (web/session.c): a cookie made
    is valid within the lifetime only (the one configured now, so a shorter
    setting shortens cookies already out) and under its binding only; any
    change to it is refused; a logout ends every cookie of that user issued
    until then, kept across a restart, and a login after it works; the key
    is made once and kept, a key file of the wrong size is replaced, an
    unreadable one stops the start. Each run works in a fresh directory
    under /tmp.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../check.h"
#include "../../web/session.h"

#define S_HOUR_MS  INT64_C (3600000)
#define S_T0       INT64_C (1795000000000)

static char s_dir [] = "/tmp/lilac-session.XXXXXX";

static void
s_make_and_check (void)
{
    TEST ("a cookie is valid within the lifetime, under its binding only; changes refused");
    char error [256], cookie [SESSION_COOKIE_MAX], name [80];
    session_t *session = session_new (s_dir, S_HOUR_MS, error, sizeof error);
    if (!CHECK (session, "session_new: %s", error))
        return;
    CHECK (session_make (session, "alice", "$2b$12$hash", S_T0, cookie, sizeof cookie) == 0,
           "make");
    CHECK (strncmp (cookie, "v1.1795000000000.616c696365.", 28) == 0, "form: %s", cookie);
    CHECK (session_name (cookie, name, sizeof name) == 0 && strcmp (name, "alice") == 0,
           "name: %s", name);
    CHECK (session_valid (session, cookie, "$2b$12$hash", S_T0 + S_HOUR_MS - 1), "in its hour");
    CHECK (!session_valid (session, cookie, "$2b$12$hash", S_T0 + S_HOUR_MS), "past its hour");
    CHECK (!session_valid (session, cookie, "$2b$12$other", S_T0), "under another binding");
    size_t length = strlen (cookie);
    int accepted = 0;
    for (size_t index = 0; index < length; index++) {
        char changed [SESSION_COOKIE_MAX];
        memcpy (changed, cookie, length + 1);
        changed [index] = changed [index] == '1' ? '2' : '1';
        accepted += session_valid (session, changed, "$2b$12$hash", S_T0);
    }
    CHECK (accepted == 0, "%d changed cookies accepted", accepted);
    static const char *const bad [] = { "", "v1.", "v2.2000.61.", "v1.x.61.00", "v1.2000.6.",
                                        "v1.2000.0061.aa", "v1.2000..",
                                        "v1.99999999999999999999.61." };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++)
        CHECK (session_name (bad [index], name, sizeof name) == -1
               && !session_valid (session, bad [index], "", 0), "'%s' taken", bad [index]);
    CHECK (session_make (session, "", "b", S_T0, cookie, sizeof cookie) == -1, "an empty name");
    session_destroy (&session);
    //  The same key, a shorter lifetime: the cookie ends sooner.
    CHECK (session_make ((session = session_new (s_dir, S_HOUR_MS, error, sizeof error)),
                         "alice", "h", S_T0, cookie, sizeof cookie) == 0, "make");
    session_destroy (&session);
    session = session_new (s_dir, 60000, error, sizeof error);
    CHECK (session && !session_valid (session, cookie, "h", S_T0 + 60000)
           && session_valid (session, cookie, "h", S_T0 + 59999),
           "a shorter session_lifetime did not shorten the cookie");
    session_destroy (&session);
}

static void
s_logout (void)
{
    TEST ("a logout ends the user's cookies issued until then, across a restart; not others'");
    char error [256], alice [SESSION_COOKIE_MAX], bob [SESSION_COOKIE_MAX];
    char again [SESSION_COOKIE_MAX];
    session_t *session = session_new (s_dir, S_HOUR_MS, error, sizeof error);
    if (!CHECK (session, "session_new: %s", error))
        return;
    CHECK (session_make (session, "alice", "h", S_T0, alice, sizeof alice) == 0
           && session_make (session, "bob", "h", S_T0, bob, sizeof bob) == 0, "make");
    CHECK (session_revoke (session, "alice", S_T0 + 10, error, sizeof error) == 0, "%s", error);
    CHECK (!session_valid (session, alice, "h", S_T0 + 20), "alice's cookie outlived a logout");
    CHECK (session_valid (session, bob, "h", S_T0 + 20), "bob's cookie ended with alice's");
    //  A login in the logout's millisecond still counts as after it.
    CHECK (session_make (session, "alice", "h", S_T0 + 10, again, sizeof again) == 0
           && session_valid (session, again, "h", S_T0 + 20), "a login after the logout");
    session_destroy (&session);
    session = session_new (s_dir, S_HOUR_MS, error, sizeof error);
    CHECK (session && !session_valid (session, alice, "h", S_T0 + 20)
           && session_valid (session, again, "h", S_T0 + 20), "the logout was not kept");
    session_destroy (&session);
}

static void
s_key_file (void)
{
    TEST ("the key is made once (0600) and kept; a wrong-size key file is replaced; an "
          "unreadable one stops the start");
    char error [256], path [256], first [SESSION_COOKIE_MAX], again [SESSION_COOKIE_MAX];
    snprintf (path, sizeof path, "%s/%s", s_dir, SESSION_KEY_FILE);
    unlink (path);
    session_t *session = session_new (s_dir, S_HOUR_MS, error, sizeof error);
    CHECK (session && session_make (session, "bob", "x", S_T0, first, sizeof first) == 0, "make");
    session_destroy (&session);
    struct stat status;
    CHECK (stat (path, &status) == 0 && (status.st_mode & 0777) == 0600
           && status.st_size == SESSION_KEY_SIZE, "the key file");
    session = session_new (s_dir, S_HOUR_MS, error, sizeof error);
    CHECK (session && session_valid (session, first, "x", S_T0), "the kept key lost the cookie");
    session_destroy (&session);
    FILE *file = fopen (path, "w");
    CHECK (file && fputs ("short", file) >= 0 && fclose (file) == 0, "damage");
    session = session_new (s_dir, S_HOUR_MS, error, sizeof error);
    CHECK (session != NULL, "a damaged key file stopped it: %s", error);
    CHECK (stat (path, &status) == 0 && status.st_size == SESSION_KEY_SIZE, "not replaced");
    CHECK (session && session_make (session, "bob", "x", S_T0, again, sizeof again) == 0
           && strcmp (first, again) != 0 && !session_valid (session, first, "x", S_T0),
           "the old cookie still valid under a new key");
    session_destroy (&session);
    //  A directory where the key should be: unreadable, not replaced.
    CHECK (unlink (path) == 0 && mkdir (path, 0700) == 0, "a directory as the key");
    *error = 0;
    CHECK (session_new (s_dir, S_HOUR_MS, error, sizeof error) == NULL && *error,
           "an unreadable key file was replaced");
    rmdir (path);
    CHECK (session_new ("/nonexistent/lilac", S_HOUR_MS, error, sizeof error) == NULL && *error,
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
    s_logout ();
    s_key_file ();
    const char *files [] = { SESSION_KEY_FILE, SESSION_REVOKED_FILE };
    for (size_t index = 0; index < 2; index++) {
        char path [256];
        snprintf (path, sizeof path, "%s/%s", s_dir, files [index]);
        unlink (path);
    }
    rmdir (s_dir);
    return check_done ();
}
