/*  test_web_session.c — browser sessions and the CSRF rule of lilac-web,
    end to end, with curl as the browser.

    A broker and a lilac-web with a users file (alice admin, carol reader,
    written by `lilac-web user add`). Cases:
    - GET /login is a form; a wrong password is 401 and logged; the right
      one answers who and sets the cookie HttpOnly, SameSite=Strict, Path=/,
      Max-Age from session_lifetime, not Secure on plain HTTP; the key is
      STATE_DIR/session.key, mode 0600;
    - the cookie reads (GET /api/alerts, GET /api/session) and acts as its
      user: an ack with our Origin and a JSON body is recorded at the
      broker as alice's; without an Origin, with another site's Origin, or
      without Content-Type application/json it is 403 and nothing changes;
      a Basic client with another site's Origin is 403 too, without one
      it acts; a cookie cannot send events (401); a reader's cookie reads
      but cannot act;
    - a cookie changed in one character, or carrying another user's name,
      is 401 (without a Basic challenge: a page asked); cookie names are
      exact (LILAC_SESSION is not ours), and a stale duplicate before the
      good cookie does not hide it;
    - GET /ping (the one GET that changes state) from a page elsewhere
      (Sec-Fetch-Site: cross-site) is 403 with Basic credentials, 200
      same-origin;
    - the session survives a restart of lilac-web; DELETE /api/session
      drops the cookie and ends it (a copy is 401, after a restart too; a
      new login works); a logout that cannot be written down is a 500,
      logged, and ends nothing; a changed password ends it;
    - five failed logins from one address: the sixth is 429, and the right
      password too, until the window ends;
    - behind a trusted proxy that says X-Forwarded-Proto: https, the cookie
      is Secure and an https Origin is ours (an http one is not);
    - SIGHUP reads the users file again: a new password works at once, the
      old one no longer; a broken file keeps the running users (logged).
*/
#include <signal.h>
#include "../check.h"
#include "../harness/harness.h"
#include "../harness/web_process.h"
#include "timespec.h"

static testbed_t *s_bed;
static web_process_t *s_web;
static char *s_users;              //  the htpasswd file

//  One request: cookie (the value), origin, login (USER:PASSWORD) and body
//  may each be NULL.
static void
s_call (const char *method, const char *path, const char *cookie, const char *origin,
        const char *login, const char *body, http_result_t *result)
{
    char url [1024], headers [1024] = "";
    snprintf (url, sizeof url, "%s%s", web_process_base (s_web), path);
    size_t used = 0;
    if (cookie)
        used += (size_t) snprintf (headers + used, sizeof headers - used,
                                   "Cookie: lilac_session=%s\n", cookie);
    if (origin)
        snprintf (headers + used, sizeof headers - used, "Origin: %s\n", origin);
    http_options_t options = { .login = login, .body = body, .header = *headers ? headers : NULL };
    http_call (sandbox_dir (s_bed->sandbox), method, url, &options, result);
}

static long
s_code (const char *method, const char *path, const char *cookie, const char *origin,
        const char *login, const char *body)
{
    http_result_t result;
    s_call (method, path, cookie, origin, login, body, &result);
    long code = result.code;
    http_result_free (&result);
    return code;
}

//  `lilac-web user add NAME` with password. 0 / -1.
static int
s_user_add (const char *name, const char *password)
{
    char password_file [4200], command [9000], program [1024];
    snprintf (password_file, sizeof password_file, "%s/password", sandbox_dir (s_bed->sandbox));
    snprintf (program, sizeof program, "%s/lilac-web", harness_bin_dir ());
    if (file_write_text (password_file, password))
        return -1;
    snprintf (command, sizeof command, "%s -c %s user add %s < %s", program,
              web_process_config (s_web), name, password_file);
    return system (command) == 0 ? 0 : -1;
}

//  Logs in: 200 with the cookie's value in cookie (and the whole answer's
//  headers in *headers when not NULL, owned); else the code.
static long
s_login (const char *user, const char *password, char *cookie, size_t cookie_size,
         char **headers)
{
    char body [256];
    snprintf (body, sizeof body, "{\"user\":\"%s\",\"password\":\"%s\"}", user, password);
    http_result_t result;
    s_call ("POST", "/api/session", NULL, NULL, NULL, body, &result);
    long code = result.code;
    *cookie = 0;
    const char *at = result.headers ? strstr (result.headers, "lilac_session=") : NULL;
    if (code == 200 && at) {
        at += strlen ("lilac_session=");
        snprintf (cookie, cookie_size, "%.*s", (int) strcspn (at, ";\r\n"), at);
    }
    if (headers) {
        *headers = result.headers;
        result.headers = NULL;
    }
    http_result_free (&result);
    return code;
}

