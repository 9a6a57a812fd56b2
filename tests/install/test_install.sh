#!/bin/bash
# tests/install/test_install.sh — lilac as `make install` and the Debian
# packages lay it out, and its systemd units, checked without touching the
# host (no package installed, no user made, nothing written outside a
# scratch directory but the packaging's own build files in debian/, which
# dh_clean removes).
#
# Cases:
#   - tools/install.sh (what `make install` runs) into a scratch root
#     (DESTDIR, PREFIX=/usr): the file list and every mode, the system's
#     paths in configs and units;
#   - an edited config survives a second install (the new one beside it as
#     .dist, said), an unedited one is left alone;
#   - `debian/rules binary` builds lilac and lilac-agent (no test suite
#     inside), each with its file list, modes and conffiles; their
#     maintainer scripts make the user lilac (systemd-sysusers) and enable
#     and start the services; lintian finds nothing. The packages are unpacked (dpkg -x) into a package root and
#     the postinst's user made there (systemd-sysusers --root);
#   - `systemd-analyze verify --root` passes every unit of the package root
#     without a word, their man pages found there (the root gets the host's
#     own systemd units and /bin/kill, as on a real system); `systemd-analyze security --offline`
#     rates the broker, lilac-web, both notifiers and the agent at most 2.5;
#   - the services start as shipped: each unit's ExecStart line, with its
#     UMask and WorkingDirectory, run as the package root's user lilac in a
#     chroot of that root (the host's libraries and /usr/bin bound in
#     read-only, inside a private mount namespace), its state directories
#     made as systemd's StateDirectory= would. An event sent with the
#     installed `lilac` reaches the broker, lilac-web's API and the exec
#     notifier's command; one sent through the agent's socket by another
#     uid of the group lilac (the socket is 0660, group only) does too;
#     every service exits 0 on SIGTERM.
# There is no systemd PID 1 here, so that is as far as "starts" can be shown.
# The installed configs use the shipped ports (32741-32744): the services
# run in a network namespace of their own, so no other lilac on the machine
# is in the way. Needs root (chroot, mount, unshare), as make test does.
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${LILAC_BIN:-bin}
case $bin in /*) ;; *) bin=$repo/$bin ;; esac
root=$(mktemp -d "${TMPDIR:-/tmp}/lilac-install.XXXXXX")
chmod 0755 "$root"                     # a root file system, open to its users
top=$root                              # the scratch directory, whatever root becomes
failures=0
pkgroot=$root/package                  # the packages, unpacked (inside the first root:
                                       # the file list of case 1 is taken before)
sender_uid=64742                       # a script's user, in group lilac

ok () { echo "ok - $1"; }
not_ok () { echo "not ok - $1"; shift; for line in "$@"; do echo "#   $line"; done; failures=$((failures + 1)); }
finish () {
    (cd "$repo" && dh_clean >/dev/null 2>&1)
    if [ "$failures" -eq 0 ]; then rm -rf "$top"; else echo "# scratch directory kept: $top"; fi
}
trap finish EXIT

# --- 1. the layout ---------------------------------------------------------------
DESTDIR=$root PREFIX=/usr "$repo/tools/install.sh" "$bin" >"$root.install.log" 2>&1
status=$?
expected="0644 etc/lilac/agent.conf
0644 etc/lilac/broker.conf
0644 etc/lilac/notify-email.conf
0644 etc/lilac/notify-exec.conf
0644 etc/lilac/notify-pushover.conf
0644 etc/lilac/notify-webhook.conf
0644 etc/lilac/web.conf
0755 usr/bin/lilac
0644 usr/lib/systemd/system/lilac-agent.service
0644 usr/lib/systemd/system/lilac-broker.service
0644 usr/lib/systemd/system/lilac-notify@.service
0644 usr/lib/systemd/system/lilac-web.service
0644 usr/lib/sysusers.d/lilac.conf
0755 usr/sbin/lilac-agent
0755 usr/sbin/lilac-broker
0755 usr/sbin/lilac-notify-email
0755 usr/sbin/lilac-notify-exec
0755 usr/sbin/lilac-notify-pushover
0755 usr/sbin/lilac-notify-webhook
0755 usr/sbin/lilac-web
0644 usr/share/doc/lilac-agent/README.md
0644 usr/share/doc/lilac/README.md
0644 usr/share/doc/lilac/architecture.md
0755 usr/share/lilac/notify-example.sh
0644 usr/share/man/man1/lilac.1
0644 usr/share/man/man5/lilac.conf.5
0644 usr/share/man/man8/lilac-agent.8
0644 usr/share/man/man8/lilac-broker.8
0644 usr/share/man/man8/lilac-notify-email.8
0644 usr/share/man/man8/lilac-notify-exec.8
0644 usr/share/man/man8/lilac-notify-pushover.8
0644 usr/share/man/man8/lilac-notify-webhook.8
0644 usr/share/man/man8/lilac-web.8"
found=$(cd "$root" && find . -type f -printf '%m %P\n' | sed 's/^\([0-7][0-7][0-7]\) /0\1 /' | LC_ALL=C sort -k2)
if [ "$status" -eq 0 ] && [ "$found" = "$expected" ] \
   && grep -q '^    database = /var/lib/lilac/lilac.db$' "$root/etc/lilac/broker.conf" \
   && grep -q '^    listen = ipc:///run/lilac/agent.sock$' "$root/etc/lilac/agent.conf" \
   && grep -q '^ExecStart=/usr/sbin/lilac-web -c /etc/lilac/web.conf$' \
              "$root/usr/lib/systemd/system/lilac-web.service"; then
    ok "install: the file list, modes, and the system's paths in configs and units"
else
    not_ok "install: the file list, modes, and the system's paths in configs and units" \
        "install.sh exit $status: $(tail -n 3 "$root.install.log")" \
        "found:" "$found"
fi
rm -f "$root.install.log"

# --- 2. configs are the admin's --------------------------------------------------
conf=$root/etc/lilac
web_before=$(stat -c %Y "$conf/web.conf")
echo "# edited by the admin" >>"$conf/broker.conf"
said=$(DESTDIR=$root PREFIX=/usr "$repo/tools/install.sh" "$bin" 2>&1)
if grep -q '^# edited by the admin$' "$conf/broker.conf" && [ -f "$conf/broker.conf.dist" ] \
   && ! grep -q 'edited' "$conf/broker.conf.dist" && [ ! -e "$conf/web.conf.dist" ] \
   && [ "$(stat -c %Y "$conf/web.conf")" = "$web_before" ] \
   && [[ $said == *"kept $conf/broker.conf (edited); the new one is $conf/broker.conf.dist"* ]]; then
    ok "a second install keeps an edited config (the new one as .dist, said) and leaves the others"
else
    not_ok "a second install keeps an edited config (the new one as .dist, said) and leaves the others" \
        "install said: $said" "$(ls "$conf")"
fi
mv "$conf/broker.conf.dist" "$conf/broker.conf"

# --- 3. the packages -----------------------------------------------------------------
debs=$root/debs
mkdir -p "$debs" "$pkgroot"
(cd "$repo" && LILAC_DEB_DIR=$debs debian/rules binary) >"$root/deb.log" 2>&1
status=$?
listing () { dpkg-deb -c "$1" | awk '$6 !~ /\/$/ { print $1, $6 }' | LC_ALL=C sort -k2; }
control () { dpkg-deb -e "$1" "$root/control" && cat "$root/control/$2"; rm -rf "$root/control"; }
lilac_deb=$(ls "$debs"/lilac_*_*.deb 2>/dev/null)
agent_deb=$(ls "$debs"/lilac-agent_*_*.deb 2>/dev/null)
lilac_expected="-rw-r--r-- ./etc/lilac/broker.conf
-rw-r--r-- ./etc/lilac/notify-email.conf
-rw-r--r-- ./etc/lilac/notify-exec.conf
-rw-r--r-- ./etc/lilac/notify-pushover.conf
-rw-r--r-- ./etc/lilac/notify-webhook.conf
-rw-r--r-- ./etc/lilac/web.conf
-rw-r--r-- ./lib/systemd/system/lilac-broker.service
-rw-r--r-- ./lib/systemd/system/lilac-notify@.service
-rw-r--r-- ./lib/systemd/system/lilac-web.service
-rwxr-xr-x ./usr/sbin/lilac-broker
-rwxr-xr-x ./usr/sbin/lilac-notify-email
-rwxr-xr-x ./usr/sbin/lilac-notify-exec
-rwxr-xr-x ./usr/sbin/lilac-notify-pushover
-rwxr-xr-x ./usr/sbin/lilac-notify-webhook
-rwxr-xr-x ./usr/sbin/lilac-web
-rw-r--r-- ./usr/share/doc/lilac/README.md
-rw-r--r-- ./usr/share/doc/lilac/architecture.md
-rw-r--r-- ./usr/share/doc/lilac/changelog.gz
-rw-r--r-- ./usr/share/doc/lilac/copyright
-rwxr-xr-x ./usr/share/lilac/notify-example.sh
-rw-r--r-- ./usr/share/man/man5/lilac.conf.5.gz
-rw-r--r-- ./usr/share/man/man8/lilac-broker.8.gz
-rw-r--r-- ./usr/share/man/man8/lilac-notify-email.8.gz
-rw-r--r-- ./usr/share/man/man8/lilac-notify-exec.8.gz
-rw-r--r-- ./usr/share/man/man8/lilac-notify-pushover.8.gz
-rw-r--r-- ./usr/share/man/man8/lilac-notify-webhook.8.gz
-rw-r--r-- ./usr/share/man/man8/lilac-web.8.gz"
agent_expected="-rw-r--r-- ./etc/lilac/agent.conf
-rw-r--r-- ./lib/systemd/system/lilac-agent.service
-rwxr-xr-x ./usr/bin/lilac
-rw-r--r-- ./usr/lib/sysusers.d/lilac-agent.conf
-rwxr-xr-x ./usr/sbin/lilac-agent
-rw-r--r-- ./usr/share/doc/lilac-agent/README.md
-rw-r--r-- ./usr/share/doc/lilac-agent/changelog.gz
-rw-r--r-- ./usr/share/doc/lilac-agent/copyright
-rw-r--r-- ./usr/share/man/man1/lilac.1.gz
-rw-r--r-- ./usr/share/man/man8/lilac-agent.8.gz"
if [ "$status" -eq 0 ] && [ -n "$lilac_deb" ] && [ -n "$agent_deb" ] \
   && [ "$(listing "$lilac_deb")" = "$lilac_expected" ] \
   && [ "$(listing "$agent_deb")" = "$agent_expected" ] \
   && [ "$(control "$lilac_deb" conffiles | sort)" = "$(printf '/etc/lilac/%s\n' broker.conf notify-email.conf notify-exec.conf notify-pushover.conf notify-webhook.conf web.conf)" ] \
   && [ "$(control "$agent_deb" conffiles)" = "/etc/lilac/agent.conf" ] \
   && dpkg-deb -f "$lilac_deb" Depends | grep -q 'lilac-agent (= '; then
    ok "packages: lilac and lilac-agent, their files, modes and conffiles (lilac needs lilac-agent)"
else
    not_ok "packages: lilac and lilac-agent, their files, modes and conffiles (lilac needs lilac-agent)" \
        "debian/rules binary exit $status: $(tail -n 5 "$root/deb.log")" \
        "lilac: $(listing "$lilac_deb" 2>&1)" "lilac-agent: $(listing "$agent_deb" 2>&1)"
fi
agent_postinst=$(control "$agent_deb" postinst 2>&1)
lilac_postinst=$(control "$lilac_deb" postinst 2>&1)
if [[ $agent_postinst == *"systemd-sysusers"*"lilac-agent.conf"* ]] \
   && [[ $agent_postinst == *"deb-systemd-helper enable 'lilac-agent.service'"* ]] \
   && [[ $lilac_postinst == *"enable 'lilac-broker.service'"* ]] \
   && [[ $lilac_postinst == *"enable 'lilac-web.service'"* ]] \
   && [[ $lilac_postinst == *"deb-systemd-invoke \$_dh_action 'lilac-broker.service'"* ]]; then
    ok "packages: the postinst makes the user lilac, enables and starts the services"
else
    not_ok "packages: the postinst makes the user lilac, enables and starts the services" \
        "lilac-agent postinst: $agent_postinst" "lilac postinst: $lilac_postinst"
fi
if command -v lintian >/dev/null; then
    tags=$(lintian "$lilac_deb" "$agent_deb" 2>&1 | grep -E '^[EWI]: ')
    if [ -z "$tags" ]; then ok "lintian: not a tag"
    else not_ok "lintian: not a tag" "$tags"; fi
else
    not_ok "lintian: not a tag" "lintian is missing (make deps)"
fi
dpkg -x "$lilac_deb" "$pkgroot" && dpkg -x "$agent_deb" "$pkgroot"
chmod 0755 "$pkgroot"
version=$(dpkg-deb -f "$lilac_deb" Version)
said=$(for program in usr/bin/lilac usr/sbin/lilac-broker usr/sbin/lilac-agent usr/sbin/lilac-web \
                      usr/sbin/lilac-notify-exec usr/sbin/lilac-notify-pushover \
                      usr/sbin/lilac-notify-email usr/sbin/lilac-notify-webhook; do
           "$pkgroot/$program" --version; done 2>&1)
if [ "$(echo "$said" | awk '{ print $2 }' | sort -u)" = "$version" ] \
   && [ "$(echo "$said" | wc -l)" -eq 8 ]; then
    ok "every packaged program's --version is the package's ($version)"
else
    not_ok "every packaged program's --version is the package's ($version)" "$said"
fi
mkdir -p "$pkgroot/etc"
: >"$pkgroot/etc/passwd"; : >"$pkgroot/etc/group"
systemd-sysusers --root="$pkgroot" lilac-agent.conf >"$root/sysusers.log" 2>&1   # the postinst's line
service_uid=$(awk -F: '$1 == "lilac" { print $3 }' "$pkgroot/etc/passwd")
gid=$(awk -F: '$1 == "lilac" { print $3 }' "$pkgroot/etc/group")
if [ -n "$service_uid" ] && [ -n "$gid" ] && [ "$service_uid" -lt 1000 ]; then
    ok "systemd-sysusers, as the postinst runs it, makes the system user lilac ($service_uid:$gid)"
else
    not_ok "systemd-sysusers, as the postinst runs it, makes the system user lilac" \
        "$(cat "$root/sysusers.log")" "passwd: $(cat "$pkgroot/etc/passwd")"
    exit 1
fi

# --- 4. the units ------------------------------------------------------------------
root=$pkgroot
units="lilac-broker.service lilac-web.service lilac-agent.service lilac-notify@pushover.service lilac-notify@exec.service lilac-notify@webhook.service lilac-notify@email.service"
mkdir -p "$root/usr/lib/systemd/system" "$root/bin"
cp -an /usr/lib/systemd/system/. "$root/usr/lib/systemd/system/"   # the system ours run on
cp /bin/kill "$root/bin/kill"                                      # their ExecReload
# shellcheck disable=SC2086
verify=$(MANPATH=$root/usr/share/man systemd-analyze verify --root="$root" $units 2>&1)   # man: ours
if [ $? -eq 0 ] && [ -z "$verify" ]; then
    ok "systemd-analyze verify: every unit, not a warning"
else
    not_ok "systemd-analyze verify: every unit, not a warning" "$verify"
fi
# shellcheck disable=SC2086
scores=$(systemd-analyze security --offline=yes --root="$root" $units 2>&1 \
         | sed -n 's/^→ Overall exposure level for \([^:]*\): \([0-9.]*\).*/\1 \2/p')
