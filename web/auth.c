/*  auth.c — users, tokens, roles. See auth.h.

    Users and tokens are read once at start into czmq hashes (name →
    entry, token hash → entry). The cache of verified Basic credentials is
    keyed by the SHA-256 of "user:password" (GnuTLS, which libmicrohttpd
    already links) and holds the identity until its time is up; it is swept
    when it grows past AUTH_CACHE_MAX. Failed logins are counted per
    address in a small table swept the same way.

    Browser sessions (session.h) exist when there is a users file: a login
    checks the password as Basic does (same cache, same failure count) and
    gives a cookie bound to the user's bcrypt hash; a request with the
    cookie and no Authorization header is that user, with the role the
    config gives them now.
*/
#include <crypt.h>
#include <czmq.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include "auth.h"
#include "config.h"
#include "log.h"
#include "mem.h"
#include "session.h"
#include "timespec.h"

#define AUTH_CACHE_MAX   10000
#define AUTH_LINE_MAX    1024

typedef struct {
    auth_identity_t identity;
    char hash [AUTH_LINE_MAX];     //  users: the bcrypt hash; tokens: unused
} s_entry_t;

typedef struct {
    auth_identity_t identity;
    int64_t expires;               //  mono ms
} s_cached_t;

typedef struct {
    int count;
    int64_t window_end;            //  mono ms
} s_failures_t;

struct _auth_t {
    bool enabled;
    zhashx_t *users;               //  name -> s_entry_t
    zhashx_t *tokens;              //  sha256 hex -> s_entry_t
    zhashx_t *cache;               //  sha256 hex of "user:password" -> s_cached_t
    zhashx_t *failures;            //  address -> s_failures_t
    session_t *session;            //  browser sessions' key, NULL without users
    char decoy_hash [AUTH_LINE_MAX];   //  a bcrypt hash an unknown user's password is tried on
};

const char *
auth_role_name (auth_role_t role)
{
    static const char *const names [] = { "none", "sender", "reader", "admin" };
    return names [role];
}

static int
s_role_parse (const char *name, auth_role_t *role)
{
    for (int index = AUTH_ROLE_SENDER; index <= AUTH_ROLE_ADMIN; index++)
        if (strcmp (name, auth_role_name ((auth_role_t) index)) == 0) {
            *role = (auth_role_t) index;
            return 0;
        }
    return -1;
}

//  The SHA-256 of size bytes as 64 hex digits. 0 / -1.
static int
s_sha256_hex (const void *data, size_t size, char hex [65])
{
    unsigned char digest [32];
    if (gnutls_hash_fast (GNUTLS_DIG_SHA256, data, size, digest) < 0)
        return -1;
    for (int index = 0; index < 32; index++)
        snprintf (hex + 2 * index, 3, "%02x", digest [index]);
    return 0;
}

//  Is name in the list (commas or spaces between names)?
static bool
s_listed (const char *list, const char *name)
{
    char item [512];
    for (const char *at = list; at && (at = config_list_next (at, item, sizeof item)); )
        if (strlen (item) < sizeof item - 1 && strcmp (item, name) == 0)   //  a cut one never
            return true;
    return false;
}

static auth_role_t
s_user_role (const web_config_t *config, const char *name)
{
    return s_listed (config->admins, name) ? AUTH_ROLE_ADMIN
         : s_listed (config->readers, name) ? AUTH_ROLE_READER
         : s_listed (config->senders, name) ? AUTH_ROLE_SENDER : AUTH_ROLE_NONE;
}

//  --- the files --------------------------------------------------------------------------

typedef int (s_line_fn) (const char *line, const char *where, void *arg, char *why,
                         size_t why_size);

