/*  auth.h — who is asking lilac-web, and what they may do.

    Identities come from two files named in the config:
    - users: an Apache htpasswd file with bcrypt entries (NAME:$2y$...,
      `htpasswd -B` or `lilac-web user add NAME`), checked with crypt(3)
      from libcrypt; HTTP Basic authentication;
    - tokens: one line per API token, "NAME ROLE SOURCE|- SHA256-HEX", the
      hash of the token sent as `Authorization: Bearer TOKEN` (for scripts
      and Prometheus); the token itself is never stored.
    Browsers log in once and carry a signed session cookie (session.h); a
    cookie reads and acts as its user, never sends events (that is what
    tokens are for), and its state-changing requests obey the CSRF rule
    web.c enforces.
    Roles: admin (read and act, and send), reader (read), sender (send
    events only). A user's role comes from the config's admins, readers and
    senders lists. A sender bound to a source (tokens' SOURCE) sends as it.

    bcrypt is slow on purpose and the loop is single: a verified Basic
    credential is remembered by the SHA-256 of user and password for
    AUTH_CACHE_MS. After AUTH_FAILURES_MAX failed logins from one address in
    AUTH_FAILURE_WINDOW_MS, that address is answered 429 until the window
    ends; every failure is logged.

    With neither file configured, authentication is off: everyone is
    "anonymous@ADDRESS" with every right (lilac-web then warns at start if
    it listens beyond loopback).
*/
#ifndef LILAC_AUTH_H
#define LILAC_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config_report.h"
#include "http.h"
#include "web_config.h"

#define AUTH_CACHE_MS           (5 * 60 * 1000)
#define AUTH_FAILURES_MAX       5
#define AUTH_FAILURE_WINDOW_MS  60000
#define AUTH_NAME_MAX           64

typedef enum { AUTH_ROLE_NONE, AUTH_ROLE_SENDER, AUTH_ROLE_READER, AUTH_ROLE_ADMIN } auth_role_t;
//  What a route needs.
typedef enum { AUTH_OPEN, AUTH_READ, AUTH_ACT, AUTH_SEND } auth_need_t;

typedef struct {
    char name [AUTH_NAME_MAX + 1];
    auth_role_t role;
    char source [AUTH_NAME_MAX + 1];   //  a bound source, "" when none
    bool by_session;               //  came with a session cookie (the CSRF rule applies)
} auth_identity_t;

typedef struct _auth_t auth_t;

//  Reads the files the config names. NULL with a reason (file:line).
auth_t *auth_new (const web_config_t *config, char *error, size_t error_size);
void auth_destroy (auth_t **self_p);
bool auth_enabled (auth_t *self);
//  Who sent request, and may they do what route needs? 0 with *who set;
//  else the code to answer (401 with a challenge, 403, 429) and why.
int auth_check (auth_t *self, http_request_t *request, auth_need_t need, auth_identity_t *who,
                unsigned *code, char *why, size_t why_size);
//  A browser's login (POST /api/session): the password checked as Basic is
//  (the same cache, failure count and 429), then a session cookie value
//  (session.h) valid until *expires_s. 0 with *who; else the code (401,
//  404 without a users file, 429, 500) and why. Every outcome is logged.
int auth_login (auth_t *self, http_request_t *request, const char *user, const char *password,
                auth_identity_t *who, char *cookie, size_t cookie_size, int64_t *expires_s,
                unsigned *code, char *why, size_t why_size);
//  A logout: every session of name issued until now ends. 0, or -1 with
//  why (nothing ended).
int auth_logout (auth_t *self, const char *name, char *error, size_t error_size);
//  How long a session lasts, in seconds (0 without sessions).
int64_t auth_session_lifetime_s (auth_t *self);
//  At -n and start: the files parse and every listed user exists.
void auth_verify (const web_config_t *config, config_report_t *report);
//  `lilac-web user add NAME`: writes NAME:BCRYPT(password) into the users
//  file (replacing NAME's line). 0, or -1 with a reason.
int auth_user_add (const char *path, const char *name, const char *password,
                   char *error, size_t error_size);
const char *auth_role_name (auth_role_t role);

#endif