static void
s_login_form (char *alice, size_t alice_size)
{
    TEST ("login: the form, a wrong password (401, logged), the cookie's attributes, the key");
    http_result_t result;
    s_call ("GET", "/login", NULL, NULL, NULL, NULL, &result);
    CHECK (result.code == 200 && text_has (result.body, "<form")
           && text_has (result.headers, "text/html"), "GET /login: %ld", result.code);
    http_result_free (&result);
    CHECK (s_login ("alice", "guess", alice, alice_size, NULL) == 401, "a wrong password");
    CHECK (file_has_text (web_process_log (s_web), "failed login from 127.0.0.1 as 'alice'"),
           "the failure was not logged");
    char *headers = NULL;
    CHECK (s_login ("alice", "wonderland", alice, alice_size, &headers) == 200 && *alice,
           "alice could not log in");
    CHECK (headers && text_has (headers, "HttpOnly") && text_has (headers, "SameSite=Strict")
           && text_has (headers, "Path=/") && text_has (headers, "Max-Age=7200")
           && !text_has (headers, "Secure"), "the cookie's attributes: %s", headers);
    free (headers);
    CHECK (file_has_text (web_process_log (s_web), "alice logged in from 127.0.0.1 (admin)"),
           "the login was not logged");
    char *key = sandbox_path (s_bed->sandbox, "web-state/session.key");
    struct stat status;
    CHECK (stat (key, &status) == 0 && (status.st_mode & 0777) == 0600 && status.st_size == 32,
           "session.key: %s", key);
    free (key);
}

static void
s_session_acts (const char *alice, const char *origin)
{
    TEST ("a session reads and acts as its user, only same-origin with JSON (CSRF)");
    http_result_t result;
    s_call ("GET", "/api/session", alice, NULL, NULL, NULL, &result);
    CHECK (result.code == 200 && text_has (result.body, "\"user\":\"alice\"")
           && text_has (result.body, "\"role\":\"admin\"")
           && text_has (result.body, "\"session\":true"), "%ld %s", result.code, result.body);
    http_result_free (&result);
    s_call ("GET", "/api/session", NULL, NULL, NULL, NULL, &result);
    CHECK (result.code == 401 && !text_has (result.headers, "WWW-Authenticate"),
           "no cookie: %ld %s", result.code, result.headers);
    http_result_free (&result);
    CHECK (s_code ("GET", "/api/alerts", alice, NULL, NULL, NULL) == 200, "read");
    CHECK (testbed_raise (s_bed, "web-host", "disk", NULL) == 0, "raise");
    alert_t alert;
    bool seen = false;
    for (int64_t end = clock_now_ms () + 10000; !seen && clock_now_ms () < end; ) {
        seen = s_code ("GET", "/api/alerts/web-host/disk", alice, NULL, NULL, NULL) == 200;
        if (!seen)
            harness_pause_ms (50);
    }
    CHECK (seen, "lilac-web never saw the alert");
    const char *path = "/api/alerts/web-host/disk/ack";
    CHECK (s_code ("POST", path, alice, NULL, NULL, "{}") == 403, "no Origin: acted");
    CHECK (s_code ("POST", path, alice, "http://evil.example", NULL, "{}") == 403,
           "another site's Origin: acted");
    CHECK (s_code ("POST", path, alice, origin, NULL, NULL) == 403, "no JSON: acted");
    CHECK (file_has_text (web_process_log (s_web), "cross-origin request refused"),
           "a refusal was not logged");
    if (CHECK (control_get_alert (s_bed->broker, "web-host", "disk", &alert) == 0, "get")) {
        CHECK (!alert.acked_by || !*alert.acked_by, "acked by %s after refusals", alert.acked_by);
        alert_clear_fields (&alert);
    }
    CHECK (s_code ("POST", path, alice, origin, NULL, "{\"note\":\"mine\"}") == 200,
           "same origin, JSON: refused");
    if (CHECK (control_get_alert (s_bed->broker, "web-host", "disk", &alert) == 0, "get")) {
        CHECK (alert.acked_by && strcmp (alert.acked_by, "alice") == 0, "acked by %s",
               alert.acked_by ? alert.acked_by : "-");
        alert_clear_fields (&alert);
    }
    //  Basic credentials a browser remembers are no pass for another site.
    CHECK (s_code ("POST", "/api/alerts/web-host/disk/unack", NULL, "http://evil.example",
                   "alice:wonderland", "{}") == 403, "Basic from another site acted");
    CHECK (s_code ("POST", "/api/alerts/web-host/disk/unack", NULL, NULL, "alice:wonderland",
                   "{}") == 200, "Basic without Origin (a tool) refused");
    CHECK (s_code ("POST", "/api/events", alice, origin, NULL,
                   "{\"alerts\":[{\"id\":\"x\"}]}") == 401, "a cookie sent events");
    //  The heartbeat GET: not from a page elsewhere (an <img>), with any
    //  credentials the browser holds; from tools and our own pages, yes.
    http_options_t options = { .login = "alice:wonderland",
                               .header = "Sec-Fetch-Site: cross-site" };
    char url [1024];
    snprintf (url, sizeof url, "%s/ping/web-host/backup/fail", web_process_base (s_web));
    http_call (sandbox_dir (s_bed->sandbox), "GET", url, &options, &result);
    CHECK (result.code == 403, "a cross-site GET /ping: %ld", result.code);
    http_result_free (&result);
    options.header = "Sec-Fetch-Site: same-origin";
    http_call (sandbox_dir (s_bed->sandbox), "GET", url, &options, &result);
    CHECK (result.code == 200, "a same-origin GET /ping: %ld %s", result.code, result.body);
    http_result_free (&result);
}

