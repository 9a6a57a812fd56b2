/*  config.c — a ZPL (ZeroMQ RFC 4) parser that remembers where each
    setting came from.

    The tree is a root node (named "root", line 0) whose children are the
    top-level names; every node keeps its name, its value ("" when none),
    the line it was read from, and its children in file order. All nodes
    borrow the file name from the root, so the tree costs one allocation
    per node plus its strings.

    The parser reads one line at a time and keeps a stack of the last node
    seen at each depth: a line indented N levels (4N spaces) becomes a child
    of the last node at depth N. That makes "more than one level deeper than
    its parent" a simple comparison, and bounds nesting at CONFIG_MAX_DEPTH.

    What we accept, per RFC 4 and czmq's zconfig:
    - blank lines, and comment lines starting with "#" at any indentation;
    - `name`, `name = value`, `name = "quoted"`, `name = 'quoted'`, each
      optionally followed by `# comment`; a bare value runs up to "#" or the
      end of the line, trailing blanks dropped; quoted values have no escapes;
    - names made of [A-Za-z0-9$-_@.&+/].
    What we reject, each as "FILE:LINE: why": tabs in indentation, an
    indentation that is not a multiple of four, a line more than one level
    deeper than its parent, a bad or missing name, an unterminated quote,
    text after a quoted value, NUL bytes, and files over CONFIG_FILE_MAX.

    Paths in config_locate() and the getters are child names joined by "/".
    A name may itself contain "/" (RFC 4 allows it); such a node cannot be
    reached by path, as with zconfig.
*/
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "config.h"
#include "error_text.h"
#include "mem.h"
#include "timespec.h"

#define CONFIG_MAX_DEPTH   32                   //  levels of nesting allowed
#define CONFIG_FILE_MAX    (16 * 1024 * 1024)   //  bytes; a config, not a data set
#define CONFIG_PATH_MAX    256                  //  bytes of a path in messages

struct _config_t {
    char *name;                 //  node name ("root" for the root)
    char *value;                //  value, "" when the line had none
    int line;                   //  line number in file, 0 for the root
    const char *file;           //  file name, owned by the root
    char *owned_file;           //  the root's copy of the file name
    config_t *parent;           //  NULL for the root
    config_t *child;            //  first child
    config_t *last_child;       //  last child, for appending in order
    config_t *next;             //  next sibling
};


static config_t *
s_node_new (config_t *parent, const char *name, size_t name_size,
            const char *value, size_t value_size, int line)
{
    config_t *self = (config_t *) mem_alloc (sizeof (config_t));
    self->name = (char *) mem_alloc (name_size + 1);
    memcpy (self->name, name, name_size);
    self->value = (char *) mem_alloc (value_size + 1);
    if (value_size)
        memcpy (self->value, value, value_size);
    self->line = line;
    self->parent = parent;
    if (parent) {
        self->file = parent->file;
        if (parent->last_child)
            parent->last_child->next = self;
        else
            parent->child = self;
        parent->last_child = self;
    }
    return self;
}

void
config_destroy (config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    config_t *self = *self_p;
    config_t *child = self->child;
    while (child) {
        config_t *next = child->next;
        config_destroy (&child);
        child = next;
    }
    mem_free (self->name);
    mem_free (self->value);
    mem_free (self->owned_file);
    mem_free (self);
    *self_p = NULL;
}

static bool
s_is_name_char (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || (c != 0 && strchr ("$-_@.&+/", c));
}

static bool
s_is_blank (char c)
{
    return c == ' ' || c == '\t';
}

//  Parser state for one text.
typedef struct {
    const char *file;           //  name used in messages
    int line;                   //  current line number
    config_t *stack [CONFIG_MAX_DEPTH + 1];     //  last node at each depth
    int depth;                  //  depth of the last node (0: root only)
    char *error;                //  caller's buffer
    size_t error_size;          //  its size
} parser_t;

