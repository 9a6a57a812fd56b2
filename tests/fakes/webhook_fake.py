#!/usr/bin/python3
"""webhook_fake.py — a local stand-in for the chat and push services that
lilac's webhook notifier talks to, checking every request the way each
service documents it.

    webhook_fake.py --port-file F --log L [--script S]
                    [--secret-file K --signature-header H]
    webhook_fake.py --self-test

It listens on 127.0.0.1, port 0 (the kernel picks one), and writes the
port to F (a temporary file renamed into place) once it is listening. For
each request it appends one JSON line to L, flushed at once:
  {"method", "path", "query", "headers" {lower-case names}, "body" (text,
   bad UTF-8 as U+FFFD), "json" (parsed, or null), "format", "problems"
   [...], "status" (the status sent, or "hang")}
The format is guessed from the path:
  /alertmanager...  /slack...  /discord...  /teams...  /_matrix/...
  /ntfy/TOPIC  /gotify/message  /2010-04-01/Accounts/SID/Messages.json
  /lilac...
and the request is checked as that service documents it (required fields
and their types, Content-Type, the credentials, Matrix's PUT path and
txnId, Twilio's form, Discord's limits, Slack's escaping, ntfy's header
encoding and size limit, Alertmanager's version 4 fields and RFC 3339
times, and the HMAC-SHA256 signature in header H when --secret-file is
given: 64 hex digits, "sha256=" in front allowed; the secret is the
file's bytes without one trailing newline). Beyond the documents, it
treats a mention that would ping a whole channel as a problem: lilac
never means to (Slack <!channel> <!here> <!everyone>; Discord @everyone
or @here without allowed_mentions ruling them out). Character limits
count UTF-16 code units, as Twilio's segments and Discord's clients do.
A request with problems is answered 400 with the problems as text.

The script S (read again at every request; missing means all 200) has
one line per coming request, used in order — the fake counts the lines
it has used, blank lines and # comments aside:
  200 | 204 | 500 | 429 Retry-After=2 | 400 some text | hang
i.e. a status, then any Name=Value response headers, then a body text;
`hang` reads the request and never answers (the connection stays open
until the fake exits). A scripted hang holds even a request with
problems; any other line yields to the 400 of a request with problems.
A 2xx is answered as the service answers: Matrix {"event_id": "$…"},
Twilio 201 {"sid": "SM…"}, Gotify {"id": N, …}, ntfy its message,
Discord 204 (200 and the message with ?wait=true), Teams 202, Slack
"ok". The fake keeps Matrix transactions (token, txnId): a retry gets the
same event_id, another body under a used txnId is a problem.

SIGTERM or SIGINT: it stops listening, lets hung connections go, and
exits 0. --self-test starts one in-process and sends a valid and an
invalid request of each format, prints "ok - …" lines and exits 0 when
all passed (run it by hand; it is not part of make test).
"""

import argparse
import base64
import binascii
import datetime
import email.header
import hashlib
import hmac
import http.server
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.parse

FORMATS = [
    ("alertmanager", re.compile(r"^/alertmanager(/|$)")),
    ("slack", re.compile(r"^/slack(/|$)")),
    ("discord", re.compile(r"^/discord(/|$)")),
    ("teams", re.compile(r"^/teams(/|$)")),
    ("matrix", re.compile(r"^/_matrix/")),
    ("ntfy", re.compile(r"^/ntfy/")),
    ("gotify", re.compile(r"^/gotify/message$")),
    ("twilio", re.compile(r"^/2010-04-01/Accounts/")),
    ("lilac", re.compile(r"^/lilac(/|$)")),
]
BODY_MAX = 4 * 1024 * 1024                     # a request body we read, at most
RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?"
                     r"(Z|[+-]\d{2}:\d{2})$")
GO_ZERO_TIME = "0001-01-01T00:00:00Z"
MATRIX_PATH = re.compile(r"^/_matrix/client/v3/rooms/([^/]+)/send/([^/]+)/([^/]+)$")
TWILIO_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9A-Za-z]+)/Messages\.json$")
NTFY_PATH = re.compile(r"^/ntfy/([-_A-Za-z0-9]{1,64})$")
NTFY_PRIORITIES = {"1", "2", "3", "4", "5", "min", "low", "default", "high", "max", "urgent"}
NTFY_BODY_LIMIT = 4096                         # bytes; a longer body becomes an attachment
DISCORD_CONTENT = 2000
DISCORD_TITLE = 256
DISCORD_DESCRIPTION = 4096
DISCORD_EMBEDS_TOTAL = 6000
TWILIO_BODY = 1600
TEAMS_BYTES = 28 * 1024                        # Teams' message size limit


# --- small checks -------------------------------------------------------------------

def utf16_units(text):
    return len(text.encode("utf-16-le")) // 2


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_time(problems, where, value):
    """An RFC 3339 time; returns a datetime or None."""
    if not isinstance(value, str):
        problems.append(f"{where}: not a string")
        return None
    match = RFC3339.match(value)
    if not match:
        problems.append(f"{where}: not an RFC 3339 time: {value!r}")
        return None
    text = value.replace("Z", "+00:00")
    fraction = match.group(7) or ""
    if fraction:                                # Python takes at most 6 digits
        text = text.replace(fraction, fraction[:7].ljust(7, "0"))
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        problems.append(f"{where}: not a valid date: {value!r}")
        return None


