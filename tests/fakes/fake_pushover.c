/*  fake_pushover.c — a local stand-in for the Pushover API, for tests.

    usage: fake_pushover -l LOG -s SCRIPT -f FLAG [-p PORTFILE] [-P PORT]

    A real HTTP/1.1 server on 127.0.0.1 (PORT, or 0 for any: the port is
    written to PORTFILE). Every request is answered with "Connection: close"
    and recorded as one JSON line appended to LOG:
      {"n":1,"at":MS,"method":"POST","path":"/1/messages.json","answer":"200",
       "fields":{"token":"...","user":"...",...}}
    (fields: the decoded form body, or the query string of a GET).

    POST /1/messages.json is answered as the first line of SCRIPT says; that
    line is then removed from the file (so a test writes what the next
    requests get). Lines: "200", "500" (any 5xx), "400 TEXT" (any 4xx, TEXT
    in errors[]), "429 reset=EPOCH" (X-Limit-App-* headers, reset at EPOCH
    seconds), "hang" (the request is read and never answered; the
    connection is kept until the client gives up). No line: 200. A 200 still
    checks what Pushover checks (token, user, message; retry and expire with
    priority 2) and answers 400 when they are missing; priority 2 gets a
    receipt "r1", "r2", ...
    GET /1/receipts/R.json: acknowledged by "alice" on device "phone" once
    the file FLAG exists, not yet before. POST /1/receipts/cancel_by_tag/T.json:
    status 1. Anything else: 404.

    Bounded: requests over 64 KiB are refused (413), at most 32 connections,
    an idle connection is closed after 10 s (a hung one when the client
    closes it, or after 5 minutes). One request is handled at a time.
*/
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "json.h"

#define FAKE_REQUEST_MAX     (64 * 1024)
#define FAKE_CONNECTIONS     32
#define FAKE_IDLE_MS         10000
#define FAKE_HUNG_MS         300000
#define FAKE_FIELDS_MAX      64

typedef struct {
    int fd;                            //  -1 when the slot is free
    char *buffer;                      //  FAKE_REQUEST_MAX + 1 bytes
    size_t used;                       //  bytes read
    int64_t last_activity;             //  ms
    bool hung;                         //  read, never to be answered
} connection_t;

typedef struct {
    char *key;
    char *value;
} field_t;

static const char *s_log_path;
static const char *s_script_path;
static const char *s_flag_path;
static volatile sig_atomic_t s_stopping;
static int s_request_count;
static int s_receipt_count;

static int64_t
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void
s_on_signal (int signal_number)
{
    (void) signal_number;
    s_stopping = 1;
}

//  --- text ---------------------------------------------------------------------------

