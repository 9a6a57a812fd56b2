/*  embed.c — turns the web UI's files into C, at build time.

    `embed OUT.c FILE...` writes OUT.c holding one web_asset_t per FILE
    (web/assets.h): its name (the file's base name), its content type (by
    extension), its bytes and an ETag (FNV-1a 64 of the bytes), so
    lilac-web serves its pages from its own binary and fetches nothing at
    run time. A build tool, not part of any program: it exits 1 with a
    message on any trouble, and make stops.
*/
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *
s_content_type (const char *name)
{
    static const char *const types [][2] = {
        { ".html", "text/html; charset=utf-8" }, { ".css", "text/css; charset=utf-8" },
        { ".js", "text/javascript; charset=utf-8" }, { ".svg", "image/svg+xml" },
        { ".png", "image/png" }, { ".ico", "image/x-icon" }, { ".txt", "text/plain; charset=utf-8" },
    };
    const char *dot = strrchr (name, '.');
    for (size_t index = 0; dot && index < sizeof types / sizeof types [0]; index++)
        if (strcmp (dot, types [index][0]) == 0)
            return types [index][1];
    return NULL;
}

//  The whole file, or NULL (said).
static unsigned char *
s_read (const char *path, size_t *size)
{
    FILE *file = fopen (path, "rb");
    unsigned char *data = NULL;
    *size = 0;
    if (!file) {
        perror (path);
        return NULL;
    }
    for (size_t got; ; *size += got) {
        unsigned char *grown = realloc (data, *size + 65536);
        if (!grown) {
            free (data);
            fclose (file);
            fprintf (stderr, "embed: out of memory\n");
            return NULL;
        }
        data = grown;
        got = fread (data + *size, 1, 65536, file);
        if (got == 0)
            break;
    }
    bool failed = ferror (file);
    fclose (file);
    if (failed) {
        perror (path);
        free (data);
        return NULL;
    }
    return data;
}

//  One file as a static array and its table entry's text. 0 / -1.
static int
s_embed (FILE *out, const char *path, size_t index, char *entry, size_t entry_size)
{
    const char *name = strrchr (path, '/') ? strrchr (path, '/') + 1 : path;
    const char *type = s_content_type (name);
    if (!type || strspn (name, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen (name)) {
        fprintf (stderr, "embed: %s: not a web file name (a-z0-9-_. and a known extension)\n",
                 path);
        return -1;
    }
    size_t size;
    unsigned char *data = s_read (path, &size);
    if (!data)
        return -1;
    uint64_t hash = 14695981039346656037ULL;
    fprintf (out, "static const unsigned char s_data_%zu [] = {", index);
    for (size_t at = 0; at < size; at++) {
        hash = (hash ^ data [at]) * 1099511628211ULL;
        fprintf (out, "%s%u,", at % 20 ? "" : "\n    ", data [at]);
    }
    fprintf (out, "0\n};\n");
    free (data);
    snprintf (entry, entry_size, "    { \"%s\", \"%s\", s_data_%zu, %zu, \"\\\"%016llx\\\"\" },\n",
              name, type, index, size, (unsigned long long) hash);
    return 0;
}

int
main (int argc, char *argv [])
{
    if (argc < 2) {
        fprintf (stderr, "usage: embed OUT.c FILE...\n");
        return 1;
    }
    FILE *out = fopen (argv [1], "w");
    if (!out) {
        perror (argv [1]);
        return 1;
    }
    fprintf (out, "/*  Written by tools/embed from web/ui: do not edit. */\n"
                  "#include \"assets.h\"\n\n");
    size_t count = (size_t) argc - 2;
    char (*entries) [512] = calloc (count + 1, 512);
    int rc = entries ? 0 : -1;
    for (size_t index = 0; rc == 0 && index < count; index++)
        rc = s_embed (out, argv [index + 2], index, entries [index], 512);
    if (rc == 0) {
        fprintf (out, "\nconst web_asset_t web_assets [] = {\n");
        for (size_t index = 0; index < count; index++)
            fputs (entries [index], out);
        fprintf (out, "    { NULL, NULL, NULL, 0, NULL }\n};\n");
    }
    free (entries);
    if (fclose (out) || rc) {
        remove (argv [1]);
        fprintf (stderr, "embed: %s not written\n", argv [1]);
        return 1;
    }
    return 0;
}