def check_string_map(problems, where, value):
    if not isinstance(value, dict):
        problems.append(f"{where}: not an object")
        return
    for key, item in value.items():
        if not isinstance(item, str):
            problems.append(f"{where}.{key}: not a string")


def check_url(problems, where, value, required=True):
    if value is None and not required:
        return
    if not isinstance(value, str) or not re.match(r"^https?://[^\s]+$", value):
        problems.append(f"{where}: not an http(s) URL: {value!r}")


def content_type_is(request, expected):
    value = request["headers"].get("content-type", "")
    return value.split(";")[0].strip().lower() == expected


def require_json(request, problems):
    if not content_type_is(request, "application/json"):
        problems.append(f"Content-Type is {request['headers'].get('content-type')!r},"
                        " not application/json")
    if request["json_error"]:
        problems.append(f"body is not JSON: {request['json_error']}")
        return None
    if not isinstance(request["json"], dict):
        problems.append("body is not a JSON object")
        return None
    return request["json"]


def bearer(request):
    value = request["headers"].get("authorization", "")
    if value.startswith("Bearer ") and value[7:].strip():
        return value[7:].strip()
    return None


# --- one checker per format: (request, problems) -> success answer --------------------
# An answer is (status, headers, body bytes).

def json_answer(status, value):
    return status, {"Content-Type": "application/json"}, json.dumps(value).encode()


def check_alertmanager(request, problems, fake):
    payload = require_json(request, problems)
    if payload is None:
        return 200, {}, b""
    if payload.get("version") != "4":
        problems.append(f"version: {payload.get('version')!r}, not \"4\"")
    for key in ("groupKey", "receiver", "externalURL"):
        if not isinstance(payload.get(key), str):
            problems.append(f"{key}: missing or not a string")
    if not is_int(payload.get("truncatedAlerts")) or payload.get("truncatedAlerts") < 0:
        problems.append("truncatedAlerts: missing or not a count")
    if payload.get("status") not in ("firing", "resolved"):
        problems.append(f"status: {payload.get('status')!r}")
    for key in ("groupLabels", "commonLabels", "commonAnnotations"):
        check_string_map(problems, key, payload.get(key))
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        problems.append("alerts: missing or empty")
        return 200, {}, b""
    firing = False
    for index, alert in enumerate(alerts):
        firing = check_am_alert(problems, f"alerts[{index}]", alert) or firing
    if payload.get("status") in ("firing", "resolved") and \
            (payload.get("status") == "firing") != firing:
        problems.append("status: firing must mean some alert fires")
    return 200, {}, b""


def check_am_alert(problems, where, alert):
    """Checks one alert; True when it fires."""
    if not isinstance(alert, dict):
        problems.append(f"{where}: not an object")
        return False
    status = alert.get("status")
    if status not in ("firing", "resolved"):
        problems.append(f"{where}.status: {status!r}")
    check_string_map(problems, f"{where}.labels", alert.get("labels"))
    check_string_map(problems, f"{where}.annotations", alert.get("annotations"))
    labels = alert.get("labels") if isinstance(alert.get("labels"), dict) else {}
    if not labels.get("alertname"):
        problems.append(f"{where}.labels.alertname: missing")
    starts = check_time(problems, f"{where}.startsAt", alert.get("startsAt"))
    ends = check_time(problems, f"{where}.endsAt", alert.get("endsAt"))
    if status == "resolved" and alert.get("endsAt") == GO_ZERO_TIME:
        problems.append(f"{where}.endsAt: a resolved alert needs its end")
    if status == "resolved" and starts and ends and alert.get("endsAt") != GO_ZERO_TIME \
            and ends < starts:
        problems.append(f"{where}.endsAt: before startsAt")
    if not isinstance(alert.get("generatorURL"), str):
        problems.append(f"{where}.generatorURL: missing or not a string")
    fingerprint = alert.get("fingerprint")
    if not isinstance(fingerprint, str) or not re.match(r"^[0-9a-f]{16}$", fingerprint):
        problems.append(f"{where}.fingerprint: not 16 hex digits: {fingerprint!r}")
    return status == "firing"


SLACK_SEQUENCE = re.compile(r"<(https?://[^|<>\s]+|mailto:[^|<>\s]+|[@#][A-Z0-9]+"
                            r"|!subteam\^[A-Z0-9]+|!date\^[^<>]+)(\|[^<>]*)?>")
SLACK_MENTION = re.compile(r"<!(channel|here|everyone)(\|[^<>]*)?>")


def check_slack_text(problems, where, text):
    """Slack's escaping: & only as &amp; &lt; &gt;; < only opening a
    control sequence; > only closing one or quoting at a line start."""
    for match in SLACK_MENTION.finditer(text):
        problems.append(f"{where}: {match.group(0)} would ping the channel")
    rest = SLACK_SEQUENCE.sub("", SLACK_MENTION.sub("", text))
    for match in re.finditer(r"&(?!(amp|lt|gt);)", rest):
        problems.append(f"{where}: '&' not escaped at {match.start()}")
        break
    if "<" in rest:
        problems.append(f"{where}: '<' not escaped (not a link or mention)")
    if re.search(r"(?<!^)(?<!\n)>", rest):
        problems.append(f"{where}: '>' not escaped")