//  Calls each for every line that is not blank or a comment. 0, or -1 with
//  "FILE:LINE: why" (or the file's own trouble) in error.
static int
s_read_lines (const char *path, s_line_fn *each, void *arg, char *error, size_t error_size)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (error, error_size, "cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    char line [AUTH_LINE_MAX];
    int number = 0, rc = 0;
    while (rc == 0 && fgets (line, sizeof line, file)) {
        number++;
        line [strcspn (line, "\r\n")] = 0;
        if (!line [strspn (line, " \t")] || line [strspn (line, " \t")] == '#')
            continue;
        char where [600], why [300] = "";
        snprintf (where, sizeof where, "%s:%d", path, number);
        if (each (line, where, arg, why, sizeof why)) {
            snprintf (error, error_size, "%s: %s", where, why);
            rc = -1;
        }
    }
    fclose (file);
    return rc;
}

typedef struct {
    auth_t *self;                  //  NULL: only check
    const web_config_t *config;
} s_load_t;

//  NAME:$2y$COST$... (bcrypt only: the other schemes htpasswd writes are weak).
static int
s_user_line (const char *line, const char *where, void *arg, char *why, size_t why_size)
{
    (void) where;
    s_load_t *load = arg;
    const char *colon = strchr (line, ':');
    if (!colon || colon == line || (size_t) (colon - line) > AUTH_NAME_MAX) {
        snprintf (why, why_size, "not NAME:HASH");
        return -1;
    }
    if (strncmp (colon + 1, "$2y$", 4) && strncmp (colon + 1, "$2b$", 4)
    &&  strncmp (colon + 1, "$2a$", 4)) {
        snprintf (why, why_size, "not a bcrypt hash (use htpasswd -B or lilac-web user add)");
        return -1;
    }
    if (!load->self)
        return 0;
    s_entry_t *entry = mem_alloc (sizeof (s_entry_t));
    snprintf (entry->identity.name, sizeof entry->identity.name, "%.*s",
              (int) (colon - line), line);
    entry->identity.role = s_user_role (load->config, entry->identity.name);
    snprintf (entry->hash, sizeof entry->hash, "%s", colon + 1);
    zhashx_update (load->self->users, entry->identity.name, entry);
    return 0;
}

//  NAME ROLE SOURCE|- SHA256-HEX
static int
s_token_line (const char *line, const char *where, void *arg, char *why, size_t why_size)
{
    (void) where;
    s_load_t *load = arg;
    char name [AUTH_NAME_MAX + 1], role_name [16], source [AUTH_NAME_MAX + 1], hash [80];
    auth_role_t role;
    if (sscanf (line, "%64s %15s %64s %79s", name, role_name, source, hash) != 4
    ||  strlen (hash) != 64 || strspn (hash, "0123456789abcdef") != 64) {
        snprintf (why, why_size, "not NAME ROLE SOURCE|- SHA256-HEX");
        return -1;
    }
    if (s_role_parse (role_name, &role)) {
        snprintf (why, why_size, "role '%s' is not admin, reader or sender", role_name);
        return -1;
    }
    if (!load->self)
        return 0;
    s_entry_t *entry = mem_alloc (sizeof (s_entry_t));
    snprintf (entry->identity.name, sizeof entry->identity.name, "%s", name);
    entry->identity.role = role;
    if (strcmp (source, "-"))
        snprintf (entry->identity.source, sizeof entry->identity.source, "%s", source);
    zhashx_update (load->self->tokens, hash, entry);
    return 0;
}

void
auth_verify (const web_config_t *config, config_report_t *report)
{
    char error [CONFIG_ERROR_SIZE];
    s_load_t load = { NULL, config };
    if (config->users_file && s_read_lines (config->users_file, s_user_line, &load,
                                            error, sizeof error))
        config_report_add (report, false, "web: users: %s", error);
    if (config->tokens_file && s_read_lines (config->tokens_file, s_token_line, &load,
                                             error, sizeof error))
        config_report_add (report, false, "web: tokens: %s", error);
    if (!config->users_file && (config->admins || config->readers || config->senders))
        config_report_add (report, false, "web: admins, readers and senders name users of a "
                           "users file: set users = FILE");
}

static void
s_free_item (void **item)
{
    mem_free (*item);
    *item = NULL;
}

static zhashx_t *
s_hash_new (void)
{
    zhashx_t *hash = zhashx_new ();
    if (hash)
        zhashx_set_destructor (hash, s_free_item);
    return hash;
}

