/*  web_config.h — lilac-web's settings, read from a ZPL file.

    Section `web`:
      listen       ADDR:PORT the HTTP server binds (default 127.0.0.1:32744)
      control      the broker's control endpoint
      events       the broker's publish endpoint
      state_dir    where lilac-web keeps its own state (session.key)
      tls_cert, tls_key   PEM files: HTTPS instead of HTTP (loaded as a pair
                   with GnuTLS at -n and start: a foreign or non-PEM key
                   is an error)
      insecure     yes: may listen beyond loopback without TLS
      max_connections  HTTP connections at once, SSE streams included
                   (default WEB_DEFAULT_MAX_CONNECTIONS: room for the most
                   streams lilac-web allows, STREAM_CLIENTS_MAX, and as many
                   other requests again, so streams never lock out ingest or
                   /healthz); the descriptor limit is raised to fit
      users        an htpasswd file (bcrypt entries): HTTP Basic users
      tokens       a file of API tokens (auth.h)
      admins, readers, senders   which users have which role (lists)
      cert, server_key   CURVE to a secured broker: lilac-web's secret
                   certificate (`lilac keygen web --role gateway`) and the
                   broker's public key; both or neither
      source_label the Alertmanager label naming an alert's source
                   (default "instance"; without it, the sender's address)
      severity_levels  Alertmanager's severity label → level, as
                   "critical=urgent page=urgent warning=normal info=low"
                   (that is the default; another severity: no level)
      session_lifetime  how long a browser's login lasts (default 12h; a
                   duration as timespec.h reads it)
      server_names the names (a list) lilac-web answers to with
                   authentication off, beyond addresses and localhost (a
                   browser led there under another name is refused, 421:
                   DNS rebinding)
      trusted_proxies  addresses (a list) of reverse proxies whose
                   X-Forwarded-For names the client; from anyone else the
                   header is ignored
      own_source, own_name, heartbeat  lilac-web's heartbeat alert at the
                   broker (own_alerts.h): OWN_SOURCE/lilac-web/heartbeat
                   raises when lilac-web is not heard from for 5m
    Every problem goes to one config_report (file:line), for -n and start
    alike. Listening beyond loopback needs TLS or `insecure = yes`: the API
    acknowledges alerts and takes events, and passwords would cross the
    network in the clear.
*/
#ifndef LILAC_WEB_CONFIG_H
#define LILAC_WEB_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include "config_report.h"
#include "own_alerts.h"

#define WEB_DEFAULT_LISTEN  "127.0.0.1:32744"
#define WEB_DEFAULT_MAX_CONNECTIONS  4096
#define WEB_FD_MARGIN       64      //  descriptors lilac-web needs beside its connections

typedef struct {
    char *config_file;             //  where these came from, or NULL
    char *listen;                  //  ADDR:PORT
    char *listen_at;               //  "FILE:LINE" or "--listen" of listen, or NULL
    char *control;                 //  the broker's control endpoint
    char *events;                  //  the broker's publish endpoint
    char *state_dir;               //  lilac-web's state
    char *tls_cert;                //  PEM certificate file, or NULL
    char *tls_key;                 //  PEM key file, or NULL
    bool insecure;                 //  may listen beyond loopback without TLS
    int64_t max_connections;       //  HTTP connections at once
    char *users_file;              //  htpasswd (bcrypt) file, or NULL
    char *tokens_file;             //  API tokens file, or NULL
    char *admins;                  //  users with role admin (comma-separated), or NULL
    char *readers;                 //  ... reader
    char *senders;                 //  ... sender
    char *source_label;            //  Alertmanager: the label naming the source
    char *cert;                    //  CURVE: lilac-web's secret certificate (role gateway), or NULL
    char *server_key;              //  CURVE: the broker's public key or certificate, or NULL
    char *trusted_proxies;         //  numeric addresses, comma or space separated, or NULL
    char *severity_levels;         //  "SEVERITY=LEVEL ...", or NULL for the default
    char *server_names;            //  Host names accepted with authentication off, or NULL
    int64_t session_lifetime_ms;   //  a browser session lasts this long
    own_settings_t own;            //  own_source, own_name, heartbeat (own_alerts.h)
} web_config_t;

#define WEB_DEFAULT_SOURCE_LABEL  "instance"

//  Defaults, then the `web` section of path (NULL: defaults only). Every
//  problem into report. 0, or -1 when it added errors.
int web_config_load (web_config_t *config, const char *path, config_report_t *report);
//  What a start needs beyond the file's syntax: listen parses and is
//  loopback unless TLS or insecure; the endpoints name a transport; the TLS
//  files are readable and a pair; the descriptor limit fits max_connections
//  (a warning); the state directory can be made. Into report;
//  *exposed says whether listen is beyond loopback.
void web_config_verify (web_config_t *config, bool *exposed, config_report_t *report);
//  Parses "ADDR:PORT" ("[::1]:PORT" for IPv6) into a socket address.
//  0, or -1 with why in error.
struct sockaddr_storage;
int web_listen_address (const char *listen, struct sockaddr_storage *address,
                        char *error, size_t error_size);
void web_config_free (web_config_t *config);

#endif