def check_slack(request, problems, fake):
    payload = require_json(request, problems)
    if payload is None:
        return 200, {"Content-Type": "text/plain"}, b"ok"
    text, blocks = payload.get("text"), payload.get("blocks")
    if not (isinstance(text, str) and text.strip()) and not isinstance(blocks, list):
        problems.append("text: missing or empty (and no blocks)")
    if isinstance(text, str):
        check_slack_text(problems, "text", text)
    if "text" in payload and not isinstance(text, str):
        problems.append("text: not a string")
    return 200, {"Content-Type": "text/plain"}, b"ok"


def check_discord_embed(problems, where, embed):
    """Checks one embed; returns its characters toward the 6000 total."""
    if not isinstance(embed, dict):
        problems.append(f"{where}: not an object")
        return 0
    total = 0
    for key, limit in (("title", DISCORD_TITLE), ("description", DISCORD_DESCRIPTION)):
        value = embed.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            problems.append(f"{where}.{key}: not a string")
            continue
        total += utf16_units(value)
        if utf16_units(value) > limit:
            problems.append(f"{where}.{key}: {utf16_units(value)} characters, over {limit}")
    check_url(problems, f"{where}.url", embed.get("url"), required=False)
    color = embed.get("color")
    if color is not None and (not is_int(color) or not 0 <= color <= 0xFFFFFF):
        problems.append(f"{where}.color: not an integer 0..0xFFFFFF")
    if embed.get("timestamp") is not None:
        check_time(problems, f"{where}.timestamp", embed.get("timestamp"))
    fields = embed.get("fields", [])
    if not isinstance(fields, list) or len(fields) > 25:
        problems.append(f"{where}.fields: not a list of at most 25")
    return total


def check_discord(request, problems, fake):
    payload = require_json(request, problems)
    wait = "true" in request["query_dict"].get("wait", [])
    answer = json_answer(200, {"id": "1", "type": 0, "content": (payload or {}).get("content")}) \
        if wait else (204, {}, b"")
    if payload is None:
        return answer
    content, embeds = payload.get("content"), payload.get("embeds")
    if content is None and not embeds:
        problems.append("neither content nor embeds")
    if content is not None and not isinstance(content, str):
        problems.append("content: not a string")
    elif content is not None and utf16_units(content) > DISCORD_CONTENT:
        problems.append(f"content: {utf16_units(content)} characters, over {DISCORD_CONTENT}")
    if embeds is not None:
        if not isinstance(embeds, list) or len(embeds) > 10:
            problems.append("embeds: not a list of at most 10")
        else:
            total = sum(check_discord_embed(problems, f"embeds[{index}]", embed)
                        for index, embed in enumerate(embeds))
            if total > DISCORD_EMBEDS_TOTAL:
                problems.append(f"embeds: {total} characters, over {DISCORD_EMBEDS_TOTAL}")
    mentions = payload.get("allowed_mentions")
    parse = None
    if mentions is not None:
        parse = mentions.get("parse") if isinstance(mentions, dict) else None
        if not isinstance(parse, list) or any(p not in ("roles", "users", "everyone")
                                              for p in parse):
            problems.append("allowed_mentions.parse: not a list of roles, users, everyone")
    if isinstance(content, str) and re.search(r"@(everyone|here)", content) \
            and (parse is None or "everyone" in parse):
        problems.append("content: @everyone/@here would ping (allowed_mentions does not"
                        " rule it out)")
    return answer


def check_card_element(problems, where, element):
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        problems.append(f"{where}: not an element with a type")
        return
    kind = element["type"]
    if kind == "TextBlock" and not isinstance(element.get("text"), str):
        problems.append(f"{where}.text: missing")
    if kind == "RichTextBlock":
        inlines = element.get("inlines")
        if not isinstance(inlines, list):
            problems.append(f"{where}.inlines: missing")
            return
        for index, run in enumerate(inlines):
            if isinstance(run, str):
                continue
            if not isinstance(run, dict) or run.get("type") != "TextRun" \
                    or not isinstance(run.get("text"), str):
                problems.append(f"{where}.inlines[{index}]: not a TextRun with text")
    for key in ("items", "columns"):
        for index, child in enumerate(element.get(key, []) or []):
            check_card_element(problems, f"{where}.{key}[{index}]", child)


def check_teams(request, problems, fake):
    payload = require_json(request, problems)
    if payload is None:
        return 202, {}, b""
    if len(request["body_bytes"]) > TEAMS_BYTES:
        problems.append(f"body: {len(request['body_bytes'])} bytes, over Teams' 28 KB")
    if payload.get("type") != "message":
        problems.append(f"type: {payload.get('type')!r}, not \"message\"")
    attachments = payload.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        problems.append("attachments: missing or empty")
        return 202, {}, b""
    for index, attachment in enumerate(attachments):
        where = f"attachments[{index}]"
        if not isinstance(attachment, dict):
            problems.append(f"{where}: not an object")
            continue
        if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
            problems.append(f"{where}.contentType: {attachment.get('contentType')!r}")
        check_card(problems, f"{where}.content", attachment.get("content"))
    return 202, {}, b""