static void
s_forged (const char *alice, const char *carol, const char *origin)
{
    TEST ("a reader's session cannot act; a changed or borrowed cookie is refused");
    CHECK (s_code ("GET", "/api/alerts", carol, NULL, NULL, NULL) == 200, "carol read");
    CHECK (s_code ("POST", "/api/alerts/web-host/disk/ack", carol, origin, NULL, "{}") == 403,
           "a reader acted");
    char changed [512];
    snprintf (changed, sizeof changed, "%s", alice);
    size_t last = strlen (changed) - 1;
    changed [last] = changed [last] == '0' ? '1' : '0';
    CHECK (s_code ("GET", "/api/alerts", changed, NULL, NULL, NULL) == 401, "a changed MAC");
    //  Cookie names are exact, and a stale duplicate (one a sibling domain
    //  set, say) does not hide the good one.
    char url [1024], header [1024];
    snprintf (url, sizeof url, "%s/api/alerts", web_process_base (s_web));
    snprintf (header, sizeof header, "Cookie: LILAC_SESSION=%s", alice);
    http_options_t options = { .header = header };
    http_result_t result;
    http_call (sandbox_dir (s_bed->sandbox), "GET", url, &options, &result);
    CHECK (result.code == 401, "LILAC_SESSION taken for lilac_session: %ld", result.code);
    http_result_free (&result);
    snprintf (header, sizeof header, "Cookie: lilac_session=%s; other=1; lilac_session=%s",
              changed, alice);
    http_call (sandbox_dir (s_bed->sandbox), "GET", url, &options, &result);
    CHECK (result.code == 200, "a stale duplicate hid the good cookie: %ld", result.code);
    http_result_free (&result);
    //  carol's cookie with alice's name in it: v1.EXPIRES.HEXNAME.MAC
    char borrowed [512];
    const char *carol_name = strchr (carol + 3, '.');
    const char *alice_name = strchr (alice + 3, '.');
    if (CHECK (carol_name && alice_name, "cookie form: %s %s", alice, carol)) {
        const char *carol_mac = strchr (carol_name + 1, '.');
        const char *alice_mac = strchr (alice_name + 1, '.');
        snprintf (borrowed, sizeof borrowed, "%.*s%.*s%s", (int) (carol_name + 1 - carol), carol,
                  (int) (alice_mac - alice_name - 1), alice_name + 1, carol_mac);
        CHECK (s_code ("GET", "/api/alerts", borrowed, NULL, NULL, NULL) == 401,
               "carol's MAC under alice's name: %s", borrowed);
    }
}

