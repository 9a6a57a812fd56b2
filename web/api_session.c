/*  api_session.c — browsers log in and out. See api_session.h.

    The login page is one small HTML document with its script inline: it
    posts the form as JSON (the CSRF rule: state changes come as JSON) and
    then goes to `next`, which is taken only when the browser itself
    resolves it to this origin (a pattern on the text would miss what
    browsers strip, like "/\t/elsewhere"): the page cannot be used to send
    a user off-site after a login.
*/
#include <stdio.h>
#include <string.h>
#include "api_session.h"
#include "auth.h"
#include "json.h"
#include "log.h"
#include "session.h"

#define S_BODY_MAX  4096

static const char s_login_page [] =
    "<!doctype html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<meta name=\"color-scheme\" content=\"light dark\">\n"
    "<title>lilac: log in</title>\n"
    "<style>body{font:16px system-ui,sans-serif;max-width:22em;margin:4em auto;padding:0 1em}"
    "label,input,button{display:block;width:100%;box-sizing:border-box;margin:.3em 0}"
    "input,button{padding:.5em;font:inherit}#error{color:#c00;min-height:1.5em}</style>\n"
    "</head><body><main>\n"
    "<h1>lilac</h1>\n"
    "<form id=\"login\">\n"
    "<label for=\"user\">User</label>"
    "<input id=\"user\" name=\"user\" autocomplete=\"username\" required autofocus>\n"
    "<label for=\"password\">Password</label>"
    "<input id=\"password\" name=\"password\" type=\"password\" "
    "autocomplete=\"current-password\" required>\n"
    "<p id=\"error\" role=\"alert\"></p>\n"
    "<button type=\"submit\">Log in</button>\n"
    "</form></main>\n"
    "<script>\n"
    "document.getElementById('login').addEventListener('submit', async function (event) {\n"
    "  event.preventDefault();\n"
    "  const error = document.getElementById('error');\n"
    "  error.textContent = '';\n"
    "  const body = JSON.stringify({user: this.user.value, password: this.password.value});\n"
    "  try {\n"
    "    const answer = await fetch('/api/session', {method: 'POST', body: body,\n"
    "      headers: {'Content-Type': 'application/json'}, credentials: 'same-origin'});\n"
    "    if (answer.ok) {\n"
    "      const next = new URL(new URLSearchParams(location.search).get('next') || '/',\n"
    "                           location.origin);\n"
    "      location.assign(next.origin === location.origin\n"
    "                      ? next.pathname + next.search + next.hash : '/');\n"
    "      return;\n"
    "    }\n"
    "    const reply = await answer.json().catch(() => ({}));\n"
    "    error.textContent = reply.error || ('login failed: ' + answer.status);\n"
    "  } catch (failure) {\n"
    "    error.textContent = 'lilac-web did not answer: ' + failure.message;\n"
    "  }\n"
    "});\n"
    "</script></body></html>\n";

enum MHD_Result
api_session_login_page (web_t *web, http_request_t *request)
{
    (void) web;
    return http_reply_text (request, MHD_HTTP_OK, "text/html; charset=utf-8", s_login_page);
}

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
