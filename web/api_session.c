/*  api_session.c — browsers log in and out. See api_session.h.

    The login page itself is one of the UI's files (web/ui/login.html and
    login.js, served by api_ui.c): it posts the form here as JSON.
*/
#include <stdio.h>
#include <string.h>
#include "api_session.h"
#include "auth.h"
#include "json.h"
#include "log.h"
#include "session.h"

#define S_BODY_MAX  4096

//  "lilac_session=VALUE; ..." for Set-Cookie: max_age seconds (0 drops it).
static void
s_cookie_header (web_t *web, http_request_t *request, const char *value, int64_t max_age,
                 char *header, size_t header_size)
{
    snprintf (header, header_size, "%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s",
              SESSION_COOKIE, value, (long long) max_age,
              web_https (web, request) ? "; Secure" : "");
}

enum MHD_Result
api_session_login (web_t *web, http_request_t *request)
{
    char error [300], user [AUTH_NAME_MAX + 1], password [1024];
    json_t *body = json_read_object (http_body (request), http_body_size (request), S_BODY_MAX,
                                     error, sizeof error);
    if (!body)
        return http_reply_error (request, MHD_HTTP_BAD_REQUEST,
                                 "want a JSON object {\"user\", \"password\"}: %s", error);
    bool complete = json_get_string (body, "user", user, sizeof user, false) == 0
                 && json_get_string (body, "password", password, sizeof password, false) == 0;
    json_decref (body);
    if (!complete) {
        explicit_bzero (password, sizeof password);
        return http_reply_error (request, MHD_HTTP_BAD_REQUEST,
                                 "want {\"user\": NAME, \"password\": TEXT} (strings: a name of "
                                 "at most %d bytes, a password of at most %zu)", AUTH_NAME_MAX,
                                 sizeof password - 1);
    }
    auth_identity_t who;
    char cookie [SESSION_COOKIE_MAX], why [300];
    int64_t expires_s = 0;
    unsigned code = 0;
    int rc = auth_login (web_auth (web), request, user, password, &who, cookie, sizeof cookie,
                         &expires_s, &code, why, sizeof why);
    explicit_bzero (password, sizeof password);
    if (rc)
        return http_reply_error (request, code, "%s", why);
    char header [SESSION_COOKIE_MAX + 128];
    s_cookie_header (web, request, cookie, auth_session_lifetime_s (web_auth (web)), header,
                     sizeof header);
    http_set_cookie (request, header);
    return http_reply_json (request, MHD_HTTP_OK,
                            json_pack ("{s:s, s:s, s:I}", "user", who.name,
                                       "role", auth_role_name (who.role),
                                       "expires", (json_int_t) expires_s));
}

enum MHD_Result
api_session_who (web_t *web, http_request_t *request)
{
    if (!*http_role (request))
        return http_reply_error (request, MHD_HTTP_UNAUTHORIZED, "not logged in");
    char by [200];
    web_user (web, request, by, sizeof by);
    return http_reply_json (request, MHD_HTTP_OK,
                            json_pack ("{s:s, s:s, s:b}", "user", by, "role",
                                       http_role (request), "session",
                                       http_by_session (request)));
}

enum MHD_Result
api_session_logout (web_t *web, http_request_t *request)
{
    char header [256], why [300];
    if (http_by_session (request)
    &&  auth_logout (web_auth (web), http_user (request), why, sizeof why))
        return http_reply_error (request, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                 "the session could not be ended: %s", why);
    s_cookie_header (web, request, "", 0, header, sizeof header);
    http_set_cookie (request, header);
    return http_reply_json (request, MHD_HTTP_OK, json_pack ("{s:b}", "ok", true));
}