//  Parses one line (without its newline) into the tree. Returns 0 or -1.
static int
s_parse_line (parser_t *parser, const char *line, size_t length)
{
    const char *end = line + length;
    if (end > line && end [-1] == '\r')
        end--;                                      //  CRLF files
    const char *cursor = line;
    while (cursor < end && s_is_blank (*cursor)) {
        if (*cursor == '\t') {
            error_text (parser->error, parser->error_size, -1,
                     "%s:%d: tab in indentation; indent with 4 spaces per level",
                     parser->file, parser->line);
            return -1;
        }
        cursor++;
    }
    if (cursor == end || *cursor == '#')
        return 0;                                   //  blank or comment
    size_t indent = (size_t) (cursor - line);
    if (indent % 4) {
        error_text (parser->error, parser->error_size, -1,
                 "%s:%d: indentation of %zu spaces is not a multiple of 4",
                 parser->file, parser->line, indent);
        return -1;
    }
    int level = (int) (indent / 4);
    if (level > parser->depth) {
        config_t *parent = parser->stack [parser->depth];
        if (parser->depth == 0)
            error_text (parser->error, parser->error_size, -1,
                     "%s:%d: indented, but there is no section above it",
                     parser->file, parser->line);
        else
            error_text (parser->error, parser->error_size, -1,
                     "%s:%d: indented more than one level deeper than '%s' (line %d)",
                     parser->file, parser->line, parent->name, parent->line);
        return -1;
    }
    if (level >= CONFIG_MAX_DEPTH) {
        error_text (parser->error, parser->error_size, -1,
                 "%s:%d: nested deeper than %d levels",
                 parser->file, parser->line, CONFIG_MAX_DEPTH);
        return -1;
    }
    //  Name
    const char *name = cursor;
    while (cursor < end && s_is_name_char (*cursor))
        cursor++;
    size_t name_size = (size_t) (cursor - name);
    if (name_size == 0) {
        error_text (parser->error, parser->error_size, -1,
                 "%s:%d: expected a name, found '%c'",
                 parser->file, parser->line, *cursor);
        return -1;
    }
    while (cursor < end && s_is_blank (*cursor))
        cursor++;
    //  Optional "= value"
    const char *value = cursor;
    size_t value_size = 0;
    if (cursor < end && *cursor == '=') {
        cursor++;
        while (cursor < end && s_is_blank (*cursor))
            cursor++;
        if (cursor < end && (*cursor == '"' || *cursor == '\'')) {
            char quote = *cursor++;
            value = cursor;
            while (cursor < end && *cursor != quote)
                cursor++;
            if (cursor == end) {
                error_text (parser->error, parser->error_size, -1,
                         "%s:%d: missing closing %c", parser->file, parser->line, quote);
                return -1;
            }
            value_size = (size_t) (cursor - value);
            cursor++;
            while (cursor < end && s_is_blank (*cursor))
                cursor++;
            if (cursor < end && *cursor != '#') {
                error_text (parser->error, parser->error_size, -1,
                         "%s:%d: unexpected text after the quoted value of '%.*s'",
                         parser->file, parser->line, (int) name_size, name);
                return -1;
            }
        }
        else {
            value = cursor;
            while (cursor < end && *cursor != '#')
                cursor++;
            while (cursor > value && s_is_blank (cursor [-1]))
                cursor--;
            value_size = (size_t) (cursor - value);
        }
    }
    else
    if (cursor < end && *cursor != '#') {
        error_text (parser->error, parser->error_size, -1,
                 "%s:%d: expected '=' or the end of the line after '%.*s', found '%c'",
                 parser->file, parser->line, (int) name_size, name, *cursor);
        return -1;
    }
    config_t *node = s_node_new (parser->stack [level], name, name_size,
                                 value, value_size, parser->line);
    parser->depth = level + 1;
    parser->stack [parser->depth] = node;
    return 0;
}

//  Parses size bytes of text into root's children. Returns 0 or -1.
static int
s_parse_text (config_t *root, const char *text, size_t size,
              char *error, size_t error_size)
{
    parser_t parser = {
        .file = root->file,
        .line = 0,
        .depth = 0,
        .error = error,
        .error_size = error_size
    };
    parser.stack [0] = root;
    const char *cursor = text;
    const char *end = text + size;
    while (cursor < end) {
        parser.line++;
        const char *newline = memchr (cursor, '\n', (size_t) (end - cursor));
        const char *line_end = newline ? newline : end;
        if (memchr (cursor, 0, (size_t) (line_end - cursor))) {
            error_text (error, error_size, -1, "%s:%d: NUL byte in a text file",
                     parser.file, parser.line);
            return -1;
        }
        if (s_parse_line (&parser, cursor, (size_t) (line_end - cursor)))
            return -1;
        cursor = newline ? newline + 1 : end;
    }
    return 0;
}

static config_t *
s_parse (const char *text, size_t size, const char *name,
         char *error, size_t error_size)
{
    config_t *root = s_node_new (NULL, "root", 4, "", 0, 0);
    root->owned_file = mem_strdup (name ? name : "(config)");
    root->file = root->owned_file;
    if (s_parse_text (root, text, size, error, error_size)) {
        config_destroy (&root);
        return NULL;
    }
    return root;
}

