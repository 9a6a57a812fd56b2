/*  session.h — signed browser-session cookies.

    A browser logs in once (POST /api/session with a user and password) and
    then carries a cookie instead of a password. The cookie holds no secret
    and needs no table: it is "v1.ISSUED.HEXNAME.MAC", where ISSUED is the
    wall-clock ms of the login, HEXNAME the user's name in hex (so any name
    is a valid cookie value) and MAC the HMAC-SHA256 of "v1.ISSUED.HEXNAME"
    and a binding text under a key only lilac-web knows. A cookie is good
    while now < ISSUED + the configured lifetime (so shortening
    session_lifetime shortens every cookie already out).

    The key is 32 random bytes in STATE_DIR/session.key (mode 0600), made at
    the first start and read at every later one, so sessions survive a
    restart. Deleting the file (and restarting) ends every session. The
    binding is the user's password hash: changing a password ends that
    user's sessions, and a user removed from the file has none left.
    Logging out ends every session of that user issued until then: the time
    is kept per user in STATE_DIR/session.revoked ("HEXNAME MS" lines),
    written whole and synced before the logout is answered.

    A key file of the wrong size is replaced with a new key, loudly: everyone
    logs in again, nothing else is lost. A key file that cannot be read
    (permissions, I/O) stops the start instead: replacing it would log
    everyone out for a fixable fault.
*/
#ifndef LILAC_SESSION_H
#define LILAC_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SESSION_COOKIE        "lilac_session"
#define SESSION_KEY_FILE      "session.key"
#define SESSION_REVOKED_FILE  "session.revoked"
#define SESSION_KEY_SIZE      32
#define SESSION_NAME_MAX      64
#define SESSION_COOKIE_MAX    (3 + 21 + 2 * SESSION_NAME_MAX + 1 + 64 + 2)
#define SESSION_DEFAULT_LIFETIME_MS  (12 * 3600 * 1000)

typedef struct _session_t session_t;

//  Reads (or makes) state_dir/session.key and reads session.revoked;
//  cookies last lifetime_ms. NULL with why in error.
session_t *session_new (const char *state_dir, int64_t lifetime_ms, char *error,
                        size_t error_size);
void session_destroy (session_t **self_p);
//  A cookie value for name, issued at now_ms, bound to bind. 0, or -1 when
//  name is empty or too long, or hashing failed.
int session_make (session_t *self, const char *name, const char *bind, int64_t now_ms,
                  char *cookie, size_t cookie_size);
//  The name a cookie claims, unverified (to find its binding). 0, or -1
//  when the cookie is not one of ours in form.
int session_name (const char *cookie, char *name, size_t name_size);
//  Is cookie ours, bound to bind, within its lifetime at now_ms, and issued
//  after its user last logged out?
bool session_valid (session_t *self, const char *cookie, const char *bind, int64_t now_ms);
//  Ends every session of name issued until now_ms (a logout). 0, or -1
//  with why when session.revoked could not be written (then nothing ended).
int session_revoke (session_t *self, const char *name, int64_t now_ms, char *error,
                    size_t error_size);
//  Seconds a new cookie lasts, for Set-Cookie's Max-Age.
int64_t session_lifetime_s (session_t *self);

#endif
