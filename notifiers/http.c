/*  http.c — the one libcurl module of the notifiers. See http.h.

    libcurl's multi "socket" interface: curl tells us which sockets it
    wants watched (s_on_socket → loop_watch) and when its next timer is
    due (s_on_timer); we tell it which socket is ready
    (curl_multi_socket_action) and, every turn, whether its timer ran out.
    Finished transfers are collected after each such call (s_collect),
    outside curl's own callbacks, so a done-callback may start or cancel
    other calls freely.

    Each call owns its easy handle, its header and recipient lists, and a
    copy of its body (curl reads the body while the transfer runs, after
    http_start returned). Calls are kept in a list, so http_destroy can
    cancel what is still in flight.

    SMTP runs in a child. libcurl's SMTP (7.88) waits for the server's
    answer to the end of DATA, and for its answer to QUIT, in a blocking
    poll inside the multi handle's call: one hung server would hold the
    whole notifier for `timeout`, and its exit for minutes. So an SMTP
    submission is forked (s_smtp_child): the child runs curl_easy_perform
    on the call's handle, writes what came back to a pipe ("CODE STATUS\n",
    curl's error line, the server's reply lines), and _exits without any
    cleanup (no QUIT). The parent watches the pipe in the loop, reaps the
    child at its end of file, and kills it at timeout + S_CHILD_GRACE_MS.
    Each submission has a connection of its own: none is reused after a
    failure. The child only runs libcurl and writes: it touches none of
    the parent's ZeroMQ sockets, and dies with the parent (PDEATHSIG).
*/
#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <string.h>
#include <strings.h>
#include "error_text.h"
#include "log.h"
#include "mem.h"
#include "http.h"

#define HTTP_DEFAULT_TIMEOUT_MS  30000
#define S_CHILD_GRACE_MS         5000      //  an SMTP child past its timeout is killed after this

struct _http_call_t {
    http_t *owner;
    CURL *easy;
    struct curl_slist *headers;        //  request headers
    struct curl_slist *rcpt;           //  SMTP recipients
    char *body;                        //  the request body (a copy)
    size_t body_size;
    size_t body_sent;                  //  SMTP: bytes handed to curl
    char *response_body;               //  HTTP_BODY_MAX + 1
    size_t response_size;
    char *response_headers;            //  HTTP_HEADERS_MAX + 1
    size_t headers_size;
    bool truncated;
    char error [CURL_ERROR_SIZE];
    int64_t started;                   //  mono ms
    bool in_multi;                     //  easy was added to the multi handle
    pid_t child;                       //  SMTP: the submitting child, 0 none
    int child_fd;                      //  its pipe (what it says), -1 none
    char *child_output;                //  read so far, HTTP_HEADERS_MAX + 512
    size_t child_size;
    int64_t child_deadline;            //  mono ms: killed then
    http_done_fn *done;
    void *arg;
    http_call_t *prev, *next;          //  the owner's calls
};

struct _http_t {
    CURLM *multi;
    loop_t *loop;
    int64_t timer_at;                  //  mono ms of curl's timer, -1 none
    http_call_t *calls;                //  in flight
    size_t count;
};

static int s_curl_users;               //  http_t instances sharing curl_global_init

//  --- curl's callbacks ----------------------------------------------------------------------

static void s_collect (http_t *self);

static void
s_on_fd (int fd, short revents, void *arg)
{
    http_t *self = arg;
    int mask = (revents & ZMQ_POLLIN ? CURL_CSELECT_IN : 0)
             | (revents & ZMQ_POLLOUT ? CURL_CSELECT_OUT : 0)
             | (revents & ZMQ_POLLERR ? CURL_CSELECT_ERR : 0);
    int running;
    CURLMcode code = curl_multi_socket_action (self->multi, fd, mask, &running);
    if (code != CURLM_OK)
        log_error ("curl: %s", curl_multi_strerror (code));
    s_collect (self);
}