def check_card(problems, where, card):
    if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
        problems.append(f"{where}: not an AdaptiveCard")
        return
    version = card.get("version")
    match = re.match(r"^(\d+)\.(\d+)$", version) if isinstance(version, str) else None
    if not match or not (1, 0) <= (int(match.group(1)), int(match.group(2))) <= (1, 6):
        problems.append(f"{where}.version: {version!r}, not 1.0 .. 1.6")
    body = card.get("body")
    if not isinstance(body, list) or not body:
        problems.append(f"{where}.body: missing or empty")
        body = []
    for index, element in enumerate(body):
        check_card_element(problems, f"{where}.body[{index}]", element)
    for index, action in enumerate(card.get("actions", []) or []):
        if not isinstance(action, dict) or not isinstance(action.get("type"), str):
            problems.append(f"{where}.actions[{index}]: not an action")
        elif action["type"] == "Action.OpenUrl":
            check_url(problems, f"{where}.actions[{index}].url", action.get("url"))


def check_matrix(request, problems, fake):
    if request["method"] != "PUT":
        problems.append(f"method {request['method']}, not PUT")
    match = MATRIX_PATH.match(request["path"])
    token = bearer(request) or (request["query_dict"].get("access_token") or [None])[0]
    if not token:
        problems.append("no access token (Authorization: Bearer …)")
    if not match:
        problems.append("path is not /_matrix/client/v3/rooms/ROOM/send/TYPE/TXN")
        return json_answer(200, {"event_id": "$none"})
    room, event_type, txn = (urllib.parse.unquote(part) for part in match.groups())
    if not room.startswith("!") or ":" not in room:
        problems.append(f"room: {room!r} is not a room id (!opaque:server)")
    if event_type != "m.room.message":
        problems.append(f"event type {event_type!r}, not m.room.message")
    if not txn:
        problems.append("txnId: empty")
    payload = require_json(request, problems)
    if payload is not None:
        if not isinstance(payload.get("msgtype"), str) or not isinstance(payload.get("body"), str):
            problems.append("content: msgtype and body must be strings")
        if payload.get("format") is not None and not isinstance(payload.get("formatted_body"), str):
            problems.append("content: format without formatted_body")
        if "m.mentions" in payload and not isinstance(payload["m.mentions"], dict):
            problems.append("m.mentions: not an object")
    return json_answer(200, {"event_id": fake.matrix_event(token, txn, request["body_bytes"],
                                                           problems)})


def decode_rfc2047(problems, where, value):
    """The text of a header value, RFC 2047 words decoded."""
    for word in re.findall(r"=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=", value):
        if len(word) > 75:
            problems.append(f"{where}: encoded word of {len(word)} bytes, over 75")
    try:
        parts = email.header.decode_header(value)
        return "".join(part.decode(charset or "ascii") if isinstance(part, bytes) else part
                       for part, charset in parts)
    except (UnicodeDecodeError, LookupError, binascii.Error, ValueError) as error:
        problems.append(f"{where}: bad RFC 2047 encoding: {error}")
        return value


def check_ntfy(request, problems, fake):
    match = NTFY_PATH.match(request["path"])
    if request["method"] not in ("POST", "PUT"):
        problems.append(f"method {request['method']}, not POST or PUT")
    if not match:
        problems.append("path: not /ntfy/TOPIC (topic: letters, digits, - and _, 1..64)")
    for name, value in request["headers"].items():
        if any(ord(char) < 0x20 or ord(char) > 0x7E for char in value):
            problems.append(f"header {name}: not printable ASCII (encode it as RFC 2047)")
    body = request["body_bytes"]
    if request["body_error"]:
        problems.append("body: not UTF-8 (ntfy would make it an attachment)")
    if len(body) > NTFY_BODY_LIMIT:
        problems.append(f"body: {len(body)} bytes, over ntfy's {NTFY_BODY_LIMIT}"
                        " (it would become an attachment)")
    if not body.strip():
        problems.append("body: empty (ntfy would say \"triggered\")")
    if request["headers"].get("content-type") and not content_type_is(request, "text/plain"):
        problems.append("Content-Type: not text/plain")
    headers = request["headers"]
    title = next((headers[n] for n in ("x-title", "title", "t") if n in headers), None)
    decoded_title = decode_rfc2047(problems, "title", title) if title is not None else None
    if decoded_title is not None and re.search(r"[\r\n]", decoded_title):
        problems.append("title: holds a line break")
    priority = next((headers[n] for n in ("x-priority", "priority", "prio", "p")
                     if n in headers and not re.match(r"^u=\d", headers[n])), None)
    if priority is not None and priority.strip().lower() not in NTFY_PRIORITIES:
        problems.append(f"priority: {priority!r}")
    click = next((headers[n] for n in ("x-click", "click") if n in headers), None)
    check_url(problems, "click", click, required=False)
    auth = headers.get("authorization")
    if auth is not None and not re.match(r"^(Bearer|Basic) \S+$", auth):
        problems.append("authorization: not Bearer TOKEN or Basic CREDENTIALS")
    return json_answer(200, {"id": fake.next_id("ntfy"), "time": int(time.time()),
                             "event": "message", "topic": match.group(1) if match else "",
                             "title": decoded_title, "message": request["body"]})


