/*  session.c — signed browser-session cookies. See session.h.

    The MAC is GnuTLS's HMAC-SHA256 (libmicrohttpd links GnuTLS already);
    comparing it takes the same time whatever the first wrong byte, so the
    answer's timing says nothing of a forged cookie. Both files are written
    whole to a temporary name, synced, then renamed: a crash leaves the old
    file or the new one, never half of one.
*/
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"
#include "mem.h"
#include "session.h"

#define SESSION_PREFIX   "v1."
#define S_PATH_MAX       4200

struct _session_t {
    unsigned char key [SESSION_KEY_SIZE];
    int64_t lifetime_ms;
    char revoked_path [S_PATH_MAX];
    zhashx_t *revoked;             //  HEXNAME -> int64_t ms: sessions issued until then end
};

//  --- files ---------------------------------------------------------------------------------

//  Writes size bytes to path through a synced temporary file (mode 0600).
//  0, or -1 with why.
static int
s_write_whole (const char *path, const void *data, size_t size, char *error, size_t error_size)
{
    char temporary [S_PATH_MAX + 8];
    snprintf (temporary, sizeof temporary, "%s.tmp", path);
    int fd = open (temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool written = fd >= 0 && write (fd, data, size) == (ssize_t) size && fsync (fd) == 0;
    if (fd >= 0 && close (fd))
        written = false;
    if (!written || rename (temporary, path)) {
        snprintf (error, error_size, "cannot write %s: %s", path, strerror (errno));
        unlink (temporary);
        return -1;
    }
    return 0;
}

//  Reads exactly SESSION_KEY_SIZE bytes of path into key: 1 read, 0 absent,
//  -1 present but of the wrong size, -2 unreadable (why in error).
static int
s_key_read (const char *path, unsigned char *key, char *error, size_t error_size)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    unsigned char spare [SESSION_KEY_SIZE + 1];
    ssize_t got = fd >= 0 ? read (fd, spare, sizeof spare) : -1;
    if (got < 0) {
        snprintf (error, error_size, "cannot read %s: %s", path, strerror (errno));
        if (fd >= 0)
            close (fd);
        return -2;
    }
    close (fd);
    if (got != SESSION_KEY_SIZE) {
        snprintf (error, error_size, "%s holds %zd bytes, not a %d-byte key", path, got,
                  SESSION_KEY_SIZE);
        return -1;
    }
    memcpy (key, spare, SESSION_KEY_SIZE);
    explicit_bzero (spare, sizeof spare);
    return 1;
}

//  The key of state_dir: read, or made when absent or of the wrong size.
//  0, or -1 with why.
static int
s_key_load (session_t *self, const char *state_dir, char *error, size_t error_size)
{
    char path [S_PATH_MAX], why [S_PATH_MAX + 200] = "";
    snprintf (path, sizeof path, "%s/%s", state_dir, SESSION_KEY_FILE);
    int found = s_key_read (path, self->key, why, sizeof why);
    if (found == 1)
        return 0;
    if (found == -2) {
        snprintf (error, error_size, "%s", why);
        return -1;
    }
    if (found == -1)
        log_warn ("%s: making a new session key; every browser must log in again", why);
    if (getrandom (self->key, SESSION_KEY_SIZE, 0) != SESSION_KEY_SIZE) {
        snprintf (error, error_size, "no random bytes for a session key: %s", strerror (errno));
        return -1;
    }
    if (s_write_whole (path, self->key, SESSION_KEY_SIZE, error, error_size))
        return -1;
    log_info ("made a session key: %s", path);
    return 0;
}

//  session.revoked into the table; a line not "HEXNAME MS" is skipped,
//  logged. An absent file is an empty table. 0, or -1 with why.
static int
s_revoked_load (session_t *self, char *error, size_t error_size)
{
    FILE *file = fopen (self->revoked_path, "r");
    if (!file) {
        if (errno == ENOENT)
            return 0;
        snprintf (error, error_size, "cannot read %s: %s", self->revoked_path,
                  strerror (errno));
        return -1;
    }
    char line [2 * SESSION_NAME_MAX + 64], hex [2 * SESSION_NAME_MAX + 2];
    long long ms;
    for (int number = 1; fgets (line, sizeof line, file); number++) {
        if (sscanf (line, "%129s %lld", hex, &ms) != 2 || strlen (hex) > 2 * SESSION_NAME_MAX) {
            log_warn ("%s:%d: not HEXNAME MS; skipped", self->revoked_path, number);
            continue;
        }
        int64_t *at = mem_alloc (sizeof (int64_t));
        *at = ms;
        zhashx_update (self->revoked, hex, at);
    }
    fclose (file);
    return 0;
}

