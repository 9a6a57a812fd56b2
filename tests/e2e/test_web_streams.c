/*  test_web_streams.c — lilac-web with as many SSE streams as it allows.

    A broker and a lilac-web with the default max_connections, started
    with the soft descriptor limit a systemd service gets (1024), as a
    packaged lilac-web would be. The test opens STREAMS_MAX streams on GET
    /api/stream itself (plain sockets: 2000 curl processes would be the
    test's whole cost), each answered 200 text/event-stream. Cases:
    - every stream opens within a deadline, and lilac-web raised its own
      descriptor limit to fit max_connections;
    - while they are open, the rest still gets in: /healthz 200, /metrics
      counts the streams, POST /api/events reaches the broker, and one
      stream more is refused with a 503 that says why, not left waiting.
    Before max_connections, lilac-web took 1000 connections at once and
    kept its soft limit: the 1001st client, a health check or Prometheus
    alike, waited in the kernel's backlog while dashboards were open.
*/
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include "../check.h"
#include "../harness/harness.h"
#include "../harness/web_process.h"
#include "timespec.h"

#define STREAMS_MAX        2000     //  web/stream.h STREAM_CLIENTS_MAX
#define SERVICE_NOFILE     1024     //  systemd's default soft RLIMIT_NOFILE
#define OPEN_DEADLINE_MS   20000    //  every stream has its headers within this

static testbed_t *s_bed;
static web_process_t *s_web;
static int s_streams [STREAMS_MAX + 1];

//  A connected socket to lilac-web with `GET /api/stream` sent; -1 on failure.
static int
s_stream_connect (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    const char request [] = "GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    if (fd < 0 || connect (fd, (struct sockaddr *) &address, sizeof address)
    ||  send (fd, request, sizeof request - 1, MSG_NOSIGNAL) != (ssize_t) sizeof request - 1) {
        harness_note ("stream socket: %s", strerror (errno));
        if (fd >= 0)
            close (fd);
        return -1;
    }
    return fd;
}

//  Reads fd's response headers into head (until the blank line), waiting
//  until end (clock_now_ms). 0, or -1 at the deadline or a close.
static int
s_read_head (int fd, char *head, size_t size, int64_t end)
{
    size_t length = 0;
    head [0] = 0;
    for (int pass = 0; pass < 1000 && length + 1 < size && !strstr (head, "\r\n\r\n"); pass++) {
        struct pollfd item = { .fd = fd, .events = POLLIN };
        int64_t left = end - clock_now_ms ();
        if (left <= 0 || poll (&item, 1, (int) left) <= 0)
            return -1;
        ssize_t got = recv (fd, head + length, size - 1 - length, 0);
        if (got <= 0)
            return -1;
        length += (size_t) got;
        head [length] = 0;
    }
    return strstr (head, "\r\n\r\n") ? 0 : -1;
}

static int
s_port (void)
{
    return atoi (strrchr (web_process_base (s_web), ':') + 1);
}

//  Opens count streams into s_streams; how many answered 200 event-stream.
static int
s_open_streams (int count)
{
    for (int index = 0; index < count; index++)
        s_streams [index] = s_stream_connect (s_port ());
    int64_t end = clock_now_ms () + OPEN_DEADLINE_MS;
    int open = 0;
    for (int index = 0; index < count; index++) {
        char head [2048];
        if (s_streams [index] >= 0 && s_read_head (s_streams [index], head, sizeof head, end) == 0
        &&  strncmp (head, "HTTP/1.1 200", 12) == 0 && strcasestr (head, "text/event-stream"))
            open++;
        else
        if (index == open)          //  the first one that did not
            harness_note ("stream %d: %.80s", index, s_streams [index] < 0 ? "no socket" : head);
    }
    return open;
}

static void
s_close_streams (void)
{
    for (int index = 0; index <= STREAMS_MAX; index++)
        if (s_streams [index] >= 0)
            close (s_streams [index]);
}

static void
s_curl (const char *method, const char *path, const char *body, http_result_t *result)
{
    char url [256];
    snprintf (url, sizeof url, "%s%s", web_process_base (s_web), path);
    http_options_t options = { .body = body };
    http_call (sandbox_dir (s_bed->sandbox), method, url, &options, result);
}