def check_gotify(request, problems, fake):
    token = request["headers"].get("x-gotify-key") or bearer(request) \
        or (request["query_dict"].get("token") or [None])[0]
    if request["method"] != "POST":
        problems.append(f"method {request['method']}, not POST")
    if not token:
        problems.append("no app token (X-Gotify-Key, Authorization: Bearer, or ?token=)")
    payload = require_json(request, problems) or {}
    message = payload.get("message")
    if not isinstance(message, str) or not message:
        problems.append("message: missing or empty")
    if payload.get("title") is not None and not isinstance(payload.get("title"), str):
        problems.append("title: not a string")
    if payload.get("priority") is not None and not is_int(payload.get("priority")):
        problems.append("priority: not an integer")
    extras = payload.get("extras")
    if extras is not None:
        check_gotify_extras(problems, extras)
    return json_answer(200, {"id": fake.next_id("gotify"), "appid": 1, "message": message,
                             "title": payload.get("title"), "priority": payload.get("priority"),
                             "date": datetime.datetime.now(datetime.timezone.utc).isoformat()})


def check_gotify_extras(problems, extras):
    if not isinstance(extras, dict) or any("::" not in key for key in extras):
        problems.append("extras: not an object of namespaced keys (client::display)")
        return
    display = extras.get("client::display", {})
    if not isinstance(display, dict) or \
            display.get("contentType", "text/plain") not in ("text/plain", "text/markdown"):
        problems.append("extras.client::display.contentType: not text/plain or text/markdown")
    click = (extras.get("client::notification") or {}).get("click") \
        if isinstance(extras.get("client::notification"), dict) else None
    if click is not None:
        check_url(problems, "extras.client::notification.click.url",
                  click.get("url") if isinstance(click, dict) else None)


def check_twilio(request, problems, fake):
    match = TWILIO_PATH.match(request["path"])
    if request["method"] != "POST":
        problems.append(f"method {request['method']}, not POST")
    if not match:
        problems.append("path: not /2010-04-01/Accounts/AC…/Messages.json")
    if not content_type_is(request, "application/x-www-form-urlencoded"):
        problems.append("Content-Type: not application/x-www-form-urlencoded")
    user, password = basic_auth(request)
    if user is None:
        problems.append("no basic auth (AccountSid:AuthToken)")
    elif match and user != match.group(1) and not user.startswith("SK"):
        problems.append("basic auth user is not the account in the path (nor an API key)")
    elif not password:
        problems.append("basic auth: empty password")
    form = urllib.parse.parse_qs(request["body"], keep_blank_values=True)
    for name, values in form.items():
        if len(values) > 1:
            problems.append(f"{name}: given {len(values)} times")
    field = {name: values[0] for name, values in form.items()}
    if not field.get("To"):
        problems.append("To: missing")
    if not field.get("From") and not field.get("MessagingServiceSid"):
        problems.append("From (or MessagingServiceSid): missing")
    body = field.get("Body")
    if not body and not field.get("MediaUrl") and not field.get("ContentSid"):
        problems.append("Body: missing or empty")
    if body and utf16_units(body) > TWILIO_BODY:
        problems.append(f"Body: {utf16_units(body)} characters, over {TWILIO_BODY}")
    return json_answer(201, {"sid": "SM" + fake.next_hex(), "status": "queued",
                             "account_sid": match.group(1) if match else None,
                             "to": field.get("To"), "from": field.get("From"), "body": body})


def basic_auth(request):
    value = request["headers"].get("authorization", "")
    if not value.startswith("Basic "):
        return None, None
    try:
        user, _, password = base64.b64decode(value[6:], validate=True).decode().partition(":")
        return user, password
    except (binascii.Error, UnicodeDecodeError):
        return None, None


def check_lilac(request, problems, fake):
    payload = require_json(request, problems)
    if payload is None:
        return 200, {}, b""
    for key in ("v", "seq", "at"):
        if not is_int(payload.get(key)):
            problems.append(f"{key}: missing or not an integer")
    for key in ("event", "rule"):
        if not isinstance(payload.get(key), str):
            problems.append(f"{key}: missing or not a string")
    alert = payload.get("alert")
    if not isinstance(alert, dict) or not isinstance(alert.get("source"), str) \
            or not isinstance(alert.get("id"), str):
        problems.append("alert: missing, or without source and id")
    if payload.get("flood") not in (None, "held", "over"):
        problems.append(f"flood: {payload.get('flood')!r}")
    if payload.get("flood") == "over" and not is_int(payload.get("held")):
        problems.append("held: missing for flood over")
    return 200, {}, b""


CHECKERS = {
    "alertmanager": check_alertmanager, "slack": check_slack, "discord": check_discord,
    "teams": check_teams, "matrix": check_matrix, "ntfy": check_ntfy, "gotify": check_gotify,
    "twilio": check_twilio, "lilac": check_lilac,
}


# --- the server ---------------------------------------------------------------------

