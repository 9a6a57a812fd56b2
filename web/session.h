/*  session.h — signed browser-session cookies.

    A browser logs in once (POST /api/session with a user and password) and
    then carries a cookie instead of a password. The cookie holds no secret
    and needs no table: it is "v1.EXPIRES.HEXNAME.MAC", where EXPIRES is
    wall-clock seconds, HEXNAME the user's name in hex (so any name is a
    valid cookie value) and MAC the HMAC-SHA256 of "v1.EXPIRES.HEXNAME" and
    a binding text under a key only lilac-web knows.

    The key is 32 random bytes in STATE_DIR/session.key (mode 0600), made at
    the first start and read at every later one, so sessions survive a
    restart. Deleting the file (and restarting) ends every session. The
    binding is the user's password hash: changing a password ends that
    user's sessions, and a user removed from the file has none left.

    A damaged key file (not 32 bytes) is replaced with a new key, loudly:
    everyone logs in again, nothing else is lost.
*/
#ifndef LILAC_SESSION_H
#define LILAC_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SESSION_COOKIE        "lilac_session"
#define SESSION_KEY_FILE      "session.key"
#define SESSION_KEY_SIZE      32
#define SESSION_COOKIE_MAX    (3 + 21 + 2 * 64 + 1 + 64 + 2)   //  v1. EXPIRES. HEX. MAC NUL
#define SESSION_DEFAULT_LIFETIME_MS  (12 * 3600 * 1000)

typedef struct _session_t session_t;

//  Reads (or makes) state_dir/session.key. NULL with why in error.
session_t *session_new (const char *state_dir, char *error, size_t error_size);
void session_destroy (session_t **self_p);
//  A cookie value for name, valid until expires_s (wall-clock seconds),
//  bound to bind. 0, or -1 when name is too long or hashing failed.
int session_make (session_t *self, const char *name, const char *bind, int64_t expires_s,
                  char *cookie, size_t cookie_size);
//  The name a cookie claims, unverified (to find its binding). 0, or -1
//  when the cookie is not one of ours in form.
int session_name (const char *cookie, char *name, size_t name_size);
//  Is cookie ours, bound to bind, and not expired at now_s?
bool session_valid (session_t *self, const char *cookie, const char *bind, int64_t now_s);

#endif