static void
s_restart (const char *alice, const char *origin)
{
    TEST ("a session survives a restart; logout ends it (copies too); a new password ends it");
    CHECK (web_process_stop (s_web) == 0 && web_process_start (s_web) == 0, "restart");
    CHECK (s_code ("GET", "/api/alerts", alice, NULL, NULL, NULL) == 200,
           "the session did not survive a restart");
    http_result_t result;
    //  A logout that cannot be written down (a directory where its file is
    //  written first) ends nothing and says so, to the browser and the log.
    char *blocker = sandbox_path (s_bed->sandbox, "web-state/session.revoked.tmp");
    CHECK (mkdir (blocker, 0700) == 0, "mkdir %s", blocker);
    s_call ("DELETE", "/api/session", alice, origin, NULL, "{}", &result);
    CHECK (result.code == 500 && text_has (result.body, "could not be ended"),
           "an unwritable logout: %ld %s", result.code, result.body);
    http_result_free (&result);
    CHECK (file_has_text (web_process_log (s_web), "sessions could not be ended"), "not logged");
    CHECK (s_code ("GET", "/api/alerts", alice, NULL, NULL, NULL) == 200,
           "a logout that failed ended the session anyway");
    CHECK (rmdir (blocker) == 0, "rmdir");
    free (blocker);
    s_call ("DELETE", "/api/session", alice, origin, NULL, "{}", &result);
    CHECK (result.code == 200 && text_has (result.headers, "lilac_session=;")
           && text_has (result.headers, "Max-Age=0"), "logout: %ld %s", result.code,
           result.headers);
    http_result_free (&result);
    //  A copy of the cookie kept elsewhere is ended too, restart or not.
    CHECK (s_code ("GET", "/api/alerts", alice, NULL, NULL, NULL) == 401,
           "the cookie lived on after the logout");
    CHECK (web_process_stop (s_web) == 0 && web_process_start (s_web) == 0, "restart");
    CHECK (s_code ("GET", "/api/alerts", alice, NULL, NULL, NULL) == 401,
           "the logout was forgotten at a restart");
    char fresh [512];
    CHECK (s_login ("alice", "wonderland", fresh, sizeof fresh, NULL) == 200
           && s_code ("GET", "/api/alerts", fresh, NULL, NULL, NULL) == 200,
           "a login after the logout");
    CHECK (s_user_add ("alice", "looking-glass\n") == 0, "user add");
    CHECK (web_process_stop (s_web) == 0 && web_process_start (s_web) == 0, "restart");
    CHECK (s_code ("GET", "/api/alerts", alice, NULL, NULL, NULL) == 401,
           "the old password's session lives on");
    char cookie [512];
    CHECK (s_login ("alice", "looking-glass", cookie, sizeof cookie, NULL) == 200,
           "the new password");
}

static void
s_rate_limit (void)
{
    TEST ("five failed logins from an address: refused (429) for a while");
    char cookie [512];
    long codes [6];
    for (int attempt = 0; attempt < 6; attempt++)
        codes [attempt] = s_login ("carol", "guess", cookie, sizeof cookie, NULL);
    CHECK (codes [0] == 401 && codes [4] == 401 && codes [5] == 429, "%ld .. %ld .. %ld",
           codes [0], codes [4], codes [5]);
    CHECK (s_login ("carol", "secret", cookie, sizeof cookie, NULL) == 429,
           "the right password let through while refused");
    CHECK (file_has_text (web_process_log (s_web), "failed logins from 127.0.0.1: refusing"),
           "not logged");
}

//  Behind a TLS-terminating proxy (trusted_proxies): what it says of the
//  scheme makes the cookie Secure and the https Origin ours.
static void
s_behind_proxy (void)
{
    TEST ("behind a trusted proxy saying X-Forwarded-Proto: https: Secure, https Origin");
    char extra [4400];
    snprintf (extra, sizeof extra, "    users = \"%s\"\n    admins = alice\n"
              "    trusted_proxies = 127.0.0.1\n", s_users);
    web_process_destroy (&s_web, false);
    s_web = web_process_new (s_bed->sandbox, s_bed->broker, extra);
    if (!CHECK (s_web && web_process_start (s_web) == 0, "lilac-web did not start"))
        return;
    char url [1024], headers [512];
    snprintf (url, sizeof url, "%s/api/session", web_process_base (s_web));
    snprintf (headers, sizeof headers, "X-Forwarded-Proto: https");
    http_options_t options = { .body = "{\"user\":\"alice\",\"password\":\"looking-glass\"}",
                               .header = headers };
    http_result_t result;
    http_call (sandbox_dir (s_bed->sandbox), "POST", url, &options, &result);
    CHECK (result.code == 200 && text_has (result.headers, "; Secure"), "%ld %s", result.code,
           result.headers);
    char cookie [512] = "";
    const char *at = result.headers ? strstr (result.headers, "lilac_session=") : NULL;
    if (at)
        snprintf (cookie, sizeof cookie, "%.*s", (int) strcspn (at + 14, ";\r\n"), at + 14);
    http_result_free (&result);
    const char *host = web_process_base (s_web) + strlen ("http://");
    snprintf (url, sizeof url, "%s/api/alerts/web-host/disk/ack", web_process_base (s_web));
    char more [1024];
    snprintf (more, sizeof more, "X-Forwarded-Proto: https\nCookie: lilac_session=%s\n"
              "Origin: https://%s", cookie, host);
    options = (http_options_t) { .body = "{}", .header = more };
    http_call (sandbox_dir (s_bed->sandbox), "POST", url, &options, &result);
    CHECK (result.code == 200, "https Origin through the proxy: %ld %s", result.code,
           result.body);
    http_result_free (&result);
    snprintf (more, sizeof more, "X-Forwarded-Proto: https\nCookie: lilac_session=%s\n"
              "Origin: http://%s", cookie, host);
    http_call (sandbox_dir (s_bed->sandbox), "POST", url, &options, &result);
    CHECK (result.code == 403, "http Origin when the proxy says https: %ld", result.code);
    http_result_free (&result);
}