//  password's cost-12 bcrypt hash with a new salt into hash. 0, or -1 with why.
static int
s_bcrypt (const char *password, char *hash, size_t hash_size, char *error, size_t error_size)
{
    char salt [CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data data;
    memset (&data, 0, sizeof data);
    if (!crypt_gensalt_rn ("$2b$", 12, NULL, 0, salt, sizeof salt)) {
        snprintf (error, error_size, "cannot make a bcrypt salt: %s", strerror (errno));
        return -1;
    }
    const char *hashed = crypt_r (password, salt, &data);
    int rc = hashed && hashed [0] != '*' ? 0 : -1;
    if (rc)
        snprintf (error, error_size, "bcrypt failed: %s", strerror (errno));
    else
        snprintf (hash, hash_size, "%s", hashed);
    explicit_bzero (&data, sizeof data);
    return rc;
}

//  A bcrypt hash of random bytes, as costly to try as a user's. 0, or -1
//  with why.
static int
s_decoy_make (auth_t *self, char *error, size_t error_size)
{
    unsigned char random [16];
    char password [33];
    if (getrandom (random, sizeof random, 0) != sizeof random) {
        snprintf (error, error_size, "no random bytes for a decoy password: %s",
                  strerror (errno));
        return -1;
    }
    for (size_t index = 0; index < sizeof random; index++)
        snprintf (password + 2 * index, 3, "%02x", random [index]);
    return s_bcrypt (password, self->decoy_hash, sizeof self->decoy_hash, error, error_size);
}

auth_t *
auth_new (const web_config_t *config, char *error, size_t error_size)
{
    auth_t *self = mem_alloc (sizeof (auth_t));
    self->users = s_hash_new ();
    self->tokens = s_hash_new ();
    self->cache = s_hash_new ();
    self->failures = s_hash_new ();
    if (!self->users || !self->tokens || !self->cache || !self->failures) {
        snprintf (error, error_size, "out of memory");
        auth_destroy (&self);
        return NULL;
    }
    s_load_t load = { self, config };
    if ((config->users_file && s_read_lines (config->users_file, s_user_line, &load,
                                             error, error_size))
    ||  (config->tokens_file && s_read_lines (config->tokens_file, s_token_line, &load,
                                              error, error_size))) {
        auth_destroy (&self);
        return NULL;
    }
    if (config->users_file) {
        self->session = session_new (config->state_dir, config->session_lifetime_ms,
                                     error, error_size);
        if (!self->session || s_decoy_make (self, error, error_size)) {
            auth_destroy (&self);
            return NULL;
        }
    }
    self->enabled = config->users_file || config->tokens_file;
    if (self->enabled)
        log_info ("authentication: %zu users, %zu tokens", zhashx_size (self->users),
                  zhashx_size (self->tokens));
    return self;
}

void
auth_destroy (auth_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    auth_t *self = *self_p;
    zhashx_destroy (&self->users);
    zhashx_destroy (&self->tokens);
    zhashx_destroy (&self->cache);
    zhashx_destroy (&self->failures);
    session_destroy (&self->session);
    mem_free (self);
    *self_p = NULL;
}

bool
auth_enabled (auth_t *self)
{
    return self->enabled;
}

//  --- checking a request ---------------------------------------------------------------------

static bool
s_allows (const auth_identity_t *who, auth_need_t need)
{
    switch (need) {
        case AUTH_OPEN: return true;
        case AUTH_READ: return who->role == AUTH_ROLE_READER || who->role == AUTH_ROLE_ADMIN;
        case AUTH_ACT: return who->role == AUTH_ROLE_ADMIN;
        case AUTH_SEND: return who->role == AUTH_ROLE_SENDER || who->role == AUTH_ROLE_ADMIN;
    }
    return false;
}

#define S_OVERFLOW_KEY  "*"         //  the failures of addresses the table has no room for

//  Drops the counts whose window has ended.
static void
s_failures_sweep (auth_t *self, int64_t now)
{
    zlistx_t *ended = zlistx_new ();
    if (!ended)
        return;
    zlistx_set_destructor (ended, s_free_item);
    for (s_failures_t *failures = zhashx_first (self->failures); failures;
         failures = zhashx_next (self->failures))
        if (failures->window_end <= now)
            zlistx_add_end (ended, mem_strdup (zhashx_cursor (self->failures)));
    for (const char *key = zlistx_first (ended); key; key = zlistx_next (ended))
        zhashx_delete (self->failures, key);
    zlistx_destroy (&ended);
}

//  Where address's failures are counted: its own entry, or, when the table
//  is full of live counts (many addresses failing at once), one shared
//  entry, so no flood of addresses can empty the table and reset everyone.
static const char *
s_failures_key (auth_t *self, const char *address, int64_t now)
{
    if (zhashx_lookup (self->failures, address) || zhashx_size (self->failures) < AUTH_CACHE_MAX)
        return address;
    s_failures_sweep (self, now);
    if (zhashx_size (self->failures) < AUTH_CACHE_MAX)
        return address;
    static log_limit_t full_log;
    log_limited (&full_log, "%d addresses failed logins within a minute: more are counted "
                 "together", AUTH_CACHE_MAX);
    return S_OVERFLOW_KEY;
}

//  Is address in a penalty window? Counts a failure when failed.
static bool
s_blocked (auth_t *self, const char *address, bool failed)
{
    int64_t now = zclock_mono ();
    address = s_failures_key (self, address, now);
    s_failures_t *failures = zhashx_lookup (self->failures, address);
    if (failures && failures->window_end <= now) {
        zhashx_delete (self->failures, address);
        failures = NULL;
    }
    if (!failed)
        return failures && failures->count >= AUTH_FAILURES_MAX;
    if (!failures) {
        failures = mem_alloc (sizeof (s_failures_t));
        failures->window_end = now + AUTH_FAILURE_WINDOW_MS;
        zhashx_insert (self->failures, address, failures);
    }
    failures->count++;
    return failures->count >= AUTH_FAILURES_MAX;
}

//  Bearer TOKEN. 0 with *who, -1 unknown.
static int
s_check_token (auth_t *self, const char *token, auth_identity_t *who)
{
    char hex [65];
    if (s_sha256_hex (token, strlen (token), hex))
        return -1;
    s_entry_t *entry = zhashx_lookup (self->tokens, hex);
    if (!entry)
        return -1;
    *who = entry->identity;
    return 0;
}

//  Basic USER:PASSWORD, through the cache. 0 with *who, -1 wrong.
static int
s_check_password (auth_t *self, const char *user, const char *password, auth_identity_t *who)
{
    char key [AUTH_LINE_MAX], hex [65];
    int length = snprintf (key, sizeof key, "%s:%s", user, password);
    bool hashed_key = length >= 0 && (size_t) length < sizeof key
                   && s_sha256_hex (key, (size_t) length, hex) == 0;
    explicit_bzero (key, sizeof key);
    if (!hashed_key)
        return -1;
    s_cached_t *cached = zhashx_lookup (self->cache, hex);
    if (cached && cached->expires > zclock_mono ()) {
        *who = cached->identity;
        return 0;
    }
    //  An unknown user costs a bcrypt too: the time of a refusal must not
    //  say which names exist.
    s_entry_t *entry = zhashx_lookup (self->users, user);
    const char *against = entry ? entry->hash : self->decoy_hash;
    struct crypt_data data;
    memset (&data, 0, sizeof data);
    const char *hashed = crypt_r (password, against, &data);
    bool good = entry && hashed && hashed [0] != '*' && strcmp (hashed, entry->hash) == 0;
    explicit_bzero (&data, sizeof data);
    if (!good)
        return -1;
    if (zhashx_size (self->cache) > AUTH_CACHE_MAX)
        zhashx_purge (self->cache);
    cached = mem_alloc (sizeof (s_cached_t));
    cached->identity = entry->identity;
    cached->expires = zclock_mono () + AUTH_CACHE_MS;
    zhashx_update (self->cache, hex, cached);
    *who = entry->identity;
    return 0;
}

//  A session cookie: 0 with *who (by_session set), -1 not valid.
static int
s_check_session (auth_t *self, const char *cookie, auth_identity_t *who)
{
    char name [AUTH_NAME_MAX + 1];
    if (!self->session || session_name (cookie, name, sizeof name))
        return -1;
    s_entry_t *entry = zhashx_lookup (self->users, name);
    if (!entry || !session_valid (self->session, cookie, entry->hash, clock_now_ms ()))
        return -1;
    *who = entry->identity;
    who->by_session = true;
    return 0;
}

typedef struct {
    auth_t *self;
    auth_identity_t *who;
} s_session_try_t;

static bool
s_session_try (const char *cookie, void *arg)
{
    s_session_try_t *try = arg;
    return s_check_session (try->self, cookie, try->who) == 0;
}

//  The first valid session cookie of the request (a stale duplicate, say
//  one a sibling domain set, is passed over). 0 with *who, -1 none.
static int
s_find_session (auth_t *self, http_request_t *request, auth_identity_t *who)
{
    s_session_try_t try = { self, who };
    return http_cookie_find (request, SESSION_COOKIE, s_session_try, &try) ? 0 : -1;
}

int
auth_check (auth_t *self, http_request_t *request, auth_need_t need, auth_identity_t *who,
            unsigned *code, char *why, size_t why_size)
{
    memset (who, 0, sizeof *who);
    char address [48] = "?";       //  INET6_ADDRSTRLEN
    if (http_peer_address (request, address, sizeof address))
        snprintf (address, sizeof address, "?");
    if (!self->enabled) {
        snprintf (who->name, sizeof who->name, "anonymous@%s", address);
        who->role = AUTH_ROLE_ADMIN;
        return 0;
    }
    if (need == AUTH_OPEN) {       //  open to all; a session still says who
        if (s_find_session (self, request, who))
            memset (who, 0, sizeof *who);
        return 0;
    }
    if (s_blocked (self, address, false)) {
        *code = MHD_HTTP_TOO_MANY_REQUESTS;
        snprintf (why, why_size, "too many failed logins from %s: wait a minute", address);
        return -1;
    }
    const char *header = http_header (request, MHD_HTTP_HEADER_AUTHORIZATION);
    int rc = -1;
    const char *tried = "no credentials";
    if (header && strncmp (header, "Bearer ", 7) == 0) {
        rc = s_check_token (self, header + 7, who);
        tried = "an unknown token";
    }
    else
    if (header) {
        char *password = NULL;
        char *user = MHD_basic_auth_get_username_password (http_connection (request), &password);
        if (user && password)
            rc = s_check_password (self, user, password, who);
        tried = "a wrong user or password";
        if (rc)
            log_warn ("failed login from %s as '%.64s'", address, user ? user : "?");
        if (password)
            explicit_bzero (password, strlen (password));
        MHD_free (user);
        MHD_free (password);
    }
    else
    if (http_has_cookie (request, SESSION_COOKIE)) {
        if (need == AUTH_SEND)
            tried = "a browser session: events need a token or a password";
        else {
            rc = s_find_session (self, request, who);
            tried = "the session has expired or is not valid: log in again";
        }
    }
    if (rc) {
        if (header && s_blocked (self, address, true))
            log_warn ("%d failed logins from %s: refusing it for a minute", AUTH_FAILURES_MAX,
                      address);
        *code = MHD_HTTP_UNAUTHORIZED;
        snprintf (why, why_size, "authentication required (%s)", tried);
        return -1;
    }
    if (!s_allows (who, need)) {
        *code = MHD_HTTP_FORBIDDEN;
        snprintf (why, why_size, "%.64s (%s) may not do this", who->name,
                  auth_role_name (who->role));
        return -1;
    }
    return 0;
}

int
auth_login (auth_t *self, http_request_t *request, const char *user, const char *password,
            auth_identity_t *who, char *cookie, size_t cookie_size, int64_t *expires_s,
            unsigned *code, char *why, size_t why_size)
{
    memset (who, 0, sizeof *who);
    char address [48] = "?";
    if (http_peer_address (request, address, sizeof address))
        snprintf (address, sizeof address, "?");
    if (!self->session) {
        *code = MHD_HTTP_NOT_FOUND;
        snprintf (why, why_size, "there is nothing to log in to: lilac-web has no users file");
        return -1;
    }
    if (s_blocked (self, address, false)) {
        *code = MHD_HTTP_TOO_MANY_REQUESTS;
        snprintf (why, why_size, "too many failed logins from %s: wait a minute", address);
        return -1;
    }
    if (s_check_password (self, user, password, who)) {
        log_warn ("failed login from %s as '%.64s'", address, user);
        if (s_blocked (self, address, true))
            log_warn ("%d failed logins from %s: refusing it for a minute", AUTH_FAILURES_MAX,
                      address);
        *code = MHD_HTTP_UNAUTHORIZED;
        snprintf (why, why_size, "wrong user or password");
        return -1;
    }
    s_entry_t *entry = zhashx_lookup (self->users, who->name);
    int64_t now_ms = clock_now_ms ();
    *expires_s = now_ms / 1000 + session_lifetime_s (self->session);
    if (!entry || session_make (self->session, who->name, entry->hash, now_ms,
                                cookie, cookie_size)) {
        *code = MHD_HTTP_INTERNAL_SERVER_ERROR;
        snprintf (why, why_size, "cannot sign a session");
        return -1;
    }
    who->by_session = true;
    log_info ("%s logged in from %s (%s)", who->name, address, auth_role_name (who->role));
    return 0;
}

int
auth_logout (auth_t *self, const char *name, char *error, size_t error_size)
{
    if (!self->session) {
        snprintf (error, error_size, "no sessions: lilac-web has no users file");
        return -1;
    }
    if (session_revoke (self->session, name, clock_now_ms (), error, error_size)) {
        log_error ("%s logged out, but their sessions could not be ended: %s", name, error);
        return -1;
    }
    log_info ("%s logged out: every session of theirs until now has ended", name);
    return 0;
}

int64_t
auth_session_lifetime_s (auth_t *self)
{
    return self->session ? session_lifetime_s (self->session) : 0;
}

//  --- lilac-web user add -------------------------------------------------------------------

int
auth_user_add (const char *path, const char *name, const char *password,
               char *error, size_t error_size)
{
    if (!*name || strchr (name, ':') || strlen (name) > AUTH_NAME_MAX) {
        snprintf (error, error_size, "'%s' is not a user name (1-%d characters, no ':')", name,
                  AUTH_NAME_MAX);
        return -1;
    }
    char hashed [AUTH_LINE_MAX];
    if (s_bcrypt (password, hashed, sizeof hashed, error, error_size))
        return -1;
    //  The file again, without NAME's line, then NAME's new line.
    char *kept = NULL;
    size_t kept_size = 0;
    FILE *text = open_memstream (&kept, &kept_size);
    FILE *old = fopen (path, "r");
    char line [AUTH_LINE_MAX];
    size_t length = strlen (name);
    while (old && text && fgets (line, sizeof line, old))
        if (!(strncmp (line, name, length) == 0 && line [length] == ':'))
            fputs (line, text);
    if (old)
        fclose (old);
    if (text)
        fprintf (text, "%s:%s\n", name, hashed);
    if (!text || fclose (text)) {
        free (kept);
        snprintf (error, error_size, "out of memory");
        return -1;
    }
    char temporary [4200];
    snprintf (temporary, sizeof temporary, "%s.tmp", path);
    FILE *file = fopen (temporary, "w");
    bool written = file && fwrite (kept, 1, kept_size, file) == kept_size;
    if (file && fclose (file))
        written = false;
    free (kept);
    if (!written || rename (temporary, path)) {
        snprintf (error, error_size, "cannot write %s: %s", path, strerror (errno));
        return -1;
    }
    return 0;
}
