#!/bin/sh
#   notify-example.sh — an example command for lilac-notify-exec.
#
#   lilac-notify-exec runs it once per notification with the change as one
#   line of JSON on stdin (purppura's fields — Subject, Detail, NotifyCount,
#   ... — and lilac's own — event, seq, level, labels, rule, flood, ...), and
#   the key fields in LILAC_* environment variables. Exit 0 means "delivered";
#   anything else makes the notifier retry with back-off.
#
#   This one appends the JSON line to the file named by its first argument
#   (default: standard output, which lilac-notify-exec sends to its log), and
#   prints one readable line on stderr.
#
#   A real one might mail, page or post: `jq -r .Subject` gives the headline,
#   `jq -r .Detail` the text, `[ "$LILAC_NOTIFY_COUNT" -gt 1 ]` a reminder.
set -eu
json=$(cat)
if [ $# -ge 1 ] && [ -n "$1" ]; then
    printf '%s\n' "$json" >> "$1"
else
    printf '%s\n' "$json"
fi
printf 'notify-example: %s %s/%s (%s) seq %s rule %s: %s\n' \
    "${LILAC_EVENT:-?}" "${LILAC_SOURCE:-?}" "${LILAC_ID:-?}" "${LILAC_LEVEL:-?}" \
    "${LILAC_SEQ:-?}" "${LILAC_RULE:-?}" "${LILAC_SUMMARY:-}" >&2