config_t *
config_parse (const char *text, const char *name, char *error, size_t error_size)
{
    if (!text) {
        error_text (error, error_size, -1, "%s: no text", name ? name : "(config)");
        return NULL;
    }
    return s_parse (text, strlen (text), name, error, error_size);
}

//  Reads all of a file into a new buffer. Returns NULL with errno set.
static char *
s_read_file (FILE *file, size_t *size)
{
    size_t capacity = 4096;
    size_t used = 0;
    char *buffer = (char *) mem_alloc (capacity);
    while (true) {
        if (used == capacity) {
            if (capacity >= CONFIG_FILE_MAX) {
                mem_free (buffer);
                errno = EFBIG;
                return NULL;
            }
            capacity *= 2;
            buffer = (char *) mem_realloc (buffer, capacity);
        }
        size_t got = fread (buffer + used, 1, capacity - used, file);
        used += got;
        if (got == 0) {
            if (ferror (file)) {
                int saved = errno ? errno : EIO;
                mem_free (buffer);
                errno = saved;
                return NULL;
            }
            break;                              //  end of file
        }
    }
    *size = used;
    return buffer;
}

config_t *
config_load (const char *path, char *error, size_t error_size)
{
    if (!path) {
        error_text (error, error_size, -1, "no config file given");
        return NULL;
    }
    FILE *file = fopen (path, "r");
    if (!file) {
        error_text (error, error_size, -1, "%s: %s", path, strerror (errno));
        return NULL;
    }
    errno = 0;
    size_t size = 0;
    char *text = s_read_file (file, &size);
    int saved = errno;
    if (fclose (file) != 0 && text) {
        saved = errno;
        mem_free (text);
        text = NULL;
    }
    if (!text) {
        error_text (error, error_size, -1, "%s: %s", path, strerror (saved));
        return NULL;
    }
    config_t *root = s_parse (text, size, path, error, error_size);
    mem_free (text);
    return root;
}

config_t *
config_locate (config_t *self, const char *path)
{
    if (!self || !path)
        return NULL;
    while (*path) {
        if (*path == '/') {
            path++;
            continue;
        }
        size_t length = strcspn (path, "/");
        config_t *child = self->child;
        while (child && !(strlen (child->name) == length
                          && memcmp (child->name, path, length) == 0))
            child = child->next;
        if (!child)
            return NULL;
        self = child;
        path += length;
    }
    return self;
}

config_t *
config_child (config_t *self)
{
    return self ? self->child : NULL;
}

config_t *
config_next (config_t *self)
{
    return self ? self->next : NULL;
}

const char *
config_name (config_t *self)
{
    return self ? self->name : "";
}

const char *
config_value (config_t *self)
{
    return self ? self->value : "";
}

int
config_line (config_t *self)
{
    return self ? self->line : 0;
}

const char *
config_file (config_t *self)
{
    return self && self->file ? self->file : "";
}

//  Writes the node's path from the root ("broker/grace") into buffer;
//  "root" for the root itself.
static const char *
s_path (config_t *self, char *buffer, size_t size)
{
    if (!self->parent) {
        snprintf (buffer, size, "%s", self->name);
        return buffer;
    }
    //  Collect ancestors below the root, then write them top down
    config_t *chain [CONFIG_MAX_DEPTH + 1];
    int count = 0;
    for (config_t *node = self; node->parent && count <= CONFIG_MAX_DEPTH;
         node = node->parent)
        chain [count++] = node;
    size_t used = 0;
    buffer [0] = 0;
    while (count-- > 0 && used < size) {
        int written = snprintf (buffer + used, size - used, "%s%s",
                                used ? "/" : "", chain [count]->name);
        if (written < 0)
            break;
        used += (size_t) written;
    }
    return buffer;
}

//  Reports a bad value as "FILE:LINE: path: why 'value' ...".
static void
s_value_error (config_t *node, char *error, size_t error_size, const char *why)
{
    char path [CONFIG_PATH_MAX];
    error_text (error, error_size, -1, "%s:%d: %s: '%s' %s", node->file, node->line,
             s_path (node, path, sizeof path), node->value, why);
}

int
config_string (config_t *self, const char *path, const char *fallback,
               const char **value)
{
    if (!value)
        return -1;
    config_t *node = config_locate (self, path);
    *value = node ? node->value : fallback;
    return 0;
}

void
config_key_where (config_t *section, const char *name, const char *key,
                  char *where, size_t size)
{
    config_t *node = section ? config_locate (section, key) : NULL;
    if (node)
        snprintf (where, size, "%s:%d: %s/%s", config_file (node), config_line (node), name, key);
    else
        snprintf (where, size, "%s/%s", name, key);
}

