/*  harness.c — end-to-end test harness (see harness.h for the contract).

    Processes are spawned with posix_spawn and reaped with waitpid on their
    own pid only; every wait polls its condition every few milliseconds up to
    a deadline (HARNESS_POLL_MS), so nothing here can hang a test binary.
    Child output goes to files in the sandbox, not pipes, so a chatty child
    can never block on a full pipe. The harness is single-threaded and keeps
    no global state except counters for command output file names and the
    buffer reply_error() returns. The file and child-process helpers here
    (file_read_all, process_spawn, process_wait, process_stop, command_runv,
    log_print_tail, ...) are the ones the other harness modules
    (agent_process.c, notifier_process.c, pushover_fake.c) use too.
*/
#include "harness.h"

#include <assert.h>
#include <errno.h>
#include <sys/mount.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "timespec.h"

extern char **environ;

#define HARNESS_POLL_MS      10        //  how often waits look at their condition
#define HARNESS_PING_MS      500       //  one readiness ping
#define HARNESS_SEND_TIMEOUT 2000      //  ms a PUSH send may block
#define HARNESS_PATH_MAX     1024

//  --- small helpers -------------------------------------------------------------

void
harness_note (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    printf ("# ");
    vprintf (format, args);
    printf ("\n");
    va_end (args);
    fflush (stdout);
}

void
harness_pause_ms (int ms)
{
    if (ms <= 0)
        return;
    struct timespec delay = { ms / 1000, (long) (ms % 1000) * 1000000L };
    while (nanosleep (&delay, &delay) == -1 && errno == EINTR)
        ;
}

//  --- files ---------------------------------------------------------------------

char *
file_read_all (const char *path)
{
    size_t size = 0, capacity = 4096;
    char *text = malloc (capacity + 1);
    assert (text);
    FILE *file = fopen (path, "rb");
    if (file) {
        for (;;) {
            if (size == capacity) {
                capacity *= 2;
                text = realloc (text, capacity + 1);
                assert (text);
            }
            size_t got = fread (text + size, 1, capacity - size, file);
            if (got == 0)
                break;
            size += got;
        }
        fclose (file);
    }
    text [size] = 0;
    return text;
}

int
file_write_text (const char *path, const char *text)
{
    //  Write a sibling and rename, so a reader never sees half a file.
    char temp [1100];
    snprintf (temp, sizeof temp, "%s.new", path);
    FILE *file = fopen (temp, "w");
    if (!file) {
        harness_note ("cannot write %s: %s", temp, strerror (errno));
        return -1;
    }
    bool ok = fputs (text, file) >= 0;
    ok = fclose (file) == 0 && ok;
    if (!ok || rename (temp, path) != 0) {
        harness_note ("cannot write %s: %s", path, strerror (errno));
        return -1;
    }
    return 0;
}

bool
file_has_text (const char *path, const char *text)
{
    char *content = file_read_all (path);
    bool found = strstr (content, text) != NULL;
    free (content);
    return found;
}

int
file_count_text (const char *path, const char *text)
{
    char *content = file_read_all (path);
    int count = 0;
    size_t length = strlen (text);
    for (const char *at = length ? strstr (content, text) : NULL; at; at = strstr (at + length, text))
        count++;
    free (content);
    return count;
}

int
file_wait_count (const char *path, const char *text, int count, int timeout_ms)
{
    assert (path && text);
    int64_t deadline = clock_now_ms () + timeout_ms;
    for (int attempt = 0; attempt < 1000000; attempt++) {
        if (file_count_text (path, text) >= count)
            return 0;
        if (clock_now_ms () >= deadline)
            break;
        harness_pause_ms (HARNESS_POLL_MS);
    }
    return -1;
}

//  --- a full disk ------------------------------------------------------------------

int
disk_mount (const char *dir, const char *size)
{
    char options [64];
    snprintf (options, sizeof options, "size=%s", size);
    if (mkdir (dir, 0755) || mount ("tmpfs", dir, "tmpfs", 0, options)) {
        harness_note ("cannot mount a tmpfs on %s (needs root): %s", dir, strerror (errno));
        return -1;
    }
    return 0;
}

int
disk_fill (const char *path)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    static char block [64 * 1024];
    int rc = -1;
    for (int count = 0; count < 1000000; count++)
        if (write (fd, block, sizeof block) < 0) {
            rc = errno == ENOSPC ? 0 : -1;
            break;
        }
    for (int count = 0; rc == 0 && count < 64; count++)
        if (write (fd, block, 1024) < 0)
            break;                  //  the last partial block, a KiB at a time
    close (fd);
    return rc;
}

void
disk_unmount (const char *dir)
{
    if (umount2 (dir, MNT_DETACH))
        harness_note ("cannot unmount %s: %s", dir, strerror (errno));
}

//  --- child processes -------------------------------------------------------------

const char *
harness_bin_dir (void)
{
    const char *dir = getenv ("LILAC_BIN");
    return dir && *dir ? dir : "bin";
}