static int
s_on_socket (CURL *easy, curl_socket_t fd, int what, void *arg, void *socket_arg)
{
    (void) easy;
    (void) socket_arg;
    http_t *self = arg;
    if (what == CURL_POLL_REMOVE) {
        loop_unwatch (self->loop, fd);
        return 0;
    }
    short events = (short) ((what & CURL_POLL_IN ? ZMQ_POLLIN : 0)
                          | (what & CURL_POLL_OUT ? ZMQ_POLLOUT : 0));
    if (loop_watch (self->loop, fd, events, s_on_fd, self)) {
        log_error ("curl: more than %d sockets to watch; a request will time out",
                   LOOP_MAX_WATCHES);
        return -1;
    }
    return 0;
}

static int
s_on_timer (CURLM *multi, long timeout_ms, void *arg)
{
    (void) multi;
    http_t *self = arg;
    self->timer_at = timeout_ms < 0 ? -1 : zclock_mono () + timeout_ms;
    return 0;
}

//  Appends what fits of bytes to buffer (max bytes, NUL kept after them);
//  the rest is read and dropped, not an error: truncated says so.
static size_t
s_keep (http_call_t *call, char *buffer, size_t *used, size_t max, const char *data,
        size_t bytes)
{
    size_t room = max - *used;
    size_t keep = bytes < room ? bytes : room;
    memcpy (buffer + *used, data, keep);
    *used += keep;
    buffer [*used] = 0;
    if (keep < bytes)
        call->truncated = true;
    return bytes;
}

static size_t
s_on_body (char *data, size_t size, size_t count, void *arg)
{
    http_call_t *call = arg;
    return s_keep (call, call->response_body, &call->response_size, HTTP_BODY_MAX, data,
                   size * count);
}

static size_t
s_on_header (char *data, size_t size, size_t count, void *arg)
{
    http_call_t *call = arg;
    return s_keep (call, call->response_headers, &call->headers_size, HTTP_HEADERS_MAX, data,
                   size * count);
}

//  SMTP: the message, as curl asks for it.
static size_t
s_on_read (char *buffer, size_t size, size_t count, void *arg)
{
    http_call_t *call = arg;
    size_t room = size * count;
    size_t left = call->body_size - call->body_sent;
    size_t give = left < room ? left : room;
    memcpy (buffer, call->body + call->body_sent, give);
    call->body_sent += give;
    return give;
}

//  --- calls ------------------------------------------------------------------------------

static void
s_call_free (http_t *self, http_call_t *call)
{
    if (call->prev)
        call->prev->next = call->next;
    else
        self->calls = call->next;
    if (call->next)
        call->next->prev = call->prev;
    self->count--;
    if (call->child > 0) {             //  cancelled while it runs
        kill (call->child, SIGKILL);
        int status;
        while (waitpid (call->child, &status, 0) < 0 && errno == EINTR)
            ;
    }
    if (call->child_fd >= 0) {
        loop_unwatch (self->loop, call->child_fd);
        close (call->child_fd);
    }
    mem_free (call->child_output);
    if (call->in_multi) {
        CURLMcode code = curl_multi_remove_handle (self->multi, call->easy);
        if (code != CURLM_OK)
            log_error ("curl: %s", curl_multi_strerror (code));
    }
    if (call->easy)
        curl_easy_cleanup (call->easy);
    curl_slist_free_all (call->headers);
    curl_slist_free_all (call->rcpt);
    if (call->body)
        explicit_bzero (call->body, call->body_size);      //  forms carry tokens
    mem_free (call->body);
    mem_free (call->response_body);
    mem_free (call->response_headers);
    mem_free (call);
}

static void
s_finish (http_t *self, http_call_t *call, CURLcode code)
{
    http_response_t response = {
        .code = code, .body = call->response_body, .body_size = call->response_size,
        .truncated = call->truncated, .error = call->error, .replies = call->response_headers,
        .elapsed_ms = zclock_mono () - call->started
    };
    if (code != CURLE_OK && !call->error [0])
        snprintf (call->error, sizeof call->error, "%s", curl_easy_strerror (code));
    curl_easy_getinfo (call->easy, CURLINFO_RESPONSE_CODE, &response.status);
    call->done (&response, call, call->arg);
    s_call_free (self, call);
}

