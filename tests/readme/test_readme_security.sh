#!/bin/bash
# tests/readme/test_readme_security.sh — the README's Security walkthrough,
# run as written: its ```sh blocks taken from README.md at run time, and
# its broker config block appended to configs/broker.conf.
#
# The walkthrough is for an installed lilac: it writes /etc/lilac/keys,
# gives the broker's secret to the user lilac and reloads the broker with
# systemctl. The test runs it in private mount and network namespaces: /etc
# is an overlay (what the walkthrough writes, and the user lilac that
# systemd-sysusers makes from configs/lilac.sysusers, stay in the
# namespace), the loopback is its own. There is no systemd
# here: a `systemctl` on PATH stands in for `systemctl reload lilac-broker`
# (SIGHUP to the pid in the database's lock file, what the unit's
# ExecReload does). The broker runs as the user lilac, so the chown line
# matters; the last command, an admin's `lilac list` over CURVE, must
# succeed, and a stranger's certificate must be refused.
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${LILAC_BIN:-bin}
case $bin in /*) ;; *) bin=$repo/$bin ;; esac
scratch=$(mktemp -d "${TMPDIR:-/tmp}/lilac-readme-security.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/work" "$scratch/upper" "$scratch/overlay-work" "$scratch/shim"
chmod 0755 "$scratch" "$scratch/work"

awk -v dir="$scratch/work" '
    /^## / { in_part = ($0 == "## Security") }
    in_part && /^```sh$/ { block++; file = dir "/block-" block ".sh"; printf "" > file; next }
    in_part && /^```$/ && config { config = 0; config_done = 1; next }
    in_part && /^```$/ && !file && !config_done { config = 1; next }
    in_part && /^```$/ && file { close (file); file = ""; next }
    config { print >> (dir "/security.conf") }
    file { print >> file }
' "$repo/README.md"
blocks=$(ls "$scratch"/work/block-*.sh 2>/dev/null | wc -l)
if [ "$blocks" -ne 2 ] || [ ! -s "$scratch/work/security.conf" ]; then
    echo "not ok - the README's Security walkthrough has $blocks sh blocks and" \
         "$( [ -s "$scratch/work/security.conf" ] && echo a || echo no) config block; this test knows 2 and 1"
    exit 1
fi
cat >"$scratch/shim/systemctl" <<'SHIM'
#!/bin/sh
# systemctl reload lilac-broker, without systemd: the unit's ExecReload.
[ "$1" = reload ] && [ "$2" = lilac-broker ] || { echo "systemctl stand-in: only reload lilac-broker" >&2; exit 1; }
kill -HUP "$(head -n 1 "$LILAC_TEST_LOCK")"
SHIM
chmod 0755 "$scratch/shim/systemctl"

# shellcheck disable=SC2016
script='
set -u
repo=$1; bin=$2; scratch=$3
ip link set lo up
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$scratch/upper,workdir=$scratch/overlay-work" /etc
result () { echo "$1 - $2"; }
systemd-sysusers "$repo/configs/lilac.sysusers" >/dev/null 2>&1
lilac_uid=$(id -u lilac 2>/dev/null)
cd "$scratch/work"
export PATH="$scratch/shim:$bin:$PATH" LILAC_TEST_LOCK="$scratch/work/db/lilac.db.lock"
if bash -e block-1.sh >out-1 2>&1; then result ok "security: keys made, the broker'"'"'s given to lilac, clients copied"
else result "not ok" "security: keys made, the broker'"'"'s given to lilac, clients copied: $(tail -n 3 out-1 | tr "\n" " ")"; fi
mkdir -p db && chown lilac: db
{ sed "s|^    database = .*|    database = $scratch/work/db/lilac.db|" "$repo/configs/broker.conf"; cat security.conf; } >broker.conf
setpriv --reuid="$lilac_uid" --regid="$lilac_uid" --clear-groups "$bin/lilac-broker" -c broker.conf >broker.log 2>&1 &
broker=$!
for attempt in $(seq 100); do grep -q "ready:" broker.log && break; sleep 0.1; done
if grep -q "ready:" broker.log && ! lilac list >out-plain 2>&1 && grep -q "wants CURVE" out-plain; then
    result ok "security: the broker, as lilac, reads its secret and starts with CURVE (plaintext refused)"
else
    result "not ok" "security: the broker, as lilac, starts with CURVE: $(tail -n 3 broker.log | tr "\n" " ") / $(cat out-plain 2>&1 | tr "\n" " ")"
fi
if bash -e block-2.sh >out-2 2>&1 && grep -q "reloaded" broker.log; then
    result ok "security: reloaded (SIGHUP to its lock file'"'"'s pid); the admin lists over CURVE"
else
    result "not ok" "security: reload and list: $(tail -n 3 out-2 | tr "\n" " ") / $(tail -n 2 broker.log | tr "\n" " ")"
fi
lilac keygen stranger -d keys >/dev/null
if ! lilac --cert keys/stranger_secret --server-key /etc/lilac/keys/broker list >out-3 2>&1 \
   && grep -q "refused this client" out-3; then result ok "security: a certificate not copied to clients is refused"
else result "not ok" "security: a stranger is refused: $(cat out-3 | tr "\n" " ")"; fi
kill -TERM $broker; wait $broker
'
output=$(unshare --mount --net --propagation private --fork bash -c "$script" run "$repo" "$bin" "$scratch" 2>&1)
echo "$output" | grep -E '^(ok|not ok) - '
if echo "$output" | grep -q '^not ok - ' || [ "$(echo "$output" | grep -cE '^(ok|not ok) - ')" -ne 4 ]; then
    echo "$output" | grep -vE '^(ok|not ok) - ' | sed 's/^/# /' | tail -n 20
    exit 1
fi
