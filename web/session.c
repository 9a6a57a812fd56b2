/*  session.c — signed browser-session cookies. See session.h.

    The MAC is GnuTLS's HMAC-SHA256 (libmicrohttpd links GnuTLS already);
    comparing it takes the same time whatever the first wrong byte, so the
    answer's timing says nothing of a forged cookie. The key file is written
    whole to a temporary name, synced, then renamed: a crash leaves the old
    key or the new one, never half of one.
*/
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
#define SESSION_NAME_MAX 64

struct _session_t {
    unsigned char key [SESSION_KEY_SIZE];
};

//  Reads exactly SESSION_KEY_SIZE bytes of path into key: 1 read, 0 absent,
//  -1 present but not a key (why in error).
static int
s_key_read (const char *path, unsigned char *key, char *error, size_t error_size)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf (error, error_size, "cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    unsigned char spare [SESSION_KEY_SIZE + 1];
    ssize_t got = read (fd, spare, sizeof spare);
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

//  A new random key, written to path (mode 0600). 0, or -1 with why.
static int
s_key_make (const char *path, unsigned char *key, char *error, size_t error_size)
{
    if (getrandom (key, SESSION_KEY_SIZE, 0) != SESSION_KEY_SIZE) {
        snprintf (error, error_size, "no random bytes for a session key: %s", strerror (errno));
        return -1;
    }
    char temporary [4300];
    snprintf (temporary, sizeof temporary, "%s.tmp", path);
    int fd = open (temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool written = fd >= 0 && write (fd, key, SESSION_KEY_SIZE) == SESSION_KEY_SIZE
                && fsync (fd) == 0;
    if (fd >= 0 && close (fd))
        written = false;
    if (!written || rename (temporary, path)) {
        snprintf (error, error_size, "cannot write %s: %s", path, strerror (errno));
        unlink (temporary);
        return -1;
    }
    return 0;
}

session_t *
session_new (const char *state_dir, char *error, size_t error_size)
{
    session_t *self = mem_alloc (sizeof (session_t));
    char path [4200], why [4400] = "";
    snprintf (path, sizeof path, "%s/%s", state_dir, SESSION_KEY_FILE);
    int found = s_key_read (path, self->key, why, sizeof why);
    if (found == 1)
        return self;
    if (found < 0)
        log_warn ("%s: making a new session key; every browser must log in again", why);
    if (s_key_make (path, self->key, error, error_size)) {
        session_destroy (&self);
        return NULL;
    }
    if (found == 0)
        log_info ("made a session key: %s", path);
    return self;
}

void
session_destroy (session_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    explicit_bzero ((*self_p)->key, SESSION_KEY_SIZE);
    mem_free (*self_p);
    *self_p = NULL;
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
    for (int index = 0; index < 32; index++)
        snprintf (hex + 2 * index, 3, "%02x", digest [index]);
    return 0;
}

int
session_make (session_t *self, const char *name, const char *bind, int64_t expires_s,
              char *cookie, size_t cookie_size)
{
    size_t length = strlen (name);
    if (!length || length > SESSION_NAME_MAX || cookie_size < SESSION_COOKIE_MAX)
        return -1;
    int used = snprintf (cookie, cookie_size, SESSION_PREFIX "%" PRId64 ".", expires_s);
    for (size_t index = 0; index < length; index++)
        used += snprintf (cookie + used, cookie_size - (size_t) used, "%02x",
                          (unsigned char) name [index]);
    char mac [65];
    if (s_mac (self, cookie, (size_t) used, bind, mac))
        return -1;
    snprintf (cookie + used, cookie_size - (size_t) used, ".%s", mac);
    return 0;
}

static int
s_hex_digit (char digit)
{
    return digit >= '0' && digit <= '9' ? digit - '0'
         : digit >= 'a' && digit <= 'f' ? digit - 'a' + 10 : -1;
}

//  Splits cookie into its expiry, its hex name (start, length) and its
//  MAC's offset. 0, or -1 when it is not of our form.
static int
s_parse (const char *cookie, int64_t *expires_s, const char **hex, size_t *hex_size,
         size_t *mac_at)
{
    size_t prefix = strlen (SESSION_PREFIX);
    if (strncmp (cookie, SESSION_PREFIX, prefix))
        return -1;
    const char *at = cookie + prefix;
    size_t digits = strspn (at, "0123456789");
    if (!digits || digits > 18 || at [digits] != '.')
        return -1;
    *expires_s = strtoll (at, NULL, 10);
    *hex = at + digits + 1;
    *hex_size = strspn (*hex, "0123456789abcdef");
    if (!*hex_size || *hex_size % 2 || *hex_size > 2 * SESSION_NAME_MAX || (*hex) [*hex_size] != '.')
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
    int64_t expires_s;
    const char *hex;
    size_t hex_size, mac_at;
    if (s_parse (cookie, &expires_s, &hex, &hex_size, &mac_at) || hex_size / 2 >= name_size)
        return -1;
    for (size_t index = 0; index < hex_size / 2; index++) {
        name [index] = (char) (s_hex_digit (hex [2 * index]) * 16 + s_hex_digit (hex [2 * index + 1]));
        if (!name [index])
            return -1;
    }
    name [hex_size / 2] = 0;
    return 0;
}

bool
session_valid (session_t *self, const char *cookie, const char *bind, int64_t now_s)
{
    int64_t expires_s;
    const char *hex;
    size_t hex_size, mac_at;
    char mac [65];
    if (s_parse (cookie, &expires_s, &hex, &hex_size, &mac_at)
    ||  s_mac (self, cookie, mac_at - 1, bind, mac))
        return false;
    unsigned char differ = 0;
    for (size_t index = 0; index < 64; index++)
        differ |= (unsigned char) (mac [index] ^ cookie [mac_at + index]);
    return differ == 0 && now_s < expires_s;
}