static void
s_collect (http_t *self)
{
    CURLMsg *message;
    int left;
    while ((message = curl_multi_info_read (self->multi, &left)))
        if (message->msg == CURLMSG_DONE) {
            http_call_t *call = NULL;
            curl_easy_getinfo (message->easy_handle, CURLINFO_PRIVATE, (char **) &call);
            assert (call);
            s_finish (self, call, message->data.result);
        }
}

static int
s_append (struct curl_slist **list, const char *line)
{
    struct curl_slist *longer = curl_slist_append (*list, line);
    if (!longer)
        return -1;
    *list = longer;
    return 0;
}

//  The request's headers, as one list; -1 out of memory or too many.
static int
s_headers (http_call_t *call, const http_request_t *request)
{
    if (request->header_count > HTTP_MAX_HEADERS)
        return -1;
    char line [1024];
    if (request->content_type) {
        snprintf (line, sizeof line, "Content-Type: %s", request->content_type);
        if (s_append (&call->headers, line))
            return -1;
    }
    if (request->bearer) {
        char *bearer = zsys_sprintf ("Authorization: Bearer %s", request->bearer);
        int rc = bearer ? s_append (&call->headers, bearer) : -1;
        if (bearer)
            explicit_bzero (bearer, strlen (bearer));
        zstr_free (&bearer);
        if (rc)
            return -1;
    }
    for (size_t index = 0; index < request->header_count; index++)
        if (s_append (&call->headers, request->headers [index]))
            return -1;
    if (s_append (&call->headers, "Expect:"))      //  no 100-continue round trip
        return -1;
    return 0;
}

static bool
s_is_smtp (const char *url)
{
    return strncasecmp (url, "smtp://", 7) == 0 || strncasecmp (url, "smtps://", 8) == 0;
}

static bool
s_is_http (const char *url)
{
    return strncasecmp (url, "http://", 7) == 0 || strncasecmp (url, "https://", 8) == 0;
}