//  The table into session.revoked. 0, or -1 with why.
static int
s_revoked_save (session_t *self, char *error, size_t error_size)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    for (int64_t *at = out ? zhashx_first (self->revoked) : NULL; at;
         at = zhashx_next (self->revoked))
        fprintf (out, "%s %" PRId64 "\n", (const char *) zhashx_cursor (self->revoked), *at);
    if (!out || fclose (out)) {
        free (text);
        snprintf (error, error_size, "out of memory");
        return -1;
    }
    int rc = s_write_whole (self->revoked_path, text, size, error, error_size);
    free (text);
    return rc;
}

static void
s_free_item (void **item)
{
    mem_free (*item);
    *item = NULL;
}

session_t *
session_new (const char *state_dir, int64_t lifetime_ms, char *error, size_t error_size)
{
    session_t *self = mem_alloc (sizeof (session_t));
    self->lifetime_ms = lifetime_ms;
    snprintf (self->revoked_path, sizeof self->revoked_path, "%s/%s", state_dir,
              SESSION_REVOKED_FILE);
    self->revoked = zhashx_new ();
    if (!self->revoked) {
        snprintf (error, error_size, "out of memory");
        session_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->revoked, s_free_item);
    if (s_key_load (self, state_dir, error, error_size)
    ||  s_revoked_load (self, error, error_size)) {
        session_destroy (&self);
        return NULL;
    }
    return self;
}

void
session_destroy (session_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    session_t *self = *self_p;
    explicit_bzero (self->key, SESSION_KEY_SIZE);
    zhashx_destroy (&self->revoked);
    mem_free (self);
    *self_p = NULL;
}

int64_t
session_lifetime_s (session_t *self)
{
    return self->lifetime_ms / 1000;
}

//  --- cookies -------------------------------------------------------------------------------

//  size bytes as lowercase hex into out (2 * size + 1 bytes).
static void
s_hex (const void *bytes, size_t size, char *out)
{
    static const char digits [] = "0123456789abcdef";
    const unsigned char *at = bytes;
    for (size_t index = 0; index < size; index++) {
        out [2 * index] = digits [at [index] >> 4];
        out [2 * index + 1] = digits [at [index] & 15];
    }
    out [2 * size] = 0;
}

//  The MAC of "signed" (the cookie up to its last '.') and bind, in hex.
static int
s_mac (session_t *self, const char *signed_part, size_t signed_size, const char *bind,
       char hex [65])
{
    gnutls_hmac_hd_t hmac;
    unsigned char digest [32];
    if (gnutls_hmac_init (&hmac, GNUTLS_MAC_SHA256, self->key, SESSION_KEY_SIZE) < 0)
        return -1;
    int rc = gnutls_hmac (hmac, signed_part, signed_size);
    if (rc >= 0)
        rc = gnutls_hmac (hmac, "\n", 1);
    if (rc >= 0)
        rc = gnutls_hmac (hmac, bind, strlen (bind));
    gnutls_hmac_deinit (hmac, digest);
    if (rc < 0)
        return -1;
    s_hex (digest, sizeof digest, hex);
    return 0;
}

int
session_make (session_t *self, const char *name, const char *bind, int64_t now_ms,
              char *cookie, size_t cookie_size)
{
    size_t length = strlen (name);
    if (!length || length > SESSION_NAME_MAX || cookie_size < SESSION_COOKIE_MAX || now_ms < 0)
        return -1;
    //  Issued after the user's last logout, even within its millisecond.
    char hex [2 * SESSION_NAME_MAX + 1];
    s_hex (name, length, hex);
    const int64_t *revoked = zhashx_lookup (self->revoked, hex);
    if (revoked && now_ms <= *revoked)
        now_ms = *revoked + 1;
    size_t used = (size_t) snprintf (cookie, cookie_size, SESSION_PREFIX "%" PRId64 ".%s",
                                     now_ms, hex);
    char mac [65];
    if (s_mac (self, cookie, used, bind, mac))
        return -1;
    snprintf (cookie + used, cookie_size - used, ".%s", mac);
    return 0;
}