char *
config_string_copy (config_t *self, const char *path)
{
    config_t *node = self ? config_locate (self, path) : NULL;
    return node && node->value && *node->value ? mem_strdup (node->value) : NULL;
}

int
config_duration (config_t *self, const char *path, int64_t fallback_ms,
                 int64_t *ms, char *error, size_t error_size)
{
    if (!ms)
        return -1;
    config_t *node = config_locate (self, path);
    if (!node) {
        *ms = fallback_ms;
        return 0;
    }
    int64_t parsed;
    if (duration_parse (node->value, &parsed)) {
        s_value_error (node, error, error_size,
                       "is not a duration (like 30s, 5m, 2h, 7d or 500ms)");
        return -1;
    }
    *ms = parsed;
    return 0;
}

//  Parses an optionally negative decimal integer that is all of text.
static int
s_parse_integer (const char *text, int64_t *value)
{
    bool negative = *text == '-';
    if (negative)
        text++;
    if (*text < '0' || *text > '9')
        return -1;
    int64_t total = 0;
    for (; *text; text++) {
        if (*text < '0' || *text > '9')
            return -1;
        int digit = *text - '0';
        //  Accumulate negatively so INT64_MIN is reachable
        if (__builtin_mul_overflow (total, 10, &total)
        ||  __builtin_sub_overflow (total, digit, &total))
            return -1;
    }
    if (!negative && __builtin_mul_overflow (total, -1, &total))
        return -1;
    *value = total;
    return 0;
}

int
config_integer (config_t *self, const char *path, int64_t fallback,
                int64_t min, int64_t max, int64_t *value,
                char *error, size_t error_size)
{
    if (!value)
        return -1;
    config_t *node = config_locate (self, path);
    if (!node) {
        *value = fallback;
        return 0;
    }
    int64_t parsed;
    if (s_parse_integer (node->value, &parsed)) {
        s_value_error (node, error, error_size, "is not an integer");
        return -1;
    }
    if (parsed < min || parsed > max) {
        char why [96];
        snprintf (why, sizeof why, "is out of range (%lld to %lld)",
                  (long long) min, (long long) max);
        s_value_error (node, error, error_size, why);
        return -1;
    }
    *value = parsed;
    return 0;
}

int
config_boolean (config_t *self, const char *path, bool fallback,
                bool *value, char *error, size_t error_size)
{
    static const char *const truths [] = { "yes", "true", "on", "1" };
    static const char *const falsehoods [] = { "no", "false", "off", "0" };
    if (!value)
        return -1;
    config_t *node = config_locate (self, path);
    if (!node) {
        *value = fallback;
        return 0;
    }
    for (size_t index = 0; index < sizeof truths / sizeof truths [0]; index++) {
        if (strcasecmp (node->value, truths [index]) == 0) {
            *value = true;
            return 0;
        }
        if (strcasecmp (node->value, falsehoods [index]) == 0) {
            *value = false;
            return 0;
        }
    }
    s_value_error (node, error, error_size,
                   "is not a boolean (yes/no, true/false, on/off, 1/0)");
    return -1;
}

//  A key (a node without children) set twice is a mistake: only the first
//  would count. Sections may repeat (`check = NAME` blocks).
static int
s_duplicate_key (config_t *self, config_t *key, char *error, size_t error_size)
{
    if (key->child)
        return 0;
    for (config_t *earlier = self->child; earlier != key; earlier = earlier->next)
        if (!earlier->child && strcmp (earlier->name, key->name) == 0)
            return error_text (error, error_size, -1, "%s:%d: '%s' is set twice (first at line %d)",
                               key->file, key->line, key->name, earlier->line);
    return 0;
}

const char *
config_list_next (const char *text, char *out, size_t out_size)
{
    text += strspn (text, ", \t\r\n");
    size_t length = strcspn (text, ", \t\r\n");
    if (!length)
        return NULL;
    snprintf (out, out_size, "%.*s", (int) length, text);
    return text + length;
}

int
config_check_keys (config_t *self, const char *const *known,
                   char *error, size_t error_size)
{
    if (!self || !known)
        return -1;
    for (config_t *child = self->child; child; child = child->next) {
        const char *const *name = known;
        while (*name && strcmp (*name, child->name) != 0)
            name++;
        if (!*name) {
            char path [CONFIG_PATH_MAX];
            error_text (error, error_size, -1, "%s:%d: unknown key '%s' in section '%s'",
                     child->file, child->line, child->name,
                     s_path (self, path, sizeof path));
            return -1;
        }
        if (s_duplicate_key (self, child, error, error_size))
            return -1;
    }
    return 0;
}
