/*  assets.h — the web UI's files, inside lilac-web.

    tools/embed writes web_assets (build/gen/web_assets.c) from web/ui at
    build time: nothing is fetched or read from disk at run time, and the
    binary serves the UI it was built with. web_asset_find looks a file up
    by its base name.
*/
#ifndef LILAC_ASSETS_H
#define LILAC_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *name;              //  "index.html"
    const char *type;              //  its Content-Type
    const unsigned char *data;
    size_t size;
    const char *etag;              //  "\"HEX\"": the bytes' FNV-1a 64
} web_asset_t;

//  Every file, ended by an entry whose name is NULL.
extern const web_asset_t web_assets [];

//  The file called name, or NULL.
const web_asset_t *web_asset_find (const char *name);

#endif