static int
s_hex_digit (char digit)
{
    return digit >= '0' && digit <= '9' ? digit - '0'
         : digit >= 'a' && digit <= 'f' ? digit - 'a' + 10 : -1;
}

//  Splits cookie into its issue time, its hex name (start, length) and its
//  MAC's offset. 0, or -1 when it is not of our form.
static int
s_parse (const char *cookie, int64_t *issued_ms, const char **hex, size_t *hex_size,
         size_t *mac_at)
{
    size_t prefix = strlen (SESSION_PREFIX);
    if (strncmp (cookie, SESSION_PREFIX, prefix))
        return -1;
    const char *at = cookie + prefix;
    size_t digits = strspn (at, "0123456789");
    if (!digits || digits > 18 || at [digits] != '.')
        return -1;
    *issued_ms = strtoll (at, NULL, 10);
    *hex = at + digits + 1;
    *hex_size = strspn (*hex, "0123456789abcdef");
    if (!*hex_size || *hex_size % 2 || *hex_size > 2 * SESSION_NAME_MAX
    ||  (*hex) [*hex_size] != '.')
        return -1;
    const char *mac = *hex + *hex_size + 1;
    if (strlen (mac) != 64 || strspn (mac, "0123456789abcdef") != 64)
        return -1;
    *mac_at = (size_t) (mac - cookie);
    return 0;
}

int
session_name (const char *cookie, char *name, size_t name_size)
{
    int64_t issued_ms;
    const char *hex;
    size_t hex_size, mac_at;
    if (s_parse (cookie, &issued_ms, &hex, &hex_size, &mac_at) || hex_size / 2 >= name_size)
        return -1;
    for (size_t index = 0; index < hex_size / 2; index++) {
        name [index] = (char) (s_hex_digit (hex [2 * index]) * 16
                               + s_hex_digit (hex [2 * index + 1]));
        if (!name [index])
            return -1;
    }
    name [hex_size / 2] = 0;
    return 0;
}

bool
session_valid (session_t *self, const char *cookie, const char *bind, int64_t now_ms)
{
    int64_t issued_ms;
    const char *hex;
    size_t hex_size, mac_at;
    char mac [65], hex_name [2 * SESSION_NAME_MAX + 1];
    if (s_parse (cookie, &issued_ms, &hex, &hex_size, &mac_at)
    ||  s_mac (self, cookie, mac_at - 1, bind, mac))
        return false;
    unsigned char differ = 0;
    for (size_t index = 0; index < 64; index++)
        differ |= (unsigned char) (mac [index] ^ cookie [mac_at + index]);
    if (differ || now_ms >= issued_ms + self->lifetime_ms)
        return false;
    snprintf (hex_name, sizeof hex_name, "%.*s", (int) hex_size, hex);
    const int64_t *revoked = zhashx_lookup (self->revoked, hex_name);
    return !revoked || issued_ms > *revoked;
}

int
session_revoke (session_t *self, const char *name, int64_t now_ms, char *error,
                size_t error_size)
{
    size_t length = strlen (name);
    char hex [2 * SESSION_NAME_MAX + 1];
    if (!length || length > SESSION_NAME_MAX) {
        snprintf (error, error_size, "not a user name");
        return -1;
    }
    s_hex (name, length, hex);
    int64_t *at = zhashx_lookup (self->revoked, hex);
    int64_t before = at ? *at : -1;
    if (!at) {
        at = mem_alloc (sizeof (int64_t));
        zhashx_insert (self->revoked, hex, at);
    }
    *at = now_ms;
    if (s_revoked_save (self, error, error_size) == 0)
        return 0;
    if (before < 0)                     //  not written: nothing ended, say so
        zhashx_delete (self->revoked, hex);
    else
        *at = before;
    return -1;
}
