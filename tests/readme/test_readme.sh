#!/bin/bash
# tests/readme/test_readme.sh — the README's five-minute tour, run as
# written, so it cannot drift from what lilac does.
#
# The commands are the README's own: every ```sh block of the section
# "A five-minute tour", taken from README.md at run time, each run by bash
# from the checkout as a reader would paste it. The first block (`make
# run`, "in one terminal") and the second (`bin/lilac tap`, "in a second")
# run in the background; the rest in order, each expected to succeed, and
# between them the test waits for what the prose says happens (tap shows
# the heartbeat pending, then raised) with a deadline. The whole runs in a
# private network namespace (its own loopback: the shipped ports cannot
# meet another broker) and mount namespace (an empty var/ over the
# checkout's, an empty /tmp, and /var/lib an overlay: the tour's database,
# the agent's sockets and its state in /var/lib/lilac-agent are its own;
# nothing is left on the host). The agent hands the script's alert on to
# the broker after answering it, so the last `lilac list` is repeated
# until it shows the alert (10 s at most). `make run` uses the binaries under test: with
# LILAC_BIN other than bin/ (make asan), those are bound over bin/ and make
# is told they are up to date. Needs root (unshare), as make test does.
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${LILAC_BIN:-bin}
case $bin in /*) ;; *) bin=$repo/$bin ;; esac
#  Not under /tmp: the namespace covers /tmp, and this must stay reachable
scratch=$(mktemp -d /var/tmp/lilac-readme.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# The tour's ```sh blocks, one file each: scratch/var/block-N.sh. Inside the
# namespace scratch/var is the checkout's var/ (the empty /tmp hides the rest).
mkdir -p "$scratch/var" "$scratch/tmp" "$scratch/lib-upper" "$scratch/lib-work" "$scratch/repo"
awk -v dir="$scratch/var" '
    /^## / { in_tour = ($0 == "## A five-minute tour") }
    in_tour && /^```sh$/ { block++; file = dir "/block-" block ".sh"; printf "" > file; next }
    in_tour && /^```$/ && file { close (file); file = ""; next }
    file { print >> file }
' "$repo/README.md"
blocks=$(ls "$scratch"/var/block-*.sh 2>/dev/null | wc -l)

# shellcheck disable=SC2016
script='
set -u
repo=$1; bin=$2; host=$3
ip link set lo up
mkdir -p "$repo/var"
#  A checkout under /tmp (a CI clone) is held aside and put back on top of
#  the empty /tmp, at the same path.
mount -t overlay overlay -o "lowerdir=/var/lib,upperdir=$host/lib-upper,workdir=$host/lib-work" /var/lib \
&& mount --bind "$repo" "$host/repo" && mount --bind "$host/tmp" /tmp \
&& { [ -d "$repo" ] || { mkdir -p "$repo" && mount --bind "$host/repo" "$repo"; }; } \
&& mount --bind "$host/var" "$repo/var" \
|| { echo "not ok - tour: the namespace could not be set up (mounts failed)"; exit 1; }
scratch=$repo/var
chmod 1777 /tmp
if [ "$bin" != "$repo/bin" ]; then
    mkdir -p "$repo/bin"
    mount --bind "$bin" "$repo/bin"
fi
export MAKEFLAGS="$(for program in "$repo"/bin/lilac*; do printf -- "-o bin/%s " "${program##*/}"; done)"
cd "$repo"
result () { echo "$1 - $2"; }
wait_for () {              # SECONDS FILE TEXT: until FILE holds TEXT
    local deadline=$(( $(date +%s) + $1 ))
    until grep -q -- "$3" "$2" 2>/dev/null; do
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.1
    done
}
step () {                  # N WHAT: block N as written, in the foreground
    if bash -e "$scratch/block-$1.sh" >"$scratch/out-$1" 2>&1; then result ok "tour: $2"
    else result "not ok" "tour: $2 (exit $?): $(tail -n 3 "$scratch/out-$1" | tr "\n" " ")"; fi
}
bash "$scratch/block-1.sh" >"$scratch/out-1" 2>&1 &
broker=$!
if wait_for 60 "$scratch/out-1" "ready:"; then result ok "tour: make run starts the broker"
else result "not ok" "tour: make run starts the broker: $(tail -n 3 "$scratch/out-1" | tr "\n" " ")"; fi
bash "$scratch/block-2.sh" >"$scratch/out-2" 2>&1 &
tap=$!
sleep 0.5                  # tap joins the bus at its own pace: the first change may precede it
step 3 "a heartbeat sent and listed"
if wait_for 5 "$scratch/out-3" "heartbeat" && wait_for 10 "$scratch/out-2" " pending .* heartbeat " \
   && wait_for 20 "$scratch/out-2" "raised normal .* heartbeat raised"; then
    result ok "tour: tap shows the heartbeat pending, then raised 10 s later"
else
    result "not ok" "tour: tap shows the heartbeat pending, then raised: $(tail -n 5 "$scratch/out-2" | tr "\n" " ")"
fi
step 4 "acknowledged by alice, then cleared"
step 5 "an ad-hoc check raised and cleared"
step 6 "the agent started; a script submits through its socket; listed"
relayed () { bin/lilac list --source "$(hostname)" | grep -q backup; }      #  the block'"'"'s last line
deadline=$(( $(date +%s) + 10 ))
until relayed || [ "$(date +%s)" -ge "$deadline" ]; do sleep 0.2; done
if relayed; then result ok "tour: the agent relayed the backup alert to the broker"
else result "not ok" "tour: the agent relayed the backup alert: $(cat "$scratch/out-6" | tr "\n" " ")"; fi
kill -TERM $(pgrep -P $tap) $tap 2>/dev/null      #  the block shell and its lilac tap
pkill -TERM -f "lilac-agent -c configs/agent.conf"
kill -TERM $(pgrep -P $broker) $broker 2>/dev/null
pkill -TERM -f "lilac-broker -c configs/broker.conf"
wait
'
if [ "$blocks" -ne 6 ]; then
    echo "not ok - the README's tour has $blocks sh blocks, this test knows 6: update it with the README"
    exit 1
fi
output=$(unshare --mount --net --propagation private --fork bash -c "$script" run "$repo" "$bin" "$scratch" 2>&1)
echo "$output" | grep -E '^(ok|not ok) - '
if echo "$output" | grep -q '^not ok - ' || [ "$(echo "$output" | grep -cE '^(ok|not ok) - ')" -ne 7 ]; then
    echo "$output" | grep -vE '^(ok|not ok) - ' | sed 's/^/# /' | tail -n 20
    for file in "$scratch"/var/out-*; do echo "# --- $(basename "$file") ---"; tail -n 8 "$file" | sed 's/^/# /'; done
    exit 1
fi