static int
s_set_smtp (http_call_t *call, const http_request_t *request, char *error, size_t error_size)
{
    if (!request->mail_from || request->rcpt_count == 0 || request->rcpt_count > HTTP_MAX_RCPT) {
        snprintf (error, error_size, "an SMTP request needs a sender and 1 to %d recipients",
                  HTTP_MAX_RCPT);
        return -1;
    }
    for (size_t index = 0; index < request->rcpt_count; index++)
        if (s_append (&call->rcpt, request->mail_rcpt [index]))
            return error_text (error, error_size, -1, "out of memory");
    CURL *easy = call->easy;
    curl_easy_setopt (easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt (easy, CURLOPT_MAIL_FROM, request->mail_from);
    curl_easy_setopt (easy, CURLOPT_MAIL_RCPT, call->rcpt);
    curl_easy_setopt (easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt (easy, CURLOPT_READFUNCTION, s_on_read);
    curl_easy_setopt (easy, CURLOPT_READDATA, call);
    curl_easy_setopt (easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t) call->body_size);
    if (request->require_tls)
        curl_easy_setopt (easy, CURLOPT_USE_SSL, (long) CURLUSESSL_ALL);
    return 0;
}

static void
s_set_http (http_call_t *call, const http_request_t *request)
{
    CURL *easy = call->easy;
    curl_easy_setopt (easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt (easy, CURLOPT_HTTPHEADER, call->headers);
    const char *method = request->method ? request->method : request->body ? "POST" : "GET";
    if (call->body || strcmp (method, "GET") != 0) {
        curl_easy_setopt (easy, CURLOPT_POSTFIELDS, call->body ? call->body : "");
        curl_easy_setopt (easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) call->body_size);
        if (strcmp (method, "POST") != 0)
            curl_easy_setopt (easy, CURLOPT_CUSTOMREQUEST, method);
    }
    else
        curl_easy_setopt (easy, CURLOPT_HTTPGET, 1L);
}

static void
s_set_common (http_call_t *call, const http_request_t *request)
{
    CURL *easy = call->easy;
    long timeout = (long) (request->timeout_ms > 0 ? request->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS);
    curl_easy_setopt (easy, CURLOPT_URL, request->url);
    curl_easy_setopt (easy, CURLOPT_PRIVATE, call);
    curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt (easy, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    curl_easy_setopt (easy, CURLOPT_FOLLOWLOCATION, 0L);
    //  A name lookup still running at a timeout or a cancel is left to end
    //  on its own (its thread exits when the lookup returns): without
    //  this, libcurl 7.88 waits for it, and the whole loop with it (curl
    //  issue 8515; KNOWN_BUGS "threaded resolver").
    curl_easy_setopt (easy, CURLOPT_QUICK_EXIT, 1L);
    curl_easy_setopt (easy, CURLOPT_ERRORBUFFER, call->error);
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt (easy, CURLOPT_WRITEDATA, call);
    curl_easy_setopt (easy, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt (easy, CURLOPT_HEADERDATA, call);
    if (request->user_agent)
        curl_easy_setopt (easy, CURLOPT_USERAGENT, request->user_agent);
    if (request->username) {
        curl_easy_setopt (easy, CURLOPT_USERNAME, request->username);
        curl_easy_setopt (easy, CURLOPT_PASSWORD, request->password ? request->password : "");
    }
    if (request->ca_file)
        curl_easy_setopt (easy, CURLOPT_CAINFO, request->ca_file);
}

//  --- SMTP in a child ----------------------------------------------------------------------

//  In the child: the submission, its outcome to fd, and _exit.
static void
s_smtp_submit (http_call_t *call, int fd)
{
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    CURLcode code = curl_easy_perform (call->easy);
    long status = 0;
    curl_easy_getinfo (call->easy, CURLINFO_RESPONSE_CODE, &status);
    if (code != CURLE_OK && !call->error [0])
        snprintf (call->error, sizeof call->error, "%s", curl_easy_strerror (code));
    char head [64 + CURL_ERROR_SIZE];
    int size = snprintf (head, sizeof head, "%d %ld\n%s\n", (int) code, status,
                         code == CURLE_OK ? "" : call->error);
    if (size > 0 && write (fd, head, (size_t) size) == size)
        if (write (fd, call->response_headers, call->headers_size) < 0)
            _exit (2);
    _exit (0);
}

//  The child said all it had (end of file): the call's outcome.
static void
s_smtp_done (http_t *self, http_call_t *call)
{
    int status;
    while (waitpid (call->child, &status, 0) < 0 && errno == EINTR)
        ;
    call->child = 0;
    int code = CURLE_RECV_ERROR;
    long smtp_status = 0;
    char *text = call->child_output;
    text [call->child_size] = 0;
    char *error = strchr (text, '\n');
    char *replies = error ? strchr (error + 1, '\n') : NULL;
    if (!error || !replies || sscanf (text, "%d %ld", &code, &smtp_status) != 2) {
        code = CURLE_RECV_ERROR;
        if (!call->error [0])
            snprintf (call->error, sizeof call->error, "the SMTP submission ended without an"
                      " outcome (wait status 0x%x)", (unsigned) status);
        replies = NULL;
    }
    else {
        *replies++ = 0;
        snprintf (call->error, sizeof call->error, "%s", error + 1);
        size_t size = strlen (replies);
        memcpy (call->response_headers, replies, size + 1);
        call->headers_size = size;
    }
    http_response_t response = {
        .code = (CURLcode) code, .status = smtp_status, .body = call->response_body,
        .error = call->error, .replies = call->response_headers,
        .elapsed_ms = zclock_mono () - call->started
    };
    call->done (&response, call, call->arg);
    s_call_free (self, call);
}

static void
s_on_child_output (int fd, short revents, void *arg)
{
    (void) revents;
    http_call_t *call = arg;
    size_t room = HTTP_HEADERS_MAX + 512 - call->child_size;
    ssize_t got = read (fd, call->child_output + call->child_size, room);
    if (got > 0) {
        call->child_size += (size_t) got;
        if ((size_t) got < room)
            return;
    }
    else
    if (got < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    loop_unwatch (call->owner->loop, fd);          //  end of file, an error, or full
    close (fd);
    call->child_fd = -1;
    s_smtp_done (call->owner, call);
}

//  Forks the submission. 0, or -1 with why in error.
static int
s_smtp_child (http_t *self, http_call_t *call, int64_t timeout_ms, char *error,
              size_t error_size)
{
    int fds [2];
    if (pipe2 (fds, O_CLOEXEC))
        return error_text (error, error_size, -1, "cannot make a pipe: %s", strerror (errno));
    call->child_output = mem_alloc (HTTP_HEADERS_MAX + 512 + 1);
    pid_t pid = fork ();
    if (pid < 0) {
        close (fds [0]);
        close (fds [1]);
        return error_text (error, error_size, -1, "cannot fork: %s", strerror (errno));
    }
    if (pid == 0) {
        close (fds [0]);
        s_smtp_submit (call, fds [1]);
    }
    close (fds [1]);
    call->child = pid;
    call->child_fd = fds [0];
    call->child_deadline = zclock_mono () + timeout_ms + S_CHILD_GRACE_MS;
    if (fcntl (fds [0], F_SETFL, O_NONBLOCK) || loop_watch (self->loop, fds [0], ZMQ_POLLIN,
                                                            s_on_child_output, call))
        return error_text (error, error_size, -1, "cannot watch the SMTP child");
    return 0;
}

//  Children past their deadline are killed; their calls fail.
static void
s_smtp_deadlines (http_t *self, int64_t now)
{
    for (http_call_t *call = self->calls, *next; call; call = next) {
        next = call->next;
        if (call->child > 0 && now >= call->child_deadline) {
            snprintf (call->error, sizeof call->error, "the SMTP submission did not end"
                      " within its timeout (killed)");
            kill (call->child, SIGKILL);
            loop_unwatch (self->loop, call->child_fd);
            close (call->child_fd);
            call->child_fd = -1;
            call->child_size = 0;
            s_smtp_done (self, call);
        }
    }
}

//  --- the API ----------------------------------------------------------------------------

http_t *
http_new (loop_t *loop, char *error, size_t error_size)
{
    assert (loop);
    if (s_curl_users == 0 && curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf (error, error_size, "curl_global_init failed");
        return NULL;
    }
    s_curl_users++;
    http_t *self = mem_alloc (sizeof *self);
    self->loop = loop;
    self->timer_at = -1;
    return self;
}

//  The multi handle, made at the first request: it holds a socketpair
//  that is not close-on-exec, and a notifier that never calls out (exec)
//  must not hand it to its commands. 0 / -1.
static int
s_multi (http_t *self)
{
    if (self->multi)
        return 0;
    self->multi = curl_multi_init ();
    if (!self->multi)
        return -1;
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETFUNCTION, s_on_socket);
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETDATA, self);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERFUNCTION, s_on_timer);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERDATA, self);
    return 0;
}