class Fake:
    """What the fake keeps between requests: the log, the script's
    position, Matrix transactions, the secret."""

    def __init__(self, log_path, script_path=None, secret=None, signature_header=None):
        self.log = open(log_path, "a", encoding="utf-8")
        self.script_path = script_path
        self.secret = secret
        self.signature_header = (signature_header or "").lower()
        self.lock = threading.Lock()
        self.consumed = 0
        self.transactions = {}                  # (token, txn) -> (body, event_id)
        self.counters = {}
        self.release = threading.Event()        # set at exit: hung requests end

    def next_id(self, name):
        with self.lock:
            self.counters[name] = self.counters.get(name, 0) + 1
            return self.counters[name]

    def next_hex(self):
        return "%032x" % self.next_id("hex")

    def matrix_event(self, token, txn, body, problems):
        with self.lock:
            known = self.transactions.get((token, txn))
            if known and known[0] != body:
                problems.append(f"txnId {txn} reused for another message")
            if known:
                return known[1]
            event_id = "$event%d" % (len(self.transactions) + 1)
            self.transactions[(token, txn)] = (body, event_id)
            return event_id

    def next_script_line(self):
        """The next line of the script, or None: consumed in order."""
        if not self.script_path:
            return None
        try:
            with open(self.script_path, encoding="utf-8") as script:
                lines = [line.strip() for line in script]
        except FileNotFoundError:
            return None
        lines = [line for line in lines if line and not line.startswith("#")]
        with self.lock:
            if self.consumed >= len(lines):
                return None
            self.consumed += 1
            return lines[self.consumed - 1]

    def write_log(self, entry):
        with self.lock:
            self.log.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self.log.flush()

    def check_signature(self, request, problems):
        if self.secret is None:
            return
        value = request["headers"].get(self.signature_header)
        if value is None:
            problems.append(f"signature header {self.signature_header}: missing")
            return
        given = value[7:] if value.startswith("sha256=") else value
        expected = hmac.new(self.secret, request["body_bytes"], hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.lower(), expected) or not re.match(r"^[0-9a-fA-F]{64}$",
                                                                           given):
            problems.append(f"signature header {self.signature_header}: wrong HMAC-SHA256")


def guess_format(path):
    for name, pattern in FORMATS:
        if pattern.match(path):
            return name
    return None


def parse_script_line(line):
    """'429 Retry-After=2 text' -> (429, {'Retry-After': '2'}, 'text'); hang -> ('hang', ..)."""
    words = line.split()
    if words[0] == "hang":
        return "hang", {}, ""
    status = int(words[0]) if words[0].isdigit() else 500
    headers, rest = {}, words[1:]
    while rest and re.match(r"^[A-Za-z0-9-]+=\S*$", rest[0]):
        name, _, value = rest.pop(0).partition("=")
        headers[name] = value
    return status, headers, " ".join(rest)


def scripted_body(format_name, status, headers, text):
    """A service-like error body for a scripted non-2xx answer."""
    retry = headers.get("Retry-After")
    if format_name == "matrix":
        code = "M_LIMIT_EXCEEDED" if status == 429 else "M_UNKNOWN"
        value = {"errcode": code, "error": text or "scripted"}
        if retry and retry.isdigit():
            value["retry_after_ms"] = int(retry) * 1000
        return "application/json", json.dumps(value).encode()
    if format_name == "discord" and status == 429:
        return "application/json", json.dumps({"message": "You are being rate limited.",
                                               "retry_after": float(retry or 1),
                                               "global": False}).encode()
    if format_name == "twilio":
        return "application/json", json.dumps({"code": 20000 + status, "status": status,
                                               "message": text or "scripted"}).encode()
    return "text/plain; charset=utf-8", (text or "scripted %d" % status).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "webhook_fake/1"
    fake = None                                 # set on the subclass made per server

    def log_message(self, *args):               # the JSON log is ours; stderr stays quiet
        pass

    def do_POST(self):
        self.handle_one()

    do_PUT = do_GET = do_DELETE = do_PATCH = do_POST

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(length, BODY_MAX))

    def parsed_request(self):
        body_bytes = self.read_body()
        url = urllib.parse.urlsplit(self.path)
        headers = {}
        for name, value in self.headers.items():
            name = name.lower()
            headers[name] = headers[name] + ", " + value if name in headers else value
        try:
            body, body_error = body_bytes.decode("utf-8"), False
        except UnicodeDecodeError:
            body, body_error = body_bytes.decode("utf-8", errors="replace"), True
        parsed, json_error = parse_json(body_bytes)
        return {"method": self.command, "path": url.path, "query": url.query,
                "query_dict": urllib.parse.parse_qs(url.query), "headers": headers,
                "body": body, "body_bytes": body_bytes, "body_error": body_error,
                "json": parsed, "json_error": json_error}

    def handle_one(self):
        request = self.parsed_request()
        format_name = guess_format(request["path"])
        problems = []
        answer = (404, {}, b"")
        if format_name:
            answer = CHECKERS[format_name](request, problems, self.fake)
        else:
            problems.append(f"no service at {request['path']}")
        self.fake.check_signature(request, problems)
        line = self.fake.next_script_line()
        scripted = parse_script_line(line) if line else None
        entry = {key: request[key] for key in ("method", "path", "query", "headers", "body",
                                                "json")}
        entry.update(format=format_name, problems=problems)
        if scripted and scripted[0] == "hang":
            entry["status"] = "hang"
            self.fake.write_log(entry)
            self.fake.release.wait()
            self.close_connection = True
            return
        status, headers, body = self.choose_answer(format_name, answer, problems, scripted)
        entry["status"] = status
        self.fake.write_log(entry)
        self.send(status, headers, body)

    def choose_answer(self, format_name, answer, problems, scripted):
        if problems:
            return 400, {"Content-Type": "text/plain; charset=utf-8"}, \
                ("\n".join(problems) + "\n").encode()
        if not scripted:
            return answer
        status, headers, text = scripted
        if 200 <= status < 300:
            success_status, success_headers, body = answer
            if status == 204:
                return 204, headers, b""
            return status, {**success_headers, **headers}, body
        content_type, body = scripted_body(format_name, status, headers, text)
        return status, {"Content-Type": content_type, **headers}, body

    def send(self, status, headers, body):
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 204 and status >= 200:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and status != 204:
            self.wfile.write(body)
        self.wfile.flush()