pid_t
process_spawn (char *const argv [], const char *out_path, const char *err_path)
{
    posix_spawn_file_actions_t actions;
    if (posix_spawn_file_actions_init (&actions) != 0)
        return -1;
    int flags = O_WRONLY | O_CREAT | O_APPEND;
    posix_spawn_file_actions_addopen (&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen (&actions, 1, out_path, flags, 0644);
    if (strcmp (out_path, err_path) == 0)
        posix_spawn_file_actions_adddup2 (&actions, 1, 2);
    else
        posix_spawn_file_actions_addopen (&actions, 2, err_path, flags, 0644);
    pid_t pid;
    int rc = posix_spawn (&pid, argv [0], &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy (&actions);
    if (rc != 0) {
        harness_note ("cannot spawn %s: %s", argv [0], strerror (rc));
        return -1;
    }
    return pid;
}

int
process_wait (pid_t pid, int timeout_ms)
{
    int64_t deadline = clock_now_ms () + timeout_ms;
    for (;;) {
        int status;
        pid_t done = waitpid (pid, &status, WNOHANG);
        if (done == pid) {
            if (WIFEXITED (status))
                return WEXITSTATUS (status);
            if (WIFSIGNALED (status))
                return 128 + WTERMSIG (status);
            return -1;
        }
        if (done == -1 && errno != EINTR)
            return -1;
        if (clock_now_ms () >= deadline)
            return -1;
        harness_pause_ms (HARNESS_POLL_MS);
    }
}

bool
process_running (pid_t *pid, const char *name)
{
    assert (pid && name);
    if (!*pid)
        return false;
    int status;
    pid_t done = waitpid (*pid, &status, WNOHANG);
    if (done == *pid) {
        if (WIFSIGNALED (status))
            harness_note ("%s died of signal %d", name, WTERMSIG (status));
        else
        if (WIFEXITED (status))
            harness_note ("%s exited with status %d", name, WEXITSTATUS (status));
        *pid = 0;
        return false;
    }
    return true;
}

int
process_stop (pid_t *pid, const char *name, int timeout_ms)
{
    assert (pid && name);
    if (!*pid)
        return -1;
    kill (*pid, SIGTERM);
    int status = process_wait (*pid, timeout_ms);
    if (status == -1) {
        harness_note ("%s did not exit within %d ms of SIGTERM; killing it", name, timeout_ms);
        process_kill (pid, timeout_ms);
        return -1;
    }
    *pid = 0;
    return status;
}

int
process_kill (pid_t *pid, int timeout_ms)
{
    assert (pid);
    if (!*pid)
        return -1;
    kill (*pid, SIGKILL);
    process_wait (*pid, timeout_ms);
    *pid = 0;
    return 0;
}

int64_t
process_status_kb (pid_t pid, const char *field)
{
    assert (field);
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    char *text = file_read_all (path);
    int64_t value = -1;
    size_t length = strlen (field);
    for (char *line = text; line && *line; ) {
        if (strncmp (line, field, length) == 0 && line [length] == ':') {
            long long kb;
            if (sscanf (line + length + 1, " %lld", &kb) == 1)
                value = kb;
            break;
        }
        line = strchr (line, '\n');
        if (line)
            line++;
    }
    free (text);
    return value;
}

void
log_print_tail (const char *name, const char *path, int max_lines)
{
    assert (name && path);
    char *text = file_read_all (path);
    //  Find the start of the last max_lines lines.
    size_t length = strlen (text);
    size_t start = length;
    int lines = 0;
    while (start > 0 && lines <= max_lines) {
        start--;
        if (text [start] == '\n' && start + 1 < length)
            lines++;
    }
    if (lines > max_lines)
        start++;
    harness_note ("--- %s log %s (last %d lines) ---", name, path, max_lines);
    char *line = text + start;
    while (*line) {
        char *end = strchr (line, '\n');
        if (end)
            *end = 0;
        harness_note ("  %s", line);
        if (!end)
            break;
        line = end + 1;
    }
    free (text);
}

//  --- sandbox -------------------------------------------------------------------

struct _sandbox_t {
    char *dir;                     //  absolute path of the temp dir
};

sandbox_t *
sandbox_new (const char *name)
{
    const char *base = getenv ("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    char path [HARNESS_PATH_MAX];
    snprintf (path, sizeof path, "%s/lilac-%s.XXXXXX", base, name);
    if (!mkdtemp (path)) {
        harness_note ("mkdtemp %s: %s", path, strerror (errno));
        return NULL;
    }
    sandbox_t *self = calloc (1, sizeof *self);
    assert (self);
    self->dir = strdup (path);
    assert (self->dir);
    return self;
}

const char *
sandbox_dir (sandbox_t *self)
{
    assert (self);
    return self->dir;
}

char *
sandbox_path (sandbox_t *self, const char *file)
{
    assert (self);
    char *path;
    if (asprintf (&path, "%s/%s", self->dir, file) < 0)
        return NULL;
    return path;
}

static int
s_remove_entry (const char *path, const struct stat *info, int flag, struct FTW *walk)
{
    (void) info; (void) flag; (void) walk;
    return remove (path);
}

void
sandbox_destroy (sandbox_t **self_p, bool failed)
{
    assert (self_p);
    sandbox_t *self = *self_p;
    if (!self)
        return;
    if (failed)
        harness_note ("test failed: its files are kept in %s", self->dir);
    else
    if (nftw (self->dir, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        harness_note ("cannot remove %s: %s", self->dir, strerror (errno));
    free (self->dir);
    free (self);
    *self_p = NULL;
}

//  Ports port_free handed out, the last PORTS_REMEMBERED of them (a ring):
//  a test that picks several before any is bound (two brokers, one of them
//  a standby bound to nothing) must not get one twice.
#define PORTS_REMEMBERED  1024
static int s_ports_given [PORTS_REMEMBERED];
static unsigned s_ports_given_count;

static bool
s_port_given (int port)
{
    unsigned held = s_ports_given_count < PORTS_REMEMBERED ? s_ports_given_count
                                                          : PORTS_REMEMBERED;
    for (unsigned index = 0; index < held; index++)
        if (s_ports_given [index] == port)
            return true;
    return false;
}

//  A port the kernel has free on 127.0.0.1 now (bind to 0, read it, close), or -1.
static int
s_port_unbound (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd == -1)
        return -1;
    struct sockaddr_in address;
    memset (&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    int port = -1;
    if (bind (fd, (struct sockaddr *) &address, sizeof address) == 0
    &&  getsockname (fd, (struct sockaddr *) &address, &length) == 0)
        port = ntohs (address.sin_port);
    close (fd);
    return port;
}

int
port_free (void)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        int port = s_port_unbound ();
        if (port <= 0)
            return -1;
        if (!s_port_given (port)) {
            s_ports_given [s_ports_given_count++ % PORTS_REMEMBERED] = port;
            return port;
        }
    }
    return -1;
}

//  --- broker ----------------------------------------------------------------------

struct _broker_process_t {
    char *config_path;             //  sandbox/broker.conf
    char *log_path;                //  sandbox/broker.log (appended across restarts)
    char *database;                //  sandbox/lilac.db
    char ingest [64];              //  tcp://127.0.0.1:PORT
    char publish [64];
    char control [64];
    pid_t pid;                     //  running process, or 0
    int64_t spawned_at;            //  ms, last spawn
    int64_t ready_at;              //  ms, first ok ping after the last spawn
};

broker_process_t *
broker_process_new (sandbox_t *sandbox, const broker_process_config_t *config)
{
    assert (sandbox);
    broker_process_t *self = calloc (1, sizeof *self);
    assert (self);
    self->config_path = sandbox_path (sandbox, "broker.conf");
    self->log_path = sandbox_path (sandbox, "broker.log");
    self->database = config && config->database ? strdup (config->database)
                                                : sandbox_path (sandbox, "lilac.db");
    assert (self->config_path && self->log_path && self->database);

    //  Three distinct ports.
    int ports [3] = { -1, -1, -1 };
    for (int attempt = 0; attempt < 20 && (ports [2] == -1); attempt++) {
        int port = port_free ();
        if (port <= 0)
            continue;
        int slot = ports [0] == -1? 0: ports [1] == -1? 1: 2;
        bool used = false;
        for (int index = 0; index < slot; index++)
            used = used || ports [index] == port;
        if (!used)
            ports [slot] = port;
    }
    if (ports [2] == -1) {
        harness_note ("no free loopback ports");
        broker_process_destroy (&self, false);
        return NULL;
    }
    snprintf (self->ingest, sizeof self->ingest, "tcp://127.0.0.1:%d", ports [0]);
    snprintf (self->publish, sizeof self->publish, "tcp://127.0.0.1:%d", ports [1]);
    snprintf (self->control, sizeof self->control, "tcp://127.0.0.1:%d", ports [2]);

    FILE *file = fopen (self->config_path, "w");
    if (!file) {
        harness_note ("cannot write %s: %s", self->config_path, strerror (errno));
        broker_process_destroy (&self, false);
        return NULL;
    }
    fprintf (file, "#   written by the end-to-end test harness\n");
    fprintf (file, "broker\n");
    fprintf (file, "    ingest = \"%s\"\n", self->ingest);
    fprintf (file, "    publish = \"%s\"\n", self->publish);
    fprintf (file, "    control = \"%s\"\n", self->control);
    fprintf (file, "    database = \"%s\"\n", self->database);
    if (config) {
        if (config->reminder_interval)
            fprintf (file, "    reminder_interval = %s\n", config->reminder_interval);
        if (config->grace)
            fprintf (file, "    grace = %s\n", config->grace);
        if (config->retention)
            fprintf (file, "    retention = %s\n", config->retention);
        if (config->batch)
            fprintf (file, "    batch = %s\n", config->batch);
        if (config->checkpoint)
            fprintf (file, "    checkpoint = %s\n", config->checkpoint);
        if (config->standbys)
            fprintf (file, "    standbys = %s\n", config->standbys);
        if (config->security_cert || config->security_clients) {
            fprintf (file, "security\n");
            if (config->security_cert)
                fprintf (file, "    cert = \"%s\"\n", config->security_cert);
            if (config->security_clients)
                fprintf (file, "    clients = \"%s\"\n", config->security_clients);
        }
    }
    if (fclose (file) != 0) {
        broker_process_destroy (&self, false);
        return NULL;
    }
    return self;
}

//  --- client identities against a secured broker -----------------------------------

static char s_ingest_cert [1024];      //  certificate for ingest sockets, "" when plain
static char s_control_cert [1024];     //  certificate for control calls and subscribers
static char s_server_key [1024];       //  the broker's public key or certificate

void
harness_secure (const char *ingest_cert, const char *control_cert, const char *server_key)
{
    snprintf (s_ingest_cert, sizeof s_ingest_cert, "%s", ingest_cert ? ingest_cert : "");
    snprintf (s_control_cert, sizeof s_control_cert, "%s", control_cert ? control_cert : "");
    snprintf (s_server_key, sizeof s_server_key, "%s", server_key ? server_key : "");
    if (!ingest_cert)
        bus_secure_reset ();
}

//  Makes the next sockets this process opens use cert (nothing when plain).
static void
s_identity (const char *cert)
{
    if (!*cert)
        return;
    char error [256];
    if (bus_secure_client (cert, s_server_key, error, sizeof error))
        harness_note ("cannot use certificate %s: %s", cert, error);
}

//  One ping; true if the reply has ok == true.
static bool
s_ping (broker_process_t *self, int timeout_ms)
{
    wire_writer_t writer;
    wire_writer_init (&writer);
    msgpack_pack_map (&writer.packer, 2);
    wire_pack_key_int (&writer.packer, "v", WIRE_VERSION);
    wire_pack_key_string (&writer.packer, "op", "ping");
    char error [256];
    s_identity (s_control_cert);
    zframe_t *reply = bus_call (self->control, writer.buffer.data, writer.buffer.size,
                                timeout_ms, error, sizeof error);
    wire_writer_free (&writer);
    if (!reply)
        return false;
    wire_doc_t *doc = wire_doc_new (zframe_data (reply), zframe_size (reply),
                                    error, sizeof error);
    zframe_destroy (&reply);
    bool ok = doc && reply_ok (doc);
    wire_doc_destroy (&doc);
    return ok;
}

int
broker_process_spawn (broker_process_t *self)
{
    assert (self);
    if (self->pid) {
        harness_note ("broker_process_spawn: already running (pid %d)", (int) self->pid);
        return -1;
    }
    char binary [HARNESS_PATH_MAX];
    snprintf (binary, sizeof binary, "%s/lilac-broker", harness_bin_dir ());
    char *argv [] = { binary, (char *) "-c", self->config_path, NULL };
    self->spawned_at = clock_now_ms ();
    self->ready_at = 0;
    pid_t pid = process_spawn (argv, self->log_path, self->log_path);
    if (pid <= 0)
        return -1;
    self->pid = pid;
    return 0;
}

int
broker_process_wait_ready (broker_process_t *self, int timeout_ms)
{
    assert (self);
    int64_t deadline = clock_now_ms () + timeout_ms;
    for (int attempt = 0; attempt < 100000 && clock_now_ms () < deadline; attempt++) {
        if (!broker_process_running (self)) {
            harness_note ("broker exited before it answered ping (see its log)");
            return -1;
        }
        if (s_ping (self, HARNESS_PING_MS)) {
            self->ready_at = clock_now_ms ();
            return 0;
        }
        harness_pause_ms (HARNESS_POLL_MS);
    }
    return -1;
}

int
broker_process_start (broker_process_t *self)
{
    if (broker_process_spawn (self))
        return -1;
    if (broker_process_wait_ready (self, HARNESS_START_DEADLINE_MS) == 0)
        return 0;
    harness_note ("broker did not answer ping within %d ms", HARNESS_START_DEADLINE_MS);
    broker_process_kill (self);
    return -1;
}

int
broker_process_stop (broker_process_t *self)
{
    assert (self);
    return process_stop (&self->pid, "broker", HARNESS_STOP_DEADLINE_MS);
}

int
broker_process_kill (broker_process_t *self)
{
    assert (self);
    return process_kill (&self->pid, HARNESS_STOP_DEADLINE_MS);
}

bool
broker_process_running (broker_process_t *self)
{
    assert (self);
    return process_running (&self->pid, "broker");
}

int
broker_process_signal (broker_process_t *self, int signal)
{
    assert (self);
    if (!broker_process_running (self) || kill (self->pid, signal) != 0)
        return -1;
    return 0;
}

const char *broker_process_log (broker_process_t *self) { assert (self); return self->log_path; }
int64_t broker_process_spawned_at (broker_process_t *self) { assert (self); return self->spawned_at; }
int64_t broker_process_ready_at (broker_process_t *self) { assert (self); return self->ready_at; }
const char *broker_process_ingest (broker_process_t *self) { assert (self); return self->ingest; }
const char *broker_process_publish (broker_process_t *self) { assert (self); return self->publish; }
const char *broker_process_control (broker_process_t *self) { assert (self); return self->control; }
const char *broker_process_database (broker_process_t *self) { assert (self); return self->database; }
pid_t broker_process_pid (broker_process_t *self) { assert (self); return self->pid; }

void
broker_process_print_log (broker_process_t *self)
{
    assert (self);
    log_print_tail ("broker", self->log_path, HARNESS_LOG_TAIL_LINES);
}

void
broker_process_destroy (broker_process_t **self_p, bool failed)
{
    assert (self_p);
    broker_process_t *self = *self_p;
    if (!self)
        return;
    if (self->pid)
        broker_process_kill (self);
    if (failed && self->log_path)
        broker_process_print_log (self);
    free (self->config_path);
    free (self->log_path);
    free (self->database);
    free (self);
    *self_p = NULL;
}

//  --- ingest -------------------------------------------------------------------------

zsock_t *
ingest_open (broker_process_t *broker)
{
    char error [256];
    s_identity (s_ingest_cert);
    zsock_t *push = bus_open (ZMQ_PUSH, broker_process_ingest (broker), BUS_CONNECT,
                              error, sizeof error);
    if (!push) {
        harness_note ("ingest_open: %s", error);
        return NULL;
    }
    zsock_set_sndtimeo (push, HARNESS_SEND_TIMEOUT);
    return push;
}

static void
s_pack_optional (msgpack_packer *packer, const char *key, const char *value)
{
    if (value)
        wire_pack_key_string (packer, key, value);
}

void
batch_pack (wire_writer_t *writer, const batch_spec_t *batch)
{
    assert (writer && batch);
    wire_writer_reset (writer);
    msgpack_packer *packer = &writer->packer;
    size_t keys = 2 + (batch->source != NULL) + (batch->tx != NULL) + batch->replace;
    msgpack_pack_map (packer, keys);
    wire_pack_key_int (packer, "v", WIRE_VERSION);
    s_pack_optional (packer, "source", batch->source);
    s_pack_optional (packer, "tx", batch->tx);
    if (batch->replace)
        wire_pack_key_bool (packer, "replace", true);
    wire_pack_key (packer, "alerts");
    msgpack_pack_array (packer, batch->event_count);
    for (size_t index = 0; index < batch->event_count; index++) {
        const event_spec_t *event = &batch->events [index];
        size_t label_count = 0;
        while (event->labels && event->labels [2 * label_count])
            label_count++;
        size_t fields = (event->id != NULL) + (event->raise != NULL)
                      + (event->clear != NULL) + (event->suppress != NULL)
                      + (event->summary != NULL) + (event->subject != NULL)
                      + (event->level != NULL) + (event->labels != NULL)
                      + (event->detail != NULL) + (event->age > 0);
        msgpack_pack_map (packer, fields);
        s_pack_optional (packer, "id", event->id);
        s_pack_optional (packer, "raise", event->raise);
        s_pack_optional (packer, "clear", event->clear);
        s_pack_optional (packer, "suppress", event->suppress);
        s_pack_optional (packer, "summary", event->summary);
        s_pack_optional (packer, "subject", event->subject);
        s_pack_optional (packer, "level", event->level);
        s_pack_optional (packer, "detail", event->detail);
        if (event->age > 0)
            wire_pack_key_int (packer, "age", event->age);
        if (event->labels) {
            wire_pack_key (packer, "labels");
            msgpack_pack_map (packer, label_count);
            for (size_t label = 0; label < label_count; label++) {
                wire_pack_string (packer, event->labels [2 * label]);
                wire_pack_string (packer, event->labels [2 * label + 1]);
            }
        }
    }
}

int
ingest_raw (zsock_t *push, const void *data, size_t size)
{
    assert (push);
    if (zmq_send (zsock_resolve (push), data, size, 0) == -1) {
        harness_note ("ingest send: %s", zmq_strerror (zmq_errno ()));
        return -1;
    }
    return 0;
}

int
ingest_send (zsock_t *push, const batch_spec_t *batch)
{
    wire_writer_t writer;
    wire_writer_init (&writer);
    batch_pack (&writer, batch);
    int rc = ingest_raw (push, writer.buffer.data, writer.buffer.size);
    wire_writer_free (&writer);
    return rc;
}

int
ingest_event (zsock_t *push, const char *source, const char *id, const char *raise)
{
    event_spec_t event = { .id = id, .raise = raise };
    batch_spec_t batch = { .source = source, .events = &event, .event_count = 1 };
    return ingest_send (push, &batch);
}

//  --- subscriber ----------------------------------------------------------------------

struct _subscriber_t {
    zsock_t *socket;               //  SUB, connected
    uint64_t max_seq;              //  highest change seq received
    int seq_errors;                //  changes whose seq was not above the previous
};

//  Receives one [topic, body] message within timeout_ms. Returns 1 for a
//  change (filled in), 2 for a hugz (*hugz_at set), 0 at the deadline, -2
//  for a malformed message (reason printed).
static int
s_receive (subscriber_t *self, int timeout_ms, alert_change_t *change, int64_t *hugz_at)
{
    zmq_pollitem_t item = { zsock_resolve (self->socket), 0, ZMQ_POLLIN, 0 };
    int ready = zmq_poll (&item, 1, timeout_ms < 0? 0: timeout_ms);
    if (ready <= 0)
        return 0;
    zmsg_t *message = zmsg_recv (self->socket);
    if (!message)
        return 0;
    int rc = -2;
    zframe_t *topic = zmsg_first (message);
    zframe_t *body = zmsg_next (message);
    if (zmsg_size (message) != 2 || !topic || !body) {
        harness_note ("bus message with %zu frames (expected 2)", zmsg_size (message));
        zmsg_destroy (&message);
        return -2;
    }
    char *topic_text = zframe_strdup (topic);
    char error [WIRE_ERROR_SIZE];
    wire_doc_t *doc = wire_doc_new (zframe_data (body), zframe_size (body),
                                    error, sizeof error);
    if (!doc)
        harness_note ("bus message '%s': undecodable body: %s", topic_text, error);
    else
    if (streq (topic_text, "hugz")) {
        bool present = false;
        int64_t at = 0;
        if (wire_get_int (wire_doc_root (doc), "at", &present, &at, error, sizeof error) == 0
        &&  present) {
            *hugz_at = at;
            rc = 2;
        }
        else
            harness_note ("hugz without an integer 'at'");
    }
    else {
        memset (change, 0, sizeof *change);
        if (alert_change_decode (wire_doc_root (doc), change, error, sizeof error) != 0)
            harness_note ("bus message '%s': bad change body: %s", topic_text, error);
        else {
            char expected [WIRE_MAX_TOPIC + 1];
            alert_change_topic (expected, sizeof expected, change);
            if (!streq (expected, topic_text)) {
                harness_note ("topic '%s' does not match its body ('%s')", topic_text, expected);
                alert_change_free (change);
            }
            else {
                if (change->seq <= self->max_seq) {
                    harness_note ("change seq %llu after seq %llu",
                                  (unsigned long long) change->seq,
                                  (unsigned long long) self->max_seq);
                    self->seq_errors++;
                }
                else
                    self->max_seq = change->seq;
                rc = 1;
            }
        }
    }
    wire_doc_destroy (&doc);
    free (topic_text);
    zmsg_destroy (&message);
    return rc;
}

subscriber_t *
subscriber_new (broker_process_t *broker, const char *prefix)
{
    char error [256];
    s_identity (s_control_cert);
    zsock_t *socket = bus_open (ZMQ_SUB, broker_process_publish (broker), BUS_CONNECT,
                                error, sizeof error);
    if (!socket) {
        harness_note ("subscriber_new: %s", error);
        return NULL;
    }
    zsock_set_subscribe (socket, prefix? prefix: "");
    if (prefix && *prefix)
        zsock_set_subscribe (socket, "hugz");
    subscriber_t *self = calloc (1, sizeof *self);
    assert (self);
    self->socket = socket;
    if (expect_hugz (self, 0, HARNESS_JOIN_DEADLINE_MS) != 0) {
        harness_note ("subscriber saw no hugz within %d ms", HARNESS_JOIN_DEADLINE_MS);
        subscriber_destroy (&self);
        return NULL;
    }
    return self;
}

void
subscriber_destroy (subscriber_t **self_p)
{
    assert (self_p);
    subscriber_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->socket);
    free (self);
    *self_p = NULL;
}

static bool
s_matches (const alert_change_t *change, const char *event, const char *source, const char *id)
{
    return (!event || (change->event && streq (change->event, event)))
        && (!source || (change->alert.source && streq (change->alert.source, source)))
        && (!id || (change->alert.id && streq (change->alert.id, id)));
}

int
expect_change (subscriber_t *self, const char *event, const char *source,
               const char *id, int timeout_ms, alert_change_t *change)
{
    assert (self && change);
    memset (change, 0, sizeof *change);
    int64_t deadline = clock_now_ms () + timeout_ms;
    for (int count = 0; count < 1000000; count++) {
        int64_t left = deadline - clock_now_ms ();
        if (left <= 0)
            break;
        alert_change_t received;
        int64_t hugz_at;
        int rc = s_receive (self, (int) left, &received, &hugz_at);
        if (rc == -2)
            return -2;
        if (rc == 1) {
            if (s_matches (&received, event, source, id)) {
                *change = received;
                return 0;
            }
            alert_change_free (&received);
        }
    }
    return -1;
}

bool
expect_no_change (subscriber_t *self, const char *event, const char *source,
                  const char *id, int window_ms)
{
    assert (self);
    int64_t deadline = clock_now_ms () + window_ms;
    bool quiet = true;
    for (int count = 0; count < 1000000; count++) {
        int64_t left = deadline - clock_now_ms ();
        if (left <= 0)
            break;
        alert_change_t received;
        int64_t hugz_at;
        int rc = s_receive (self, (int) left, &received, &hugz_at);
        if (rc == -2)
            quiet = false;
        if (rc == 1) {
            if (s_matches (&received, event, source, id)) {
                harness_note ("unexpected change %s %s/%s seq %llu (state %s)",
                              received.event, received.alert.source, received.alert.id,
                              (unsigned long long) received.seq,
                              alert_state_name (received.alert.state));
                quiet = false;
            }
            alert_change_free (&received);
        }
    }
    return quiet;
}

int
expect_hugz (subscriber_t *self, int64_t min_at_ms, int timeout_ms)
{
    assert (self);
    int64_t deadline = clock_now_ms () + timeout_ms;
    for (int count = 0; count < 1000000; count++) {
        int64_t left = deadline - clock_now_ms ();
        if (left <= 0)
            break;
        alert_change_t received;
        int64_t hugz_at = 0;
        int rc = s_receive (self, (int) left, &received, &hugz_at);
        if (rc == 1)
            alert_change_free (&received);
        if (rc == 2 && hugz_at >= min_at_ms)
            return 0;
    }
    return -1;
}

int
subscriber_seq_errors (subscriber_t *self)
{
    assert (self);
    return self->seq_errors;
}

uint64_t
subscriber_max_seq (subscriber_t *self)
{
    assert (self);
    return self->max_seq;
}

//  --- control --------------------------------------------------------------------------

static wire_doc_t *
s_control_callv (broker_process_t *broker, const char *op, va_list args)
{
    va_list counting;
    va_copy (counting, args);
    size_t pairs = 0;
    for (int type = va_arg (counting, int); type; type = va_arg (counting, int)) {
        (void) va_arg (counting, const char *);
        if (type == 's')
            (void) va_arg (counting, const char *);
        else
        if (type == 'i')
            (void) va_arg (counting, int64_t);
        else
            (void) va_arg (counting, int);
        pairs++;
    }
    va_end (counting);

    wire_writer_t writer;
    wire_writer_init (&writer);
    msgpack_pack_map (&writer.packer, 2 + pairs);
    wire_pack_key_int (&writer.packer, "v", WIRE_VERSION);
    wire_pack_key_string (&writer.packer, "op", op);
    for (int type = va_arg (args, int); type; type = va_arg (args, int)) {
        const char *key = va_arg (args, const char *);
        if (type == 's')
            wire_pack_key_string (&writer.packer, key, va_arg (args, const char *));
        else
        if (type == 'i')
            wire_pack_key_int (&writer.packer, key, va_arg (args, int64_t));
        else
            wire_pack_key_bool (&writer.packer, key, va_arg (args, int) != 0);
    }
    char error [256];
    s_identity (s_control_cert);
    zframe_t *reply = bus_call (broker_process_control (broker), writer.buffer.data,
                                writer.buffer.size, HARNESS_CALL_TIMEOUT_MS,
                                error, sizeof error);
    wire_writer_free (&writer);
    if (!reply) {
        harness_note ("control %s: %s", op, error);
        return NULL;
    }
    wire_doc_t *doc = wire_doc_new (zframe_data (reply), zframe_size (reply),
                                    error, sizeof error);
    if (!doc)
        harness_note ("control %s: malformed reply: %s", op, error);
    zframe_destroy (&reply);
    return doc;
}

wire_doc_t *
control_call (broker_process_t *broker, const char *op, ...)
{
    va_list args;
    va_start (args, op);
    wire_doc_t *reply = s_control_callv (broker, op, args);
    va_end (args);
    return reply;
}

wire_doc_t *
control_ok (broker_process_t *broker, const char *op, ...)
{
    va_list args;
    va_start (args, op);
    wire_doc_t *reply = s_control_callv (broker, op, args);
    va_end (args);
    if (reply && !reply_ok (reply)) {
        const char *error = reply_error (reply);
        harness_note ("control %s: ok false: %s", op, error? error: "(no error text)");
        wire_doc_destroy (&reply);
    }
    return reply;
}

zframe_t *
control_raw (broker_process_t *broker, const void *data, size_t size, int timeout_ms)
{
    char error [256];
    s_identity (s_control_cert);
    return bus_call (broker_process_control (broker), data, size, timeout_ms, error, sizeof error);
}

bool
reply_ok (wire_doc_t *reply)
{
    return reply_bool (reply, "ok", false);
}

const char *
reply_error (wire_doc_t *reply)
{
    static char text [1024];
    const msgpack_object *error = reply_get (reply, "error");
    if (!error || error->type != MSGPACK_OBJECT_STR)
        return NULL;
    size_t size = error->via.str.size < sizeof text - 1? error->via.str.size: sizeof text - 1;
    memcpy (text, error->via.str.ptr, size);
    text [size] = 0;
    return text;
}

int64_t
reply_int (wire_doc_t *reply, const char *key, int64_t fallback)
{
    const msgpack_object *object = reply_get (reply, key);
    if (object && object->type == MSGPACK_OBJECT_POSITIVE_INTEGER
    &&  object->via.u64 <= INT64_MAX)
        return (int64_t) object->via.u64;
    if (object && object->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return object->via.i64;
    return fallback;
}

bool
reply_bool (wire_doc_t *reply, const char *key, bool fallback)
{
    const msgpack_object *object = reply_get (reply, key);
    if (object && object->type == MSGPACK_OBJECT_BOOLEAN)
        return object->via.boolean;
    return fallback;
}

const msgpack_object *
reply_get (wire_doc_t *reply, const char *key)
{
    if (!reply)
        return NULL;
    return wire_get (wire_doc_root (reply), key);
}

int
reply_alert (wire_doc_t *reply, alert_t *alert)
{
    memset (alert, 0, sizeof *alert);
    const msgpack_object *object = reply_get (reply, "alert");
    if (!object)
        return -1;
    char error [WIRE_ERROR_SIZE];
    if (alert_decode (object, alert, error, sizeof error) != 0) {
        harness_note ("reply alert: %s", error);
        return -1;
    }
    return 0;
}

int
control_get_alert (broker_process_t *broker, const char *source, const char *id, alert_t *alert)
{
    memset (alert, 0, sizeof *alert);
    wire_doc_t *reply = control_call (broker, "get", ARG_STR ("source", source),
                                      ARG_STR ("id", id), ARG_END);
    int rc = reply && reply_ok (reply)? reply_alert (reply, alert): -1;
    wire_doc_destroy (&reply);
    return rc;
}

int64_t
broker_process_stat (broker_process_t *broker, const char *name)
{
    wire_doc_t *reply = control_ok (broker, "stats", ARG_END);
    int64_t value = -1;
    const msgpack_object *stats = reply_get (reply, "stats");
    const msgpack_object *counter = stats? wire_get (stats, name): NULL;
    if (counter && counter->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        value = (int64_t) counter->via.u64;
    else
    if (reply)
        harness_note ("stats has no counter '%s'", name);
    wire_doc_destroy (&reply);
    return value;
}

//  --- the lilac command -------------------------------------------------------------

struct _cli_t {
    pid_t pid;                     //  the child, or 0 once reaped
    int status;                    //  exit status once reaped
    char *out_path;                //  its stdout file
    char *err_path;                //  its stderr file
    int64_t started_at;            //  ms
    int64_t ended_at;              //  ms, once reaped
};

#define CLI_MAX_ARGS 64

static cli_t *
s_cli_startv (const char *dir, const char *arg, va_list args)
{
    static int serial;
    serial++;
    char binary [HARNESS_PATH_MAX];
    snprintf (binary, sizeof binary, "%s/lilac", harness_bin_dir ());
    char *argv [CLI_MAX_ARGS + 2];
    int count = 0;
    argv [count++] = binary;
    for (const char *next = arg; next && count <= CLI_MAX_ARGS; next = va_arg (args, const char *))
        argv [count++] = (char *) (uintptr_t) next;   //  posix_spawn does not write argv
    argv [count] = NULL;

    cli_t *self = calloc (1, sizeof *self);
    assert (self);
    if (asprintf (&self->out_path, "%s/cli-%d.out", dir, serial) < 0
    ||  asprintf (&self->err_path, "%s/cli-%d.err", dir, serial) < 0)
        assert (false);
    self->started_at = clock_now_ms ();
    self->pid = process_spawn (argv, self->out_path, self->err_path);
    if (self->pid <= 0) {
        free (self->out_path);
        free (self->err_path);
        free (self);
        return NULL;
    }
    return self;
}

cli_t *
cli_start (const char *dir, const char *arg, ...)
{
    va_list args;
    va_start (args, arg);
    cli_t *self = s_cli_startv (dir, arg, args);
    va_end (args);
    return self;
}

const char *
cli_out_path (cli_t *self)
{
    assert (self);
    return self->out_path;
}

bool
cli_exited (cli_t *self)
{
    assert (self);
    if (self->pid) {
        int status;
        if (waitpid (self->pid, &status, WNOHANG) == self->pid) {
            self->status = WIFEXITED (status)? WEXITSTATUS (status)
                         : WIFSIGNALED (status)? 128 + WTERMSIG (status): -1;
            self->ended_at = clock_now_ms ();
            self->pid = 0;
        }
    }
    return self->pid == 0;
}

int
cli_finish (cli_t **self_p, int timeout_ms, cli_result_t *result)
{
    assert (self_p && result);
    memset (result, 0, sizeof *result);
    cli_t *self = *self_p;
    if (!self) {
        result->status = -1;
        result->out = strdup ("");
        result->err = strdup ("");
        return -1;
    }
    int64_t deadline = clock_now_ms () + timeout_ms;
    while (!cli_exited (self) && clock_now_ms () < deadline)
        harness_pause_ms (HARNESS_POLL_MS);
    if (!cli_exited (self)) {
        kill (self->pid, SIGKILL);
        process_wait (self->pid, HARNESS_STOP_DEADLINE_MS);
        self->pid = 0;
        self->status = -1;
        self->ended_at = clock_now_ms ();
    }
    result->status = self->status;
    result->elapsed_ms = self->ended_at - self->started_at;
    result->out = file_read_all (self->out_path);
    result->err = file_read_all (self->err_path);
    free (self->out_path);
    free (self->err_path);
    free (self);
    *self_p = NULL;
    return 0;
}

int
cli_run (const char *dir, int timeout_ms, cli_result_t *result, const char *arg, ...)
{
    va_list args;
    va_start (args, arg);
    cli_t *cli = s_cli_startv (dir, arg, args);
    va_end (args);
    return cli_finish (&cli, timeout_ms, result);
}

void
cli_result_free (cli_result_t *result)
{
    if (!result)
        return;
    free (result->out);
    free (result->err);
    result->out = NULL;
    result->err = NULL;
}

#define COMMAND_MAX_ARGS 32

int
command_run (const char *program, const char *stem, const char *dir, int timeout_ms,
             cli_result_t *result, const char *arg, ...)
{
    va_list args;
    va_start (args, arg);
    int rc = command_runv (program, stem, dir, timeout_ms, HARNESS_STOP_DEADLINE_MS,
                           result, arg, args);
    va_end (args);
    return rc;
}

int
command_runv (const char *program, const char *stem, const char *dir, int timeout_ms,
              int kill_timeout_ms, cli_result_t *result, const char *arg, va_list args)
{
    assert (program && stem && dir && result);
    static int serial;
    serial++;
    memset (result, 0, sizeof *result);
    char binary [HARNESS_PATH_MAX];
    if (*program == '/')                                //  not ours: amtool, promtool
        snprintf (binary, sizeof binary, "%s", program);
    else
        snprintf (binary, sizeof binary, "%s/%s", harness_bin_dir (), program);
    char *argv [COMMAND_MAX_ARGS + 2];
    int count = 0;
    argv [count++] = binary;
    for (const char *next = arg; next && count <= COMMAND_MAX_ARGS; next = va_arg (args, const char *))
        argv [count++] = (char *) (uintptr_t) next;    //  posix_spawn does not write argv
    argv [count] = NULL;
    char out_path [1100], err_path [1100];
    snprintf (out_path, sizeof out_path, "%s/%s-%d.out", dir, stem, serial);
    snprintf (err_path, sizeof err_path, "%s/%s-%d.err", dir, stem, serial);
    int64_t started = clock_now_ms ();
    pid_t pid = process_spawn (argv, out_path, err_path);
    if (pid <= 0) {
        result->status = -1;
        result->out = strdup ("");
        result->err = strdup ("");
        return -1;
    }
    int status = process_wait (pid, timeout_ms);
    if (status == -1) {
        kill (pid, SIGKILL);
        process_wait (pid, kill_timeout_ms);
    }
    result->status = status;
    result->elapsed_ms = clock_now_ms () - started;
    result->out = file_read_all (out_path);
    result->err = file_read_all (err_path);
    return 0;
}

static char *
s_strip_space (const char *text)
{
    char *stripped = malloc (strlen (text) + 1);
    assert (stripped);
    char *end = stripped;
    for (; *text; text++)
        if (*text != ' ' && *text != '\t' && *text != '\n' && *text != '\r')
            *end++ = *text;
    *end = 0;
    return stripped;
}

bool
text_has (const char *text, const char *needle)
{
    if (!text || !needle)
        return false;
    char *haystack = s_strip_space (text);
    char *wanted = s_strip_space (needle);
    bool found = strstr (haystack, wanted) != NULL;
    free (haystack);
    free (wanted);
    return found;
}

//  --- testbed ---------------------------------------------------------------------------

testbed_t *
testbed_new (const char *name, const broker_process_config_t *config)
{
    broker_process_config_t fallback = {
        .reminder_interval = "1s", .grace = "2s", .checkpoint = "500ms"
    };
    testbed_t *self = calloc (1, sizeof *self);
    assert (self);
    self->sandbox = sandbox_new (name);
    if (!self->sandbox)
        goto failed;
    self->broker = broker_process_new (self->sandbox, config? config: &fallback);
    if (!self->broker || broker_process_start (self->broker) != 0)
        goto failed;
    if (testbed_rejoin (self) != 0)
        goto failed;
    return self;
failed:
    harness_note ("testbed '%s' did not start", name);
    testbed_destroy (&self, true);
    return NULL;
}

int
testbed_raise (testbed_t *self, const char *source, const char *id,
               alert_change_t *change)
{
    assert (self);
    alert_change_t raised;
    if (ingest_event (self->push, source, id, "now") != 0
    ||  expect_change (self->sub, "raised", source, id, 5000, &raised) != 0)
        return -1;
    if (change)
        *change = raised;
    else
        alert_change_free (&raised);
    return 0;
}

int
testbed_rejoin (testbed_t *self)
{
    assert (self);
    zsock_destroy (&self->push);
    subscriber_destroy (&self->sub);
    self->push = ingest_open (self->broker);
    self->sub = subscriber_new (self->broker, NULL);
    return self->push && self->sub? 0: -1;
}

int
testbed_destroy (testbed_t **self_p, bool failed)
{
    assert (self_p);
    testbed_t *self = *self_p;
    if (!self)
        return 0;
    int rc = 0;
    zsock_destroy (&self->push);
    subscriber_destroy (&self->sub);
    if (self->broker && broker_process_running (self->broker)) {
        int status = broker_process_stop (self->broker);
        if (status != 0) {
            harness_note ("broker exit status %d after SIGTERM (expected 0)", status);
            rc = -1;
        }
    }
    else
    if (self->broker && broker_process_ready_at (self->broker)) {
        harness_note ("broker was no longer running at the end of the test");
        rc = -1;
    }
    failed = failed || rc != 0;
    broker_process_destroy (&self->broker, failed);
    sandbox_destroy (&self->sandbox, failed);
    free (self);
    *self_p = NULL;
    return rc;
}

int
testbed_on_tmpfs (const char *name, const char *size, broker_process_config_t config,
                  bool (*body) (testbed_t *bed, const char *filler))
{
    char box_name [256];
    snprintf (box_name, sizeof box_name, "%s-disk", name);
    sandbox_t *box = sandbox_new (box_name);
    if (!box)
        return -1;
    char *disk = sandbox_path (box, "disk");
    char *database = sandbox_path (box, "disk/lilac.db");
    char *filler = sandbox_path (box, "disk/filler");
    int rc = -1;
    bool failed = true;
    if (disk_mount (disk, size) == 0) {
        config.database = database;
        testbed_t *bed = testbed_new (name, &config);
        if (bed) {
            failed = body (bed, filler);
            rc = 0;
        }
        testbed_destroy (&bed, failed);
        disk_unmount (disk);
    }
    free (disk);
    free (database);
    free (filler);
    sandbox_destroy (&box, failed);
    return rc;
}

uint64_t
control_seq (broker_process_t *broker)
{
    wire_doc_t *reply = control_ok (broker, "ping", ARG_END);
    uint64_t seq = (uint64_t) reply_int (reply, "seq", 0);
    wire_doc_destroy (&reply);
    return seq;
}