static int
s_hex (char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

//  Decodes %XX and '+' in place.
static void
s_url_decode (char *text)
{
    char *out = text;
    for (char *at = text; *at; at++) {
        if (*at == '+')
            *out++ = ' ';
        else
        if (*at == '%' && s_hex (at [1]) >= 0 && s_hex (at [2]) >= 0) {
            *out++ = (char) (s_hex (at [1]) * 16 + s_hex (at [2]));
            at += 2;
        }
        else
            *out++ = *at;
    }
    *out = 0;
}

//  Splits "a=1&b=2" (modified in place) into fields. Returns the count.
static size_t
s_parse_form (char *text, field_t *fields, size_t capacity)
{
    size_t count = 0;
    char *save = NULL;
    for (char *pair = strtok_r (text, "&", &save); pair && count < capacity;
         pair = strtok_r (NULL, "&", &save)) {
        char *equals = strchr (pair, '=');
        if (equals)
            *equals = 0;
        s_url_decode (pair);
        if (equals)
            s_url_decode (equals + 1);
        fields [count].key = pair;
        fields [count].value = equals ? equals + 1 : pair + strlen (pair);
        count++;
    }
    return count;
}

static const char *
s_field (field_t *fields, size_t count, const char *key)
{
    for (size_t index = 0; index < count; index++)
        if (strcmp (fields [index].key, key) == 0)
            return fields [index].value;
    return NULL;
}

//  object[key] = text (bytes that are not UTF-8 become U+FFFD). 0 or -1.
static int
s_put_text (json_t *object, const char *key, const char *text)
{
    return json_object_set_new (object, key, json_string_lossy (text, strlen (text)));
}

//  Appends one JSON line to the log, in one write.
static void
s_record (const char *method, const char *path, const char *answer, field_t *fields, size_t count)
{
    json_t *record = json_object ();
    json_t *form = json_object ();
    bool ok = record && form
        && json_object_set_new (record, "n", json_integer (s_request_count)) == 0
        && json_object_set_new (record, "at", json_integer (s_now_ms ())) == 0
        && s_put_text (record, "method", method) == 0
        && s_put_text (record, "path", path) == 0
        && s_put_text (record, "answer", answer) == 0;
    for (size_t index = 0; ok && index < count; index++) {
        //  the key made UTF-8 the same way as the value
        json_t *key = json_string_lossy (fields [index].key, strlen (fields [index].key));
        ok = key && json_object_setn_new (form, json_string_value (key), json_string_length (key),
                                          json_string_lossy (fields [index].value,
                                                             strlen (fields [index].value))) == 0;
        json_decref (key);
    }
    ok = ok && json_object_set (record, "fields", form) == 0;
    char *text = ok ? json_text (record) : NULL;
    json_decref (form);
    json_decref (record);
    if (!text) {
        fprintf (stderr, "fake_pushover: cannot write a log line (out of memory)\n");
        return;
    }
    size_t size = strlen (text);
    char *line = realloc (text, size + 2);
    if (!line) {
        free (text);
        return;
    }
    line [size] = '\n';
    line [size + 1] = 0;
    text = line;
    int fd = open (s_log_path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd >= 0) {
        ssize_t written = write (fd, text, size + 1);
        (void) written;
        close (fd);
    }
    free (text);
}

//  Takes the first line of the script (removing it). "200" when none.
static void
s_script_next (char *answer, size_t size)
{
    snprintf (answer, size, "200");
    FILE *file = fopen (s_script_path, "r");
    if (!file)
        return;
    char first [512] = "";
    char rest [16384];
    size_t rest_size = 0;
    bool have = false;
    while (!have && fgets (first, sizeof first, file)) {
        first [strcspn (first, "\r\n")] = 0;
        have = first [0] != 0;          //  blank lines are skipped
    }
    if (have)
        rest_size = fread (rest, 1, sizeof rest, file);
    fclose (file);
    if (!have)
        return;
    snprintf (answer, size, "%s", first);
    char temporary [4096];
    snprintf (temporary, sizeof temporary, "%s.tmp", s_script_path);
    FILE *out = fopen (temporary, "w");
    if (out) {
        fwrite (rest, 1, rest_size, out);
        fclose (out);
        rename (temporary, s_script_path);
    }
}

//  --- answering ----------------------------------------------------------------------

static void
s_send (int fd, int status, const char *reason, const char *extra_headers, const char *body)
{
    char head [1024];
    int length = snprintf (head, sizeof head,
                           "HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\n"
                           "Content-Length: %zu\r\nConnection: close\r\n%s\r\n",
                           status, reason, strlen (body), extra_headers ? extra_headers : "");
    if (send (fd, head, (size_t) length, MSG_NOSIGNAL) < 0
    ||  send (fd, body, strlen (body), MSG_NOSIGNAL) < 0)
        fprintf (stderr, "fake_pushover: send: %s\n", strerror (errno));
}

//  Sends body (a JSON object, taken) as the answer; 500 if it cannot be written.
static void
s_send_json (int fd, int status, const char *reason, const char *extra_headers, json_t *body)
{
    char *text = json_text (body);
    json_decref (body);
    if (!text) {
        fprintf (stderr, "fake_pushover: cannot write a JSON body (out of memory)\n");
        s_send (fd, 500, "Server Error", NULL, "{}");
        return;
    }
    s_send (fd, status, reason, extra_headers, text);
    free (text);
}

//  Pushover's shape of a refusal: {"errors":[TEXT],"status":0,"request":"req-N"}.
static json_t *
s_errors_body (const char *text)
{
    char request [32];
    snprintf (request, sizeof request, "req-%d", s_request_count);
    json_t *errors = json_array ();
    json_t *body = json_object ();
    bool ok = errors && body
        && json_array_append_new (errors, json_string_lossy (text, strlen (text))) == 0
        && json_object_set (body, "errors", errors) == 0
        && json_object_set_new (body, "status", json_integer (0)) == 0
        && json_object_set_new (body, "request", json_string (request)) == 0;
    json_decref (errors);
    if (!ok) {
        json_decref (body);
        return NULL;
    }
    return body;
}

static void
s_send_error (int fd, int status, const char *reason, const char *text)
{
    s_send_json (fd, status, reason, NULL, s_errors_body (text));
}

//  Returns true when the connection is to be kept open (hung).
static bool
s_answer_messages (int fd, const char *path, field_t *fields, size_t count)
{
    char answer [512];
    s_script_next (answer, sizeof answer);
    int code = atoi (answer);
    const char *priority = s_field (fields, count, "priority");
    bool emergency = priority && strcmp (priority, "2") == 0;
    //  A 200 still checks what Pushover checks.
    if (code == 200) {
        const char *missing = !s_field (fields, count, "token") ? "application token"
                            : !s_field (fields, count, "user") ? "user identifier"
                            : !s_field (fields, count, "message") ? "message"
                            : emergency && !s_field (fields, count, "retry") ? "retry"
                            : emergency && !s_field (fields, count, "expire") ? "expire"
                            : NULL;
        if (missing) {
            snprintf (answer, sizeof answer, "400 %s must be supplied", missing);
            code = 400;
        }
    }
    s_record ("POST", path, answer, fields, count);
    if (strcmp (answer, "hang") == 0)
        return true;
    if (code == 200) {
        char headers [256], request [32], receipt [32];
        snprintf (headers, sizeof headers,
                  "X-Limit-App-Limit: 10000\r\nX-Limit-App-Remaining: %d\r\n"
                  "X-Limit-App-Reset: %lld\r\n", 10000 - s_request_count,
                  (long long) (s_now_ms () / 1000 + 30 * 86400));
        snprintf (request, sizeof request, "req-%d", s_request_count);
        json_t *body = json_pack ("{s:i, s:s}", "status", 1, "request", request);
        if (emergency) {
            snprintf (receipt, sizeof receipt, "r%d", ++s_receipt_count);
            if (body && json_object_set_new (body, "receipt", json_string (receipt)) != 0) {
                json_decref (body);
                body = NULL;
            }
        }
        s_send_json (fd, 200, "OK", headers, body);
    }
    else
    if (code == 429) {
        const char *reset = strstr (answer, "reset=");
        char headers [256];
        snprintf (headers, sizeof headers,
                  "X-Limit-App-Limit: 10000\r\nX-Limit-App-Remaining: 0\r\n"
                  "X-Limit-App-Reset: %lld\r\n",
                  reset ? atoll (reset + 6) : (long long) (s_now_ms () / 1000 + 60));
        s_send_json (fd, 429, "Too Many Requests", headers,
                     s_errors_body ("application is over its message limit"));
    }
    else
    if (code >= 500)
        s_send (fd, code, "Server Error", NULL, "<html><body>server error</body></html>");
    else
    if (code >= 400) {
        const char *text = strchr (answer, ' ');
        s_send_error (fd, code, "Bad Request", text ? text + 1 : "bad request");
    }
    else
        s_send_error (fd, 500, "Server Error", "the script line is not understood");
    return false;
}

static void
s_answer_receipt (int fd, const char *path, field_t *fields, size_t count)
{
    bool acknowledged = access (s_flag_path, F_OK) == 0;
    s_record ("GET", path, acknowledged ? "acknowledged" : "pending", fields, count);
    if (!s_field (fields, count, "token")) {
        s_send_error (fd, 400, "Bad Request", "application token is invalid");
        return;
    }
    long long now = (long long) (s_now_ms () / 1000);
    char request [32];
    snprintf (request, sizeof request, "req-%d", s_request_count);
    json_t *body = json_pack ("{s:i, s:i, s:I, s:s, s:s, s:I, s:i, s:I, s:i, s:i, s:s}",
                              "status", 1, "acknowledged", acknowledged ? 1 : 0,
                              "acknowledged_at", (json_int_t) (acknowledged ? now : 0),
                              "acknowledged_by", acknowledged ? "alice" : "",
                              "acknowledged_by_device", acknowledged ? "phone" : "",
                              "last_delivered_at", (json_int_t) now, "expired", 0,
                              "expires_at", (json_int_t) (now + 3600),
                              "called_back", 0, "called_back_at", 0, "request", request);
    s_send_json (fd, 200, "OK", NULL, body);
}

//  Handles one complete request. Returns true to keep the connection (hung).
static bool
s_handle (int fd, char *request, size_t header_size, size_t body_size)
{
    s_request_count++;
    char *body = request + header_size;
    body [body_size] = 0;
    request [header_size - 4] = 0;              //  ends the head at "\r\n\r\n"
    char method [16] = "", target [2048] = "";
    if (sscanf (request, "%15s %2047s", method, target) != 2) {
        s_record ("?", "?", "400", NULL, 0);
        s_send_error (fd, 400, "Bad Request", "malformed request line");
        return false;
    }
    char *query = strchr (target, '?');
    if (query)
        *query++ = 0;
    field_t fields [FAKE_FIELDS_MAX];
    size_t count = 0;
    if (strcmp (method, "POST") == 0)
        count = s_parse_form (body, fields, FAKE_FIELDS_MAX);
    else
    if (query)
        count = s_parse_form (query, fields, FAKE_FIELDS_MAX);
    if (strcmp (method, "POST") == 0 && strcmp (target, "/1/messages.json") == 0)
        return s_answer_messages (fd, target, fields, count);
    size_t length = strlen (target);
    if (strcmp (method, "POST") == 0 && strncmp (target, "/1/receipts/cancel_by_tag/", 26) == 0
        && length > 31 && strcmp (target + length - 5, ".json") == 0) {
        s_record ("POST", target, "200", fields, count);
        char request_id [32];
        snprintf (request_id, sizeof request_id, "req-%d", s_request_count);
        s_send_json (fd, 200, "OK", NULL,
                     json_pack ("{s:i, s:s}", "status", 1, "request", request_id));
        return false;
    }
    if (strcmp (method, "GET") == 0 && strncmp (target, "/1/receipts/", 12) == 0
        && length > 17 && strcmp (target + length - 5, ".json") == 0) {
        s_answer_receipt (fd, target, fields, count);
        return false;
    }
    s_record (method, target, "404", fields, count);
    s_send_error (fd, 404, "Not Found", "not found");
    return false;
}

//  Header end (offset past "\r\n\r\n") and Content-Length, once the head is in.
static bool
s_complete (connection_t *connection, size_t *header_size, size_t *body_size)
{
    connection->buffer [connection->used] = 0;
    char *end = strstr (connection->buffer, "\r\n\r\n");
    if (!end)
        return false;
    *header_size = (size_t) (end - connection->buffer) + 4;
    *body_size = 0;
    for (char *line = strstr (connection->buffer, "\r\n"); line && line < end;
         line = strstr (line + 2, "\r\n"))
        if (strncasecmp (line + 2, "Content-Length:", 15) == 0)
            *body_size = (size_t) strtoul (line + 17, NULL, 10);
    return connection->used >= *header_size + *body_size;
}

static void
s_close (connection_t *connection)
{
    close (connection->fd);
    connection->fd = -1;
    connection->used = 0;
    connection->hung = false;
}

int
main (int argc, char *argv [])
{
    const char *port_file = NULL;
    int port = 0;
    int option;
    while ((option = getopt (argc, argv, "l:s:f:p:P:")) != -1) {
        switch (option) {
            case 'l': s_log_path = optarg; break;
            case 's': s_script_path = optarg; break;
            case 'f': s_flag_path = optarg; break;
            case 'p': port_file = optarg; break;
            case 'P': port = atoi (optarg); break;
            default:
                fprintf (stderr, "usage: fake_pushover -l LOG -s SCRIPT -f FLAG [-p PORTFILE] [-P PORT]\n");
                return 2;
        }
    }
    if (!s_log_path || !s_script_path || !s_flag_path) {
        fprintf (stderr, "fake_pushover: -l, -s and -f are required\n");
        return 2;
    }
    struct sigaction action = { .sa_handler = s_on_signal };
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGINT, &action, NULL);
    signal (SIGPIPE, SIG_IGN);

    int listener = socket (AF_INET, SOCK_STREAM, 0);
    int yes = 1;
    setsockopt (listener, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t address_size = sizeof address;
    if (listener < 0
    ||  bind (listener, (struct sockaddr *) &address, sizeof address) != 0
    ||  listen (listener, 16) != 0
    ||  getsockname (listener, (struct sockaddr *) &address, &address_size) != 0) {
        fprintf (stderr, "fake_pushover: cannot listen on 127.0.0.1:%d: %s\n", port, strerror (errno));
        return 1;
    }
    port = ntohs (address.sin_port);
    if (port_file) {
        char temporary [4096];
        snprintf (temporary, sizeof temporary, "%s.tmp", port_file);
        FILE *file = fopen (temporary, "w");
        if (!file || fprintf (file, "%d\n", port) < 0 || fclose (file) != 0
        ||  rename (temporary, port_file) != 0) {
            fprintf (stderr, "fake_pushover: cannot write %s\n", port_file);
            return 1;
        }
    }
    fprintf (stderr, "fake_pushover: listening on 127.0.0.1:%d\n", port);

    connection_t connections [FAKE_CONNECTIONS];
    for (int index = 0; index < FAKE_CONNECTIONS; index++) {
        connections [index].fd = -1;
        connections [index].buffer = malloc (FAKE_REQUEST_MAX + 1);
        connections [index].used = 0;
        connections [index].hung = false;
        if (!connections [index].buffer)
            return 1;
    }
    while (!s_stopping) {
        struct pollfd items [FAKE_CONNECTIONS + 1];
        int slots [FAKE_CONNECTIONS + 1];
        nfds_t count = 0;
        items [count] = (struct pollfd) { .fd = listener, .events = POLLIN };
        slots [count++] = -1;
        for (int index = 0; index < FAKE_CONNECTIONS; index++)
            if (connections [index].fd >= 0) {
                items [count] = (struct pollfd) { .fd = connections [index].fd, .events = POLLIN };
                slots [count++] = index;
            }
        if (poll (items, count, 200) < 0 && errno != EINTR) {
            fprintf (stderr, "fake_pushover: poll: %s\n", strerror (errno));
            return 1;
        }
        int64_t now = s_now_ms ();
        for (nfds_t item = 0; item < count; item++) {
            if (slots [item] < 0) {
                if (!(items [item].revents & POLLIN))
                    continue;
                int fd = accept (listener, NULL, NULL);
                if (fd < 0)
                    continue;
                int free_slot = -1;
                for (int index = 0; index < FAKE_CONNECTIONS && free_slot < 0; index++)
                    if (connections [index].fd < 0)
                        free_slot = index;
                if (free_slot < 0) {
                    close (fd);
                    continue;
                }
                connections [free_slot].fd = fd;
                connections [free_slot].used = 0;
                connections [free_slot].hung = false;
                connections [free_slot].last_activity = now;
                continue;
            }
            connection_t *connection = &connections [slots [item]];
            if (!(items [item].revents & (POLLIN | POLLHUP | POLLERR))) {
                int64_t limit = connection->hung ? FAKE_HUNG_MS : FAKE_IDLE_MS;
                if (now - connection->last_activity > limit)
                    s_close (connection);
                continue;
            }
            if (connection->hung) {
                char scratch [4096];
                ssize_t got = read (connection->fd, scratch, sizeof scratch);
                if (got <= 0)
                    s_close (connection);   //  the client gave up
                continue;
            }
            ssize_t got = read (connection->fd, connection->buffer + connection->used,
                                FAKE_REQUEST_MAX - connection->used);
            if (got <= 0) {
                s_close (connection);
                continue;
            }
            connection->used += (size_t) got;
            connection->last_activity = now;
            size_t header_size, body_size;
            if (s_complete (connection, &header_size, &body_size)) {
                if (header_size + body_size > FAKE_REQUEST_MAX) {
                    s_send_error (connection->fd, 413, "Payload Too Large", "request too large");
                    s_close (connection);
                    continue;
                }
                if (s_handle (connection->fd, connection->buffer, header_size, body_size))
                    connection->hung = true;
                else
                    s_close (connection);
            }
            else
            if (connection->used >= FAKE_REQUEST_MAX) {
                s_send_error (connection->fd, 413, "Payload Too Large", "request too large");
                s_close (connection);
            }
        }
    }
    for (int index = 0; index < FAKE_CONNECTIONS; index++) {
        if (connections [index].fd >= 0)
            close (connections [index].fd);
        free (connections [index].buffer);
    }
    close (listener);
    return 0;
}