high=$(echo "$scores" | awk '$2 > 2.5')
if [ "$(echo "$scores" | wc -l)" -eq 7 ] && [ -z "$high" ]; then
    ok "systemd-analyze security: every unit at most 2.5 ($(echo $scores))"
else
    not_ok "systemd-analyze security: every unit at most 2.5" "scores: $(echo $scores)"
fi

# --- 5. the services start as shipped ------------------------------------------------
# shellcheck disable=SC2016
script='
set -u
root=$1; service=$2; sender=$3; gid=$4; log=$5
ip link set lo up
mkdir -p "$root/usr/lib/x86_64-linux-gnu" "$root/usr/lib64" "$root/dev" "$root/proc" "$root/tmp"
mount --bind -o ro /usr/lib/x86_64-linux-gnu "$root/usr/lib/x86_64-linux-gnu"
mkdir -p "$root/lib/x86_64-linux-gnu"          # the loader is linked there (a package root
mount --bind -o ro /usr/lib/x86_64-linux-gnu "$root/lib/x86_64-linux-gnu"   # has its own /lib)
mount --bind -o ro /usr/lib64 "$root/usr/lib64"
ln -sfn usr/lib64 "$root/lib64"
mount --bind -o ro /usr/bin "$root/bin"
mount --rbind /dev "$root/dev"
mount -t proc proc "$root/proc"
chmod 1777 "$root/tmp"
# What StateDirectory= and RuntimeDirectory= make, owned by the service user.
for dir in var/lib/lilac var/lib/lilac/web var/lib/lilac/notify-exec var/lib/lilac-agent run/lilac; do
    mkdir -p "$root/$dir"; chown "$service:$gid" "$root/$dir"; chmod 0750 "$root/$dir"