def parse_json(body_bytes):
    """(value, None) or (None, why): strict UTF-8, no NaN, no repeated keys."""
    def no_repeats(pairs):
        keys = [key for key, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError("a key is repeated")
        return dict(pairs)

    def no_constant(name):
        raise ValueError(f"{name} is not JSON")
    try:
        return json.loads(body_bytes.decode("utf-8"), object_pairs_hook=no_repeats,
                          parse_constant=no_constant), None
    except (UnicodeDecodeError, ValueError) as error:
        return None, str(error)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


def start(fake):
    """A listening server on 127.0.0.1 (port 0), serving in a thread."""
    handler = type("BoundHandler", (Handler,), {"fake": fake})
    server = Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    return server, thread


def stop(server, fake):
    server.shutdown()
    fake.release.set()
    server.server_close()
    fake.log.close()


def write_port_file(path, port):
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".port.", dir=directory)
    with os.fdopen(handle, "w") as out:
        out.write(f"{port}\n")
    os.replace(temporary, path)


def read_secret(path):
    with open(path, "rb") as secret_file:
        secret = secret_file.read()
    return secret[:-1] if secret.endswith(b"\n") else secret


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port-file")
    parser.add_argument("--log")
    parser.add_argument("--script")
    parser.add_argument("--secret-file")
    parser.add_argument("--signature-header", default="X-Lilac-Signature")
    parser.add_argument("--self-test", action="store_true")
    options = parser.parse_args(argv)
    if options.self_test:
        return self_test()
    if not options.port_file or not options.log:
        parser.error("--port-file and --log are needed")
    secret = read_secret(options.secret_file) if options.secret_file else None
    fake = Fake(options.log, options.script, secret, options.signature_header)
    stopping = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stopping.set())
    server, _ = start(fake)
    write_port_file(options.port_file, server.server_address[1])
    while not stopping.wait(0.5):
        pass
    stop(server, fake)
    return 0


# --- self-test (by hand) ------------------------------------------------------------

def self_test_cases():
    """(name, method, path, headers, body, expected status) of each format."""
    am = {"version": "4", "groupKey": "{}:{alertname=\"disk\"}", "truncatedAlerts": 0,
          "status": "firing", "receiver": "ops", "groupLabels": {"alertname": "disk"},
          "commonLabels": {"alertname": "disk"}, "commonAnnotations": {},
          "externalURL": "", "alerts": [{"status": "firing", "labels": {"alertname": "disk"},
                                         "annotations": {"summary": "s"},
                                         "startsAt": "2026-11-23T12:00:00.123Z",
                                         "endsAt": GO_ZERO_TIME, "generatorURL": "",
                                         "fingerprint": "0123456789abcdef"}]}
    am_bad = json.loads(json.dumps(am))
    am_bad["version"] = "3"
    am_bad["alerts"][0]["startsAt"] = "yesterday"
    json_type = {"Content-Type": "application/json"}
    twilio_auth = {"Authorization": "Basic " + base64.b64encode(b"AC01:tok").decode(),
                   "Content-Type": "application/x-www-form-urlencoded"}
    card = {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "content": {
            "type": "AdaptiveCard", "version": "1.4",
            "body": [{"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": "x"}]}],
            "actions": [{"type": "Action.OpenUrl", "title": "o", "url": "https://l.example"}]}}]}
    matrix_path = "/_matrix/client/v3/rooms/%21abc%3Aexample.org/send/m.room.message/t1"
    bearer_json = {"Authorization": "Bearer tok", **json_type}
    return [
        ("alertmanager", "POST", "/alertmanager", json_type, am, 200),
        ("alertmanager", "POST", "/alertmanager", json_type, am_bad, 400),
        ("slack", "POST", "/slack/T/B", json_type,
         {"text": "a &amp; &lt;b&gt; <https://l.example/x|Open>"}, 200),
        ("slack", "POST", "/slack/T/B", json_type, {"text": "a & <b> <!channel>"}, 400),
        ("discord", "POST", "/discord/1/x", json_type,
         {"content": "@everyone hi", "allowed_mentions": {"parse": []},
          "embeds": [{"title": "t", "color": 1}]}, 204),
        ("discord", "POST", "/discord/1/x", json_type, {"content": "@everyone " + "x" * 2000}, 400),
        ("teams", "POST", "/teams/wf", json_type, card, 202),
        ("teams", "POST", "/teams/wf", json_type, {"type": "message", "attachments": [
            {"contentType": "text/html", "content": {}}]}, 400),
        ("matrix", "PUT", matrix_path, bearer_json, {"msgtype": "m.text", "body": "hi"}, 200),
        ("matrix (retry)", "PUT", matrix_path, bearer_json,
         {"msgtype": "m.text", "body": "hi"}, 200),
        ("matrix (txn reused)", "PUT", matrix_path, bearer_json,
         {"msgtype": "m.text", "body": "other"}, 400),
        ("matrix", "POST", "/_matrix/client/v3/rooms/%23alias%3Ax/send/m.room.message/t2",
         json_type, {"msgtype": "m.text"}, 400),
        ("ntfy", "POST", "/ntfy/lilac", {"Title": "=?UTF-8?B?w4RwZmVs?=", "X-Priority": "5",
                                         "Tags": "warning", "Click": "https://l.example",
                                         "Content-Type": "text/plain; charset=utf-8"},
         "body text".encode(), 200),
        ("ntfy", "POST", "/ntfy/lilac", {"X-Priority": "9", "Content-Type": "text/plain"},
         b"x" * 5000, 400),
        ("gotify", "POST", "/gotify/message", {"X-Gotify-Key": "A", **json_type},
         {"title": "t", "message": "m", "priority": 8, "extras": {
             "client::notification": {"click": {"url": "https://l.example"}}}}, 200),
        ("gotify", "POST", "/gotify/message", json_type, {"title": "t", "priority": "8"}, 400),
        ("twilio", "POST", "/2010-04-01/Accounts/AC01/Messages.json", twilio_auth,
         urllib.parse.urlencode({"To": "+1555", "From": "+1500", "Body": "hi"}).encode(), 201),
        ("twilio", "POST", "/2010-04-01/Accounts/AC01/Messages.json",
         {"Content-Type": "application/x-www-form-urlencoded"},
         urllib.parse.urlencode({"To": "+1555", "Body": "\U0001F525" * 900}).encode(), 400),
        ("lilac", "POST", "/lilac", json_type, {"v": 1, "seq": 1, "at": 1, "event": "raised",
                                                "alert": {"source": "a", "id": "b"},
                                                "rule": "r"}, 200),
        ("lilac", "POST", "/lilac", json_type, {"v": 1, "seq": "1"}, 400),
    ]