//  SIGHUP (systemctl reload) reads the users file again: a new password
//  works without a restart, the old one no longer does; a users file
//  broken meanwhile keeps the running users, and says so in the log.
static void
s_reload (void)
{
    TEST ("SIGHUP: a new password works at once; a broken users file keeps the running users");
    char cookie [512];
    CHECK (s_user_add ("alice", "mirror\n") == 0, "user add");
    CHECK (s_login ("alice", "looking-glass", cookie, sizeof cookie, NULL) == 200,
           "the running users changed before the reload");
    CHECK (kill (web_process_pid (s_web), SIGHUP) == 0
           && file_wait_count (web_process_log (s_web), "SIGHUP: reloaded users", 1, 5000) == 0,
           "no reload logged");
    CHECK (s_login ("alice", "mirror", cookie, sizeof cookie, NULL) == 200, "the new password");
    CHECK (s_login ("alice", "looking-glass", cookie, sizeof cookie, NULL) == 401,
           "the old password still works");
    char *users = file_read_all (s_users);
    char broken [8192];
    snprintf (broken, sizeof broken, "%sno hash here\n", users ? users : "");
    free (users);
    CHECK (file_write_text (s_users, broken) == 0
           && kill (web_process_pid (s_web), SIGHUP) == 0
           && file_wait_count (web_process_log (s_web), "keeping the running users", 1, 5000) == 0,
           "a broken users file not reported");
    CHECK (file_has_text (web_process_log (s_web), "not NAME:HASH"), "the reason not logged");
    CHECK (s_login ("alice", "mirror", cookie, sizeof cookie, NULL) == 200,
           "the running users were dropped");
}

int
main (void)
{
    s_bed = testbed_new ("web-session", NULL);
    if (!s_bed) {
        TEST ("testbed");
        CHECK (false, "no testbed");
        return check_done ();
    }
    TEST ("lilac-web with users starts");
    s_users = sandbox_path (s_bed->sandbox, "users");
    char extra [4400];
    snprintf (extra, sizeof extra, "    users = \"%s\"\n    admins = alice\n"
              "    readers = carol\n    session_lifetime = 2h\n", s_users);
    s_web = web_process_new (s_bed->sandbox, s_bed->broker, extra);
    if (CHECK (s_web && file_write_text (s_users, "") == 0, "no lilac-web")
    &&  CHECK (s_user_add ("alice", "wonderland\n") == 0
               && s_user_add ("carol", "secret\n") == 0, "users")
    &&  CHECK (web_process_start (s_web) == 0, "lilac-web did not start")) {
        char alice [512], carol [512];
        const char *origin = web_process_base (s_web);
        s_login_form (alice, sizeof alice);
        CHECK (s_login ("carol", "secret", carol, sizeof carol, NULL) == 200, "carol");
        s_session_acts (alice, origin);
        s_forged (alice, carol, origin);
        s_restart (alice, origin);
        s_rate_limit ();
        s_behind_proxy ();
        s_reload ();
    }
    bool failed = check_failed > 0 || check_case_failed;
    web_process_destroy (&s_web, failed);
    free (s_users);
    testbed_destroy (&s_bed, failed);
    return check_done ();
}