done
pids=""
start () {                 # UNIT [INSTANCE]: its ExecStart, as its User would, with its UMask
    local unit=$root/lib/systemd/system/$1
    local line umask
    line=$(sed -n "s/^ExecStart=//p" "$unit"); line=${line//%i/${2:-}}
    umask=$(sed -n "s/^UMask=//p" "$unit")
    (umask "$umask"; exec chroot --userspec="$service:$gid" "$root" \
        env -C "$(sed -n "s/^WorkingDirectory=//p" "$unit" | sed "s/%i/${2:-}/")" PATH=/bin $line) \
        >>"$log/${1%.service}${2:+-$2}.log" 2>&1 &
    pids="$pids $!"
}
as () {                    # UID COMMAND...: the installed programs, as that user
    local uid=$1; shift
    chroot --userspec="$uid:$gid" --groups="$gid" "$root" env PATH=/bin:/usr/bin "$@"
}
wait_for () {              # SECONDS COMMAND...: until it succeeds
    local deadline=$(( $(date +%s) + $1 )); shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.1
    done
}
result () { echo "$1 - $2"; }
start lilac-broker.service
if wait_for 10 as "$service" /usr/bin/lilac stats; then result ok "the broker starts as shipped, as an unprivileged user"
else result "not ok" "the broker starts as shipped, as an unprivileged user"; fi
start lilac-web.service
start lilac-notify@.service exec
start lilac-agent.service
healthy () { curl -fsS -m 2 http://127.0.0.1:32744/healthz; }
alert_listed () { curl -fsS -m 2 "http://127.0.0.1:32744/api/alerts/web1/disk" | grep -q "\"state\":\"raised\""; }
delivered () { grep -q "disk" "$root/var/lib/lilac/notify-exec/notifications.jsonl"; }
synced () { [ -s "$root/var/lib/lilac/notify-exec/cursor" ]; }    #  written once it follows the broker
if wait_for 10 healthy && wait_for 10 synced \
   && as "$service" /usr/bin/lilac send -o web1 -i disk -l urgent --label env=production -s "/ is full" \
   && as "$service" /usr/bin/lilac get web1 disk | grep -q raised \
   && wait_for 10 alert_listed && wait_for 15 delivered; then
    result ok "installed: lilac send reaches the broker, lilac-web'"'"'s API and the exec notifier'"'"'s command"
else
    result "not ok" "installed: lilac send reaches the broker, lilac-web'"'"'s API and the exec notifier'"'"'s command"
fi
socket=$root/run/lilac/agent.sock
submitted () { as "$sender" /usr/bin/lilac send -C ipc:///run/lilac/agent-submit.sock -i backup -r now; }
reached () { as "$service" /usr/bin/lilac get "$(uname -n)" backup; }      # the agent speaks for its host
if wait_for 10 test -S "$socket" \
   && [ "$(stat -c "%a %g" "$socket")" = "660 $gid" ] \
   && wait_for 10 submitted && wait_for 10 reached; then
    result ok "the agent'"'"'s sockets are the group'"'"'s (0660): another user of group lilac sends through it"
else
    result "not ok" "the agent'"'"'s sockets are the group'"'"'s (0660): another user of group lilac sends through it ($(stat -c "%a %g" "$socket" 2>&1))"
fi
bad=""
for pid in $pids; do
    kill -TERM "$pid" 2>/dev/null
done
for pid in $pids; do
    wait "$pid"; status=$?
    [ "$status" -ne 0 ] && bad="$bad $pid:$status"
done
if [ -z "$bad" ]; then result ok "every installed service exits 0 on SIGTERM"
else result "not ok" "every installed service exits 0 on SIGTERM (pid:status$bad)"; fi
'
logs=$top/logs
mkdir -p "$logs"
output=$(unshare --mount --net --propagation private --fork \
         bash -c "$script" run "$root" "$service_uid" "$sender_uid" "$gid" "$logs" 2>&1)
echo "$output" | grep -E '^(ok|not ok) - '
bad=$(echo "$output" | grep -c '^not ok - ')
ran=$(echo "$output" | grep -cE '^(ok|not ok) - ')
if [ "$bad" -ne 0 ] || [ "$ran" -ne 4 ]; then
    failures=$((failures + 1))
    [ "$ran" -ne 4 ] && echo "not ok - installed services: $ran of 4 cases ran"
    echo "$output" | grep -vE '^(ok|not ok) - ' | sed 's/^/# /' | tail -n 20
    for file in "$logs"/*.log; do
        echo "# --- $(basename "$file") ---"
        tail -n 15 "$file" | sed 's/^/# /'
    done
fi
[ "$failures" -eq 0 ]