void
http_destroy (http_t **self_p)
{
    assert (self_p);
    http_t *self = *self_p;
    if (!self)
        return;
    while (self->calls)
        s_call_free (self, self->calls);
    if (self->multi)
        curl_multi_cleanup (self->multi);
    mem_free (self);
    *self_p = NULL;
    if (--s_curl_users == 0)
        curl_global_cleanup ();
}

http_call_t *
http_start (http_t *self, const http_request_t *request, http_done_fn *done, void *arg,
            char *error, size_t error_size)
{
    assert (self && request && request->url && done);
    bool smtp = s_is_smtp (request->url);
    if (!smtp && !s_is_http (request->url)) {
        snprintf (error, error_size, "a URL must start with http://, https://, smtp:// or smtps://");
        return NULL;
    }
    if (!smtp && s_multi (self)) {
        snprintf (error, error_size, "curl_multi_init failed");
        return NULL;
    }
    http_call_t *call = mem_alloc (sizeof *call);
    call->child_fd = -1;
    call->owner = self;
    call->done = done;
    call->arg = arg;
    call->started = zclock_mono ();
    call->response_body = mem_alloc (HTTP_BODY_MAX + 1);
    call->response_headers = mem_alloc (HTTP_HEADERS_MAX + 1);
    if (request->body) {
        call->body = mem_alloc (request->body_size + 1);
        memcpy (call->body, request->body, request->body_size);
        call->body_size = request->body_size;
    }
    call->next = self->calls;
    if (self->calls)
        self->calls->prev = call;
    self->calls = call;
    self->count++;
    call->easy = curl_easy_init ();
    if (!call->easy) {
        s_call_free (self, call);
        snprintf (error, error_size, "curl_easy_init failed");
        return NULL;
    }
    s_set_common (call, request);
    if (smtp) {
        int64_t timeout = request->timeout_ms > 0 ? request->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
        if (s_set_smtp (call, request, error, error_size)
        ||  s_smtp_child (self, call, timeout, error, error_size)) {
            s_call_free (self, call);
            return NULL;
        }
        return call;
    }
    if (!smtp) {
        if (s_headers (call, request)) {
            s_call_free (self, call);
            snprintf (error, error_size, "out of memory, or more than %d headers", HTTP_MAX_HEADERS);
            return NULL;
        }
        s_set_http (call, request);
    }
    CURLMcode code = curl_multi_add_handle (self->multi, call->easy);
    call->in_multi = code == CURLM_OK;
    if (code != CURLM_OK) {
        curl_easy_cleanup (call->easy);
        call->easy = NULL;
        s_call_free (self, call);
        snprintf (error, error_size, "curl: %s", curl_multi_strerror (code));
        return NULL;
    }
    return call;
}