//  lilac-web's soft "Max open files", or -1.
static long
s_web_nofile (void)
{
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/limits", (int) web_process_pid (s_web));
    char *text = file_read_all (path);
    const char *line = strstr (text, "Max open files");
    long soft = line ? strtol (line + strlen ("Max open files"), NULL, 10) : -1;
    free (text);
    return soft;
}

//  Starts lilac-web with the soft descriptor limit at SERVICE_NOFILE; ours
//  is raised for the streams afterwards. 0 or -1.
static int
s_start_web (void)
{
    struct rlimit ours;
    if (getrlimit (RLIMIT_NOFILE, &ours) || ours.rlim_max < STREAMS_MAX + 256) {
        harness_note ("RLIMIT_NOFILE: the hard limit is below %d", STREAMS_MAX + 256);
        return -1;
    }
    struct rlimit service = { .rlim_cur = SERVICE_NOFILE, .rlim_max = ours.rlim_max };
    if (ours.rlim_cur < STREAMS_MAX + 256)
        ours.rlim_cur = STREAMS_MAX + 256;
    s_web = web_process_new (s_bed->sandbox, s_bed->broker, NULL);
    int rc = s_web && setrlimit (RLIMIT_NOFILE, &service) == 0 ? web_process_start (s_web) : -1;
    if (setrlimit (RLIMIT_NOFILE, &ours)) {
        harness_note ("setrlimit: %s", strerror (errno));
        rc = -1;
    }
    return rc;
}

static void
s_while_full (void)
{
    TEST ("with every stream open: /healthz 200, /metrics counts them, ingest gets in, "
          "one stream more is a 503");
    http_result_t result;
    s_curl ("GET", "/healthz", NULL, &result);
    CHECK (result.code == 200, "/healthz: curl %d, HTTP %ld (%ld ms)", result.status,
           result.code, (long) result.elapsed_ms);
    http_result_free (&result);
    s_curl ("GET", "/metrics", NULL, &result);
    char wanted [64];
    snprintf (wanted, sizeof wanted, "\nlilac_web_streams %d\n", STREAMS_MAX);
    CHECK (result.code == 200 && strstr (result.body, wanted), "/metrics: HTTP %ld, no \"%s\"",
           result.code, wanted + 1);
    http_result_free (&result);
    s_curl ("POST", "/api/events", "{\"source\":\"full-host\",\"alerts\":[{\"id\":\"while-full\","
            "\"raise\":\"now\"}]}", &result);
    CHECK (result.code == 200, "ingest: curl %d, HTTP %ld: %s", result.status, result.code,
           result.body);
    http_result_free (&result);
    alert_t alert = { 0 };
    CHECK (control_get_alert (s_bed->broker, "full-host", "while-full", &alert) == 0,
           "full-host/while-full is not at the broker");
    alert_clear_fields (&alert);
    s_curl ("GET", "/api/stream", NULL, &result);
    CHECK (result.code == 503 && strstr (result.body, "streams are open already"),
           "one stream more: curl %d, HTTP %ld: %s", result.status, result.code, result.body);
    http_result_free (&result);
}

int
main (void)
{
    for (int index = 0; index <= STREAMS_MAX; index++)
        s_streams [index] = -1;
    s_bed = testbed_new ("web-streams", NULL);
    TEST ("lilac-web starts with the soft descriptor limit of a service (1024)");
    if (CHECK (s_bed && s_start_web () == 0, "no testbed or no lilac-web")) {
        TEST ("2000 streams open at once; lilac-web raised its descriptor limit to fit");
        int open = s_open_streams (STREAMS_MAX);
        CHECK (open == STREAMS_MAX, "%d of %d streams open within %d ms", open, STREAMS_MAX,
               OPEN_DEADLINE_MS);
        long soft = s_web_nofile ();
        CHECK (soft >= 4096 + 64, "lilac-web's soft limit is %ld", soft);
        if (open == STREAMS_MAX)
            s_while_full ();
    }
    s_close_streams ();
    bool failed = check_failed > 0 || check_case_failed;
    web_process_destroy (&s_web, failed);
    testbed_destroy (&s_bed, failed);
    return check_done ();
}