def self_test_send(port, method, path, headers, body, timeout=5):
    import http.client
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def self_test():
    directory = tempfile.mkdtemp(prefix="webhook_fake.")
    log_path, script_path = os.path.join(directory, "log"), os.path.join(directory, "script")
    secret_path = os.path.join(directory, "secret")
    results = []

    def report(ok, name):
        results.append(ok)
        print(("ok - " if ok else "not ok - ") + name, flush=True)

    fake = Fake(log_path, script_path)
    server, _ = start(fake)
    port = server.server_address[1]
    for name, method, path, headers, body, expected in self_test_cases():
        status, _, answer = self_test_send(port, method, path, headers, body)
        report(status == expected, f"{name} {method} {path}: {status} (expected {expected})"
               + (f" {answer.decode(errors='replace').strip()!r}" if status != expected else ""))
    with open(log_path, encoding="utf-8") as log:
        entries = [json.loads(line) for line in log]
    report(len(entries) == len(self_test_cases()) and all("problems" in e for e in entries),
           "one log line per request")
    with open(script_path, "w") as script:
        script.write("500\n429 Retry-After=2\n# a comment\n\nhang\n204\n")
    lilac = {"v": 1, "seq": 1, "at": 1, "event": "raised", "alert": {"source": "a", "id": "b"},
             "rule": "r"}
    json_type = {"Content-Type": "application/json"}
    status, _, _ = self_test_send(port, "POST", "/lilac", json_type, lilac)
    report(status == 500, f"script 500: {status}")
    status, headers, _ = self_test_send(port, "POST", "/lilac", json_type, lilac)
    report(status == 429 and headers.get("Retry-After") == "2", f"script 429: {status}")
    try:
        self_test_send(port, "POST", "/lilac", json_type, lilac, timeout=1)
        report(False, "script hang: answered")
    except OSError:
        report(True, "script hang: no answer")
    status, _, _ = self_test_send(port, "POST", "/lilac", json_type, lilac)
    report(status == 204, f"script 204 after the hang: {status}")
    status, _, _ = self_test_send(port, "POST", "/lilac", json_type, lilac)
    report(status == 200, f"script used up: {status}")
    stop(server, fake)

    with open(secret_path, "wb") as secret_file:
        secret_file.write(b"s3cret\n")
    fake = Fake(log_path, None, read_secret(secret_path), "X-Lilac-Signature")
    server, _ = start(fake)
    data = json.dumps(lilac).encode()
    signature = hmac.new(b"s3cret", data, hashlib.sha256).hexdigest()
    status, _, _ = self_test_send(server.server_address[1], "POST", "/lilac",
                                  {**json_type, "X-Lilac-Signature": "sha256=" + signature}, data)
    report(status == 200, f"signature right: {status}")
    status, _, _ = self_test_send(server.server_address[1], "POST", "/lilac",
                                  {**json_type, "X-Lilac-Signature": "0" * 64}, data)
    report(status == 400, f"signature wrong: {status}")
    stop(server, fake)
    shutil.rmtree(directory, ignore_errors=True)
    passed = sum(results)
    print(f"# {passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