void
http_cancel (http_t *self, http_call_t *call)
{
    assert (self);
    if (call)
        s_call_free (self, call);
}

int
http_response_header (const http_call_t *call, const char *name, char *out, size_t out_size)
{
    assert (call && name && out && out_size);
    size_t length = strlen (name);
    const char *line = call->response_headers;
    while (line && *line) {
        const char *end = strchr (line, '\n');
        size_t size = end ? (size_t) (end - line) : strlen (line);
        if (size > length && strncasecmp (line, name, length) == 0 && line [length] == ':') {
            const char *value = line + length + 1;
            const char *stop = line + size;
            while (value < stop && (*value == ' ' || *value == '\t'))
                value++;
            while (stop > value && (stop [-1] == '\r' || stop [-1] == ' ' || stop [-1] == '\t'))
                stop--;
            snprintf (out, out_size, "%.*s", (int) (stop - value), value);
            return 0;
        }
        line = end ? end + 1 : NULL;
    }
    return -1;
}

void
http_work (http_t *self, int64_t mono_now)
{
    assert (self);
    s_smtp_deadlines (self, mono_now);
    if (!self->multi)
        return;
    if (self->timer_at >= 0 && mono_now >= self->timer_at) {
        self->timer_at = -1;
        int running;
        CURLMcode code = curl_multi_socket_action (self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        if (code != CURLM_OK)
            log_error ("curl: %s", curl_multi_strerror (code));
    }
    s_collect (self);
}

int64_t
http_next_wakeup (http_t *self, int64_t mono_now)
{
    assert (self);
    int64_t wait = self->timer_at < 0 ? -1
                 : self->timer_at > mono_now ? self->timer_at - mono_now : 0;
    for (http_call_t *call = self->calls; call; call = call->next)
        if (call->child > 0) {
            int64_t left = call->child_deadline > mono_now ? call->child_deadline - mono_now : 0;
            if (wait < 0 || left < wait)
                wait = left;
        }
    return wait;
}

size_t
http_in_flight (http_t *self)
{
    assert (self);
    return self->count;
}

char *
http_escape (const char *text)
{
    char *escaped = curl_easy_escape (NULL, text ? text : "", 0);
    if (!escaped)
        log_fatal ("out of memory escaping a URL part");
    char *copy = mem_strdup (escaped);
    curl_free (escaped);
    return copy;
}
