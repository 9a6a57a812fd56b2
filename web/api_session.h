/*  api_session.h — browsers log in and out.

      POST   /api/session    {user, password} → 200 {user, role, expires}
                             with Set-Cookie: lilac_session=...; HttpOnly;
                             SameSite=Strict; Path=/; Max-Age; Secure under
                             TLS. 401 wrong user or password, 429 after
                             too many failures from one address, 404 when
                             lilac-web has no users file, 400 a bad body.
      GET    /api/session    who the session cookie is → 200 {user, role,
                             session: true}; 401 without a valid one (no
                             Basic challenge: a page asks this). With
                             authentication off: the anonymous admin,
                             session false.
      DELETE /api/session    → 200: every session of the cookie's user
                             issued until now ends (not only this
                             browser's: a cookie holds no id to end alone),
                             and the cookie is dropped; 500 when the end
                             could not be written down (then nothing ended)

    The session itself is a signed cookie (session.h), checked by auth.c on
    every request that carries it and no Authorization header.
*/
#ifndef LILAC_API_SESSION_H
#define LILAC_API_SESSION_H

#include "web_internal.h"

enum MHD_Result api_session_login (web_t *web, http_request_t *request);
enum MHD_Result api_session_who (web_t *web, http_request_t *request);
enum MHD_Result api_session_logout (web_t *web, http_request_t *request);

#endif
