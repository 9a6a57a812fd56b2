/*  api_ui.c — the web UI's files. See api_ui.h.
*/
#include <string.h>
#include "api_ui.h"
#include "assets.h"

#define S_CSP  "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; " \
               "base-uri 'none'; form-action 'self'"

const web_asset_t *
web_asset_find (const char *name)
{
    for (const web_asset_t *asset = web_assets; asset->name; asset++)
        if (strcmp (asset->name, name) == 0)
            return asset;
    return NULL;
}

//  The asset, or a 304 when the browser holds it already.
static enum MHD_Result
s_serve (http_request_t *request, const web_asset_t *asset)
{
    const char *held = http_header (request, MHD_HTTP_HEADER_IF_NONE_MATCH);
    bool fresh = held && strcmp (held, asset->etag) == 0;
    struct MHD_Response *response = MHD_create_response_from_buffer (
        fresh ? 0 : asset->size, (void *) (uintptr_t) asset->data, MHD_RESPMEM_PERSISTENT);
    if (!response)
        return MHD_NO;
    static const char *const headers [][2] = {
        { MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache" },
        { MHD_HTTP_HEADER_CONTENT_SECURITY_POLICY, S_CSP },
        { MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff" },
        { "Referrer-Policy", "same-origin" },
    };
    enum MHD_Result rc = MHD_add_response_header (response, MHD_HTTP_HEADER_ETAG, asset->etag);
    if (rc == MHD_YES && !fresh)
        rc = MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, asset->type);
    for (size_t index = 0; rc == MHD_YES && index < sizeof headers / sizeof headers [0]; index++)
        rc = MHD_add_response_header (response, headers [index][0], headers [index][1]);
    if (rc == MHD_YES)
        rc = http_queue_response (request, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, response);
    MHD_destroy_response (response);
    return rc;
}

static enum MHD_Result
s_serve_named (http_request_t *request, const char *name)
{
    const web_asset_t *asset = web_asset_find (name);
    if (!asset)
        return http_reply_error (request, MHD_HTTP_NOT_FOUND, "this lilac-web has no UI");
    return s_serve (request, asset);
}

//  The page's own views are paths of their own (/alerts/SOURCE/ID,
//  /silences) so they can be linked to; the page reads the path.
enum MHD_Result
api_ui_index (web_t *web, http_request_t *request)
{
    (void) web;
    return s_serve_named (request, "index.html");
}

enum MHD_Result
api_ui_login (web_t *web, http_request_t *request)
{
    (void) web;
    return s_serve_named (request, "login.html");
}

enum MHD_Result
api_ui_file (web_t *web, http_request_t *request)
{
    (void) web;
    char name [128];
    const web_asset_t *asset = http_segment_count (request) == 2
                             && http_segment (request, 1, name, sizeof name) == 0
                             ? web_asset_find (name) : NULL;
    if (!asset)
        return http_reply_error (request, MHD_HTTP_NOT_FOUND, "no such file of the UI: %.200s",
                                 http_path (request));
    return s_serve (request, asset);
}
