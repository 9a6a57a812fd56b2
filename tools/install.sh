#!/bin/sh
# tools/install.sh BIN — what `make install` does: lilac's programs (and the
# man pages make built into BIN/man), configs, systemd units, sysusers
# entry and documents into DESTDIR/PREFIX.
#
# The configs in configs/ are written for a checkout (`make run`: a database
# in var/, the agent's socket in /tmp); installed, their paths become the
# system's: state in /var/lib/lilac (the agent's in /var/lib/lilac-agent, as
# it runs as the user lilac, not root), the agent's sockets in /run/lilac, the
# example notify command in PREFIX/share/lilac. The units name /usr/sbin
# and /usr/share/doc; installed, PREFIX's.
#
# An installed config is never overwritten: when one is there and differs
# from the new one (an admin edited it), it is kept and the new one is
# written beside it as FILE.dist, and a line says so. The same files are
# what the Debian packages ship (their conffiles are dpkg's business).
#
# Environment: DESTDIR (a staging root, default none), PREFIX (/usr/local),
# SYSCONFDIR (/etc), UNITDIR (PREFIX/lib/systemd/system).
set -eu
bin=${1:?usage: tools/install.sh BIN}
here=$(cd "$(dirname "$0")/.." && pwd)
destdir=${DESTDIR:-}
prefix=${PREFIX:-/usr/local}
sysconfdir=${SYSCONFDIR:-/etc}
unitdir=${UNITDIR:-$prefix/lib/systemd/system}

paths () {                  # the checkout's paths → the installed ones
    sed -e "s|= var/|= /var/lib/lilac/|" \
        -e "s|\"configs/notify-example.sh var/|\"$prefix/share/lilac/notify-example.sh /var/lib/lilac/|" \
        -e "s|ipc:///tmp/lilac-agent|ipc:///run/lilac/agent|" \
        -e "s|^    #   state_dir = /var/lib/lilac-agent\$|    state_dir = /var/lib/lilac-agent|" \
        -e "s|/usr/sbin/|$prefix/sbin/|g" \
        -e "s|/usr/share/doc/lilac|$prefix/share/doc/lilac|g" "$1"
}

install -d "$destdir$prefix/bin" "$destdir$prefix/sbin" "$destdir$sysconfdir/lilac" \
           "$destdir$unitdir" "$destdir$prefix/share/doc/lilac" "$destdir$prefix/share/lilac" \
           "$destdir$prefix/share/doc/lilac-agent" \
           "$destdir$prefix/lib/sysusers.d"
install -m 0755 "$bin/lilac" "$destdir$prefix/bin/"
for program in "$bin"/lilac-*; do
    install -m 0755 "$program" "$destdir$prefix/sbin/"
done
install -m 0644 "$here/README.md" "$here/docs/architecture.md" "$destdir$prefix/share/doc/lilac/"
install -m 0644 "$here/README.md" "$destdir$prefix/share/doc/lilac-agent/"   # the agent's unit links it
install -m 0755 "$here/configs/notify-example.sh" "$destdir$prefix/share/lilac/"
for page in "$bin"/man/*.[158]; do                  # built by make from docs/man
    section=${page##*.}
    install -d "$destdir$prefix/share/man/man$section"
    install -m 0644 "$page" "$destdir$prefix/share/man/man$section/"
done
install -m 0644 "$here/configs/lilac.sysusers" "$destdir$prefix/lib/sysusers.d/lilac.conf"
for unit in "$here"/configs/*.service; do
    paths "$unit" >"$destdir$unitdir/$(basename "$unit")"
    chmod 0644 "$destdir$unitdir/$(basename "$unit")"
done
for config in "$here"/configs/*.conf; do
    target=$destdir$sysconfdir/lilac/$(basename "$config")
    fresh=$(mktemp)
    paths "$config" >"$fresh"
    if [ ! -e "$target" ]; then
        install -m 0644 "$fresh" "$target"
    elif ! cmp -s "$fresh" "$target"; then
        install -m 0644 "$fresh" "$target.dist"
        echo "install: kept $target (edited); the new one is $target.dist"
    fi
    rm -f "$fresh"
done
