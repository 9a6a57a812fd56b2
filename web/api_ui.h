/*  api_ui.h — the web UI's files, served from the binary (assets.h).

      GET /                    index.html: the page, showing the alert list
      GET /alerts/SOURCE/ID    index.html too: the page shows that alert (a
                               link Pushover and e-mails can carry)
      GET /silences            index.html: the silences
      GET /login               login.html: the login form
      GET /ui/NAME             any file of web/ui (404 for none)

    Every answer carries its ETag (a matching If-None-Match is a 304),
    Cache-Control: no-cache (the browser asks again, and a new binary's
    files are never mixed with an old one's), and a Content-Security-Policy
    that lets a page load only from lilac-web itself (default-src 'self'):
    no script from elsewhere, none inline. The files are open to everyone:
    they hold no data; the API they call checks who asks.
*/
#ifndef LILAC_API_UI_H
#define LILAC_API_UI_H

#include "web_internal.h"

enum MHD_Result api_ui_index (web_t *web, http_request_t *request);
enum MHD_Result api_ui_login (web_t *web, http_request_t *request);
enum MHD_Result api_ui_file (web_t *web, http_request_t *request);

#endif
