#!/usr/bin/python3
"""test_notify_webhook.py — lilac-notify-webhook, end to end: a real broker,
real notifiers, and the fake of the services (tests/fakes/webhook_fake.py),
which checks every request as the service documents it.

One broker serves every case; alerts are raised with the real `lilac send`.
Each case has a notifier of its own (its config written here, its state
directory, its log) whose rules take only its own sources, so cases do not
see each other's changes. Four fakes, each a process of its own on an
ephemeral 127.0.0.1 port:
  plain    no script: answers as the service does (400 for a request with
           problems). The formats, warm-ups, the healthy lane, SIGHUP.
  signed   --secret-file: checks X-Lilac-Signature.
  scripted --script, appended to by each case before it raises (the fake
           uses the lines in order, one per request, and 200 past the end):
           retries, Matrix's txnId.
  hung     --script `hang`: the hung receiver.

A fresh notifier ignores what was published before its first sync: its
cursor file says when that sync is done, and a warm-up raise (a rule of its
own, to the plain fake) must then be delivered before the case starts.
Every wait polls a log (the fake's JSON lines, the notifier's log) against
a deadline; the only fixed waits assert that something does NOT happen.

Each case was shown to fail against a notifier broken on purpose (built in
a copy of the tree, LILAC_BIN pointing there): one lane for every URL
(delivery.c) fails 4 (the healthy raises wait for the hung one); 5xx given
up fails 3a, 3b, 3c and 5; Retry-After ignored fails 3b; 400 retried fails
3c and 2; no signature header fails 2; the token logged fails 6c; SIGHUP
keeping the old rules fails 7; the section's timeout not passed to the
request fails 4; a txnId that differs per attempt fails 5.

Run: LILAC_BIN=bin tests/notify/test_notify_webhook.py (LILAC_CASES="1 3"
runs the cases whose names begin so). 6c, the secrets, runs last: it reads
every notifier's log.
"""

import base64
import datetime
import email.header
import hashlib
import hmac
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'lib'))
import lilactest                    # noqa: E402
from lilactest import (JsonLog, Log, Process, case, holds_for, note, program,  # noqa: E402
                       wait_until)

FAKE = os.path.join(lilactest.REPO, 'tests', 'fakes', 'webhook_fake.py')
NOTIFIER = 'lilac-notify-webhook'
#   A delivery, with a retry or two, shows within this.
DELIVERY = 10.0

#   Secrets: none may ever be in a notifier's log.
TOKEN = 'tok-7c1e5f0a9b3d'                  # matrix, gotify, ntfy
AUTH_TOKEN = 'twauth-2f8e6a41c9d0'          # twilio
SECRET = 'hmac-key-5b7d93e2'                # the signed fake's and the good notifier's
WRONG_SECRET = 'hmac-key-wrong-0e4a'        # the bad notifier's ($LILAC_WEBHOOK_SECRET)
ROOM = '!ops:example.org'
ACCOUNT = 'AC0123456789abcdef'

#   Text from outside, as an alert may carry it: quotes, markup, mentions
#   for Discord and Slack, an ampersand, a line break, a non-ASCII letter.
SUMMARY = 'disk "full" <script>alert(1)</script> @everyone <!channel> & Zoë\nsecond line'
DETAIL = 'df says <b>100%</b>\n@here see the runbook'

box = lilactest.sandbox('lilac-notify.')
broker = None
plain = signed = scripted = hung = None


# ----------------------------------------------------------------- the fake

class Fake:
    """One webhook_fake.py: its port, its JSON log, its script."""

    def __init__(self, name, secret_file=None):
        self.name = name
        self.port_file = box.file(f'{name}.port')
        self.script = box.file(f'{name}.script')
        self.log = JsonLog(box.file(f'{name}.jsonl'))
        argv = [FAKE, '--port-file', self.port_file, '--log', self.log.path,
                '--script', self.script]
        if secret_file:
            argv += ['--secret-file', secret_file]
        self.process = Process(f'fake {name}', argv, box.file(f'fake-{name}.log'))
        self.port = None

    def start(self):
        self.process.start()
        wait_until(lambda: os.path.exists(self.port_file) or not self.process.running(),
                   f'the {self.name} fake to listen', timeout=10)
        assert self.process.running(), f'the {self.name} fake exited (see fake-{self.name}.log)'
        with open(self.port_file) as port:
            self.port = int(port.read())
        return self

    def url(self, path=''):
        return f'http://127.0.0.1:{self.port}{path}'

    def add_script(self, *lines):
        """Lines for the coming requests (after those the fake used)."""
        with open(self.script, 'a') as script:
            script.write(''.join(line + '\n' for line in lines))

    def requests(self, path=None, has=None):
        """Its log's entries to path (exactly), or whose body holds has."""
        return self.log.entries(lambda entry: (path is None or entry['path'] == path)
                                and (has is None or has in entry['body']))

    def wait_requests(self, count, path=None, has=None, timeout=DELIVERY):
        what = f'{count} request(s) at the {self.name} fake' + (f' to {path}' if path else '') \
            + (f' holding {has!r}' if has else '')
        return self.log.wait_entries(lambda entry: (path is None or entry['path'] == path)
                                     and (has is None or has in entry['body']),
                                     count, what, timeout)


# ----------------------------------------------------------------- the notifier

class Notifier:
    """A lilac-notify-webhook with a config of its own: the notifier
    section (this broker, its state directory), then body (the webhook
    section and rules), then its warm-up rule."""

    def __init__(self, name, body, env=None):
        self.name = name
        self.config = box.file(f'{name}.conf')
        self.state = box.file(f'{name}.state')
        self.log = Log(box.file(f'{name}.log'))
        self.write(body)
        self.process = Process(f'{NOTIFIER} {name}', [program(NOTIFIER), '-c', self.config, '-v'],
                               self.log.path, env)

    def write(self, body):
        with open(self.config, 'w') as config:
            config.write('notifier\n'
                         f'    events = {broker.publish}\n'
                         f'    control = {broker.control}\n'
                         f'    state_dir = {self.state}\n'
                         f'{body}'
                         'rule = warmup\n'
                         f'    source = warmup-{self.name}\n'
                         '    format = lilac\n'
                         f'    url = {plain.url("/lilac/warmup-" + self.name)}\n')

    def start(self):
        """Starts it; returns once its first sync is done and a warm-up
        raise was delivered."""
        self.process.start()
        cursor = os.path.join(self.state, 'cursor')
        wait_until(lambda: os.path.exists(cursor) or not self.process.running(),
                   f'{self.name}: the first sync (its cursor file)', timeout=10)
        assert self.process.running(), f'{self.name} exited at start (see {self.name}.log)'
        broker.send(f'warmup-{self.name}', 'w', summary='warm-up')
        self.wait_delivered(f'warmup-{self.name}', 'w', 'warmup')
        return self

    def delivered_pattern(self, source, id, rule, event='raised'):
        return (rf'seq \d+ {event} {re.escape(source)}/{re.escape(id)}: '
                rf'rule {re.escape(rule)}: delivered')

    def wait_delivered(self, source, id, rule, event='raised', timeout=DELIVERY):
        """The log line of the delivery (the first such)."""
        return self.log.wait_for(self.delivered_pattern(source, id, rule, event),
                                 timeout=timeout)[0]

    def delivered(self, source, id, rule, event='raised'):
        return self.log.lines(self.delivered_pattern(source, id, rule, event))

    def actions(self, source, id, event):
        """How many actions the rules decided for the change (-v's line)."""
        lines = self.log.wait_for(rf'seq \d+ {event} {re.escape(source)}/{re.escape(id)}: '
                                  r'\d+ actions')
        return int(re.search(r': (\d+) actions', lines[0]).group(1))


def log_time(line):
    """The wall time (seconds) a log line of a lilac program begins with."""
    stamp = line.split(' ', 1)[0]
    return datetime.datetime.strptime(stamp, '%Y-%m-%dT%H:%M:%S.%fZ') \
        .replace(tzinfo=datetime.timezone.utc).timestamp()


def good(entry):
    """A request the fake found nothing wrong with and answered 2xx."""
    assert entry['problems'] == [], f'{entry["path"]}: problems {entry["problems"]}'
    assert isinstance(entry['status'], int) and 200 <= entry['status'] < 300, \
        f'{entry["path"]}: answered {entry["status"]}'
    return entry


def rule(name, format, url, source, on='raised,cleared', extra=''):
    return (f'rule = {name}\n    source = {source}\n    on = {on}\n'
            f'    format = {format}\n    url = {url}\n{extra}')


# ----------------------------------------------------------------- setup

@case('0 setup: a broker and four webhook fakes (plain, signed, scripted, hung) start')
def _():
    global broker, plain, signed, scripted, hung
    broker = lilactest.Broker(box)
    broker.start()
    secret_file = box.write('secret', SECRET + '\n')
    plain = Fake('plain').start()
    signed = Fake('signed', secret_file).start()
    scripted = Fake('scripted').start()
    hung = Fake('hung').start()


if broker is None or plain is None:
    sys.exit(lilactest.finish())


# ----------------------------------------------------------------- 1: the formats

#   format -> (rule url path at the plain fake; the path the request goes to)
FORMATS = {
    'alertmanager': ('/alertmanager/fmt', '/alertmanager/fmt'),
    'slack': ('/slack/T0/B0/fmt', '/slack/T0/B0/fmt'),
    'discord': ('/discord/10/fmt', '/discord/10/fmt'),
    'teams': ('/teams/fmt', '/teams/fmt'),
    'matrix': ('', '/_matrix/client/v3/rooms/' + urllib.parse.quote(ROOM, safe='')
               + '/send/m.room.message/'),
    'ntfy': ('/ntfy/fmt', '/ntfy/fmt'),
    'gotify': ('/gotify', '/gotify/message'),
    'twilio': (None, f'/2010-04-01/Accounts/{ACCOUNT}/Messages.json'),
    'lilac': ('/lilac/fmt', '/lilac/fmt'),
}
formats = None
SOURCE_FMT, ID_FMT = 'fmt', 'hostile'


def format_requests(name):
    path = FORMATS[name][1]
    if name == 'matrix':                    # the txnId follows
        return [entry for entry in plain.requests() if entry['path'].startswith(path)]
    return plain.requests(path)


def texts_of(name, entry):
    """(the alert's text as the service would show it, the word for the
    event) of one request."""
    body = entry['json']
    if name == 'alertmanager':
        return body['alerts'][0]['annotations']['summary'], body['status']
    if name == 'slack':
        text = body['text'].replace('&lt;', '<').replace('&gt;', '>').replace('&amp;', '&')
        return text, text
    if name == 'discord':
        text = re.sub(r'\\(.)', r'\1', body['content'])
        return text, text
    if name == 'teams':
        runs = []

        def walk(node):
            if isinstance(node, dict):
                if node.get('type') == 'TextRun':
                    runs.append(node['text'])
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)
        walk(body)
        return '\n'.join(runs), '\n'.join(runs)
    if name == 'matrix':
        return body['body'], body['body']
    if name == 'ntfy':
        title = ''.join(part.decode(charset or 'ascii') if isinstance(part, bytes) else part
                        for part, charset in email.header.decode_header(entry['headers']['title']))
        return title, title
    if name == 'gotify':
        return body['title'], body['title']
    if name == 'twilio':
        text = urllib.parse.parse_qs(entry['body'])['Body'][0]
        return text, text
    if name == 'lilac':
        return body['alert']['summary'], body['event']
    raise AssertionError(name)


@case('1 formats: one notifier, a rule for each of the nine formats; a hostile raise and its'
      ' clear reach each as the rule\'s `on` says (twilio: raised only)')
def _():
    global formats
    rules = ''
    for name, (path, _) in FORMATS.items():
        url = '' if path is None else f'    url = {plain.url(path)}\n'
        rules += (f'rule = {name}\n    source = {SOURCE_FMT}\n'
                  f'    on = {"raised" if name == "twilio" else "raised,cleared"}\n'
                  f'    format = {name}\n{url}')
    formats = Notifier('formats', (
        'webhook\n'
        f'    url = {plain.url()}\n'              # twilio's (its rule names none)
        '    url_base = https://lilac.example.org\n'
        f'    token = {TOKEN}\n'
        f'    room = {ROOM}\n'
        f'    account_sid = {ACCOUNT}\n'
        f'    auth_token = {AUTH_TOKEN}\n'
        '    from = +15550000001\n'
        '    to = +15550000002\n'
        + rules)).start()
    broker.send(SOURCE_FMT, ID_FMT, summary=SUMMARY, detail=DETAIL, level='urgent')
    for name in FORMATS:
        formats.wait_delivered(SOURCE_FMT, ID_FMT, name)
    assert formats.actions(SOURCE_FMT, ID_FMT, 'raised') == 9
    broker.send(SOURCE_FMT, ID_FMT, raise_='clear')
    for name in FORMATS:
        if name != 'twilio':
            formats.wait_delivered(SOURCE_FMT, ID_FMT, name, 'cleared')
    #   the rules decided once for the clear, without twilio's
    assert formats.actions(SOURCE_FMT, ID_FMT, 'cleared') == 8, \
        formats.log.lines('cleared .*actions')
    for name in FORMATS:
        count = len(format_requests(name))
        assert count == (1 if name == 'twilio' else 2), f'{name}: {count} requests'


def format_case(name):
    both = ' and the clear pass' if name != 'twilio' else ' passes'

    @case(f'1 {name}: the raise{both} the fake\'s checks; the hostile summary arrives as'
          ' text; the event is right; unsigned')
    def _():
        assert formats is not None, 'the formats notifier did not start'
        entries = format_requests(name)
        events = ['raised'] if name == 'twilio' else ['raised', 'cleared']
        assert len(entries) == len(events), f'{len(entries)} requests'
        for entry, event in zip(entries, events):
            good(entry)
            assert 'x-lilac-signature' not in entry['headers'], 'signed without a secret'
            text, said = texts_of(name, entry)
            one_line = SUMMARY.replace('\n', ' ')
            assert SUMMARY in text or one_line in text, \
                f'{event}: the summary is not in {text!r}'
            if name == 'alertmanager':
                status = 'firing' if event == 'raised' else 'resolved'
                assert said == status and entry['json']['alerts'][0]['status'] == status, \
                    f'{event}: status {said!r}'
            elif name == 'lilac':
                assert said == event, f'event {said!r}, not {event}'
                assert entry['json']['alert']['source'] == SOURCE_FMT
            else:
                assert event in said.lower(), f'{event!r} is not said in {said!r}'
    return _


for _name in FORMATS:
    format_case(_name)


# ----------------------------------------------------------------- 2: signatures

@case('2 signature: with secret_file the signed fake verifies X-Lilac-Signature (sha256=HEX) on'
      ' JSON and text bodies; a wrong key ($LILAC_WEBHOOK_SECRET) is a problem there, given up')
def _():
    good_one = Notifier('sig-good', (
        'webhook\n'
        f'    secret_file = {box.file("secret")}\n'
        + rule('lilac', 'lilac', signed.url('/lilac/sig-good'), 'sig-good')
        + rule('ntfy', 'ntfy', signed.url('/ntfy/sig-good'), 'sig-good'))).start()
    bad_one = Notifier('sig-bad', (
        'webhook\n'
        + rule('lilac', 'lilac', signed.url('/lilac/sig-bad'), 'sig-bad')),
        env={'LILAC_WEBHOOK_SECRET': WRONG_SECRET}).start()
    broker.send('sig-good', 's1', summary='signed')
    good_one.wait_delivered('sig-good', 's1', 'lilac')
    good_one.wait_delivered('sig-good', 's1', 'ntfy')
    for path in ('/lilac/sig-good', '/ntfy/sig-good'):
        [entry] = signed.requests(path)
        good(entry)
        expected = hmac.new(SECRET.encode(), entry['body'].encode(), hashlib.sha256).hexdigest()
        assert entry['headers'].get('x-lilac-signature') == 'sha256=' + expected, \
            f'{path}: {entry["headers"].get("x-lilac-signature")!r}'
    broker.send('sig-bad', 's2', summary='signed wrongly')
    line = bad_one.log.wait_for(r'giving up on seq \d+ for rule lilac: .*HTTP 400.*'
                                r'wrong HMAC-SHA256', timeout=DELIVERY)[0]
    [entry] = signed.requests('/lilac/sig-bad')
    assert entry['status'] == 400 and any('wrong HMAC-SHA256' in problem
                                          for problem in entry['problems']), entry['problems']
    assert 'sig-bad/s2' in line, line


# ----------------------------------------------------------------- 3: retries (and 5)

retry = None


@case('3 retries: a notifier of its own (retry_for 30s) to the scripted fake starts')
def _():
    global retry
    retry = Notifier('retry', (
        'webhook\n'
        '    retry_for = 30s\n'
        f'    token = {TOKEN}\n'
        f'    room = {ROOM}\n'
        + rule('r500', 'lilac', scripted.url('/lilac/r500'), 'retry-500')
        + rule('r429', 'slack', scripted.url('/slack/r429'), 'retry-429')
        + rule('r400', 'lilac', scripted.url('/lilac/r400'), 'retry-400')
        + rule('mx', 'matrix', scripted.url(), 'retry-matrix'))).start()


@case('3a retries: 500, 500, 200 -> three requests, delivered once "after retrying", the'
      ' attempts 1 s and 2 s (+-20 %) apart')
def _():
    assert retry is not None, 'no notifier'
    scripted.add_script('500', '500', '200')
    broker.send('retry-500', 'a', summary='flaky receiver')
    retry.wait_delivered('retry-500', 'a', 'r500')
    entries = scripted.requests('/lilac/r500')
    assert [entry['status'] for entry in entries] == [500, 500, 200], \
        [entry['status'] for entry in entries]
    assert len({entry['body'] for entry in entries}) == 1, 'a retry is not the same request'
    delivered = retry.delivered('retry-500', 'a', 'r500')
    assert len(delivered) == 1 and 'delivered after retrying' in delivered[0], delivered
    failed = retry.log.lines(r'retry-500/a for rule r500: HTTP 500.*attempt \d failed, '
                             r'retrying in \d+ ms')
    assert [re.search(r'attempt (\d)', line).group(1) for line in failed] == ['1', '2'], failed
    waits = [int(re.search(r'retrying in (\d+) ms', line).group(1)) for line in failed]
    assert 800 <= waits[0] <= 1200 and 1600 <= waits[1] <= 2400, f'back-off {waits} ms'


@case('3b retries: 429 Retry-After=2 -> the retry is not made before 2 s')
def _():
    assert retry is not None, 'no notifier'
    scripted.add_script('429 Retry-After=2')
    broker.send('retry-429', 'b', summary='rate limited')
    line = retry.wait_delivered('retry-429', 'b', 'r429')
    failed = retry.log.lines(r'retry-429/b for rule r429: HTTP 429.*attempt 1 failed')
    assert len(failed) == 1, failed
    #   The back-off alone would be 0.8 .. 1.2 s: both tell Retry-After was
    #   honoured. (The log's times are the notifier's own, in ms.)
    wait = int(re.search(r'retrying in (\d+) ms', failed[0]).group(1))
    assert wait >= 1950, f'retrying in {wait} ms'
    waited = log_time(line) - log_time(failed[0])
    assert waited >= 1.95, f'delivered {waited:.3f} s after the 429'
    assert [entry['status'] for entry in scripted.requests('/slack/r429')] == [429, 200]
    note(f'429: retried after {waited:.2f} s')


@case('3c retries: 400 bad -> given up at once, the log holds the receiver\'s text, no second'
      ' request')
def _():
    assert retry is not None, 'no notifier'
    scripted.add_script('400 the receiver says: bad request, go away')
    broker.send('retry-400', 'c', summary='refused')
    line = retry.log.wait_for(r'giving up on seq \d+ for rule r400: ', timeout=DELIVERY)[0]
    assert 'HTTP 400' in line and 'the receiver says: bad request, go away' in line, line
    assert not retry.log.lines(r'retry-400/c for rule r400: .*retrying'), 'a retry was planned'
    #   The first retry would come within 1.2 s (the back-off's most).
    holds_for(lambda: len(scripted.requests('/lilac/r400')) == 1, 'one request to /lilac/r400',
              1.5)
    #   and 3a's three are still three: nothing was sent twice meanwhile
    assert len(scripted.requests('/lilac/r500')) == 3


# ----------------------------------------------------------------- 4: lanes

@case('4 lanes: a hung receiver (timeout 1s) times out and is retried; meanwhile another URL\'s'
      ' raises are each delivered well within the timeout')
def _():
    hung.add_script('hang')
    lanes = Notifier('lanes', (
        'webhook\n'
        '    timeout = 1s\n'
        '    retry_for = 30s\n'
        + rule('stuck', 'lilac', hung.url('/lilac/stuck'), 'lane-stuck')
        + rule('healthy', 'lilac', plain.url('/lilac/healthy'), 'lane-healthy'))).start()
    broker.send('lane-stuck', 'h', summary='to a receiver that never answers')
    hung.log.wait_entries(lambda entry: entry['status'] == 'hang', what='the hung request')
    latencies = []
    for number in range(3):
        sent = time.monotonic()
        broker.send('lane-healthy', f'ok{number}', summary='to a healthy receiver')
        plain.wait_requests(1, '/lilac/healthy', f'"ok{number}"')
        latencies.append(time.monotonic() - sent)
    #   The stuck lane is still stuck: its one request has not even timed
    #   out (one lane for both would have held these until it had, and
    #   until its retry was delivered).
    assert not lanes.delivered('lane-stuck', 'h', 'stuck'), 'the stuck one was delivered first'
    note('healthy lane while the other hangs: ' + ', '.join(f'{seconds * 1000:.0f} ms'
                                                         for seconds in latencies))
    assert max(latencies) < 1.0, f'latencies {latencies}'
    line = lanes.wait_delivered('lane-stuck', 'h', 'stuck')
    assert 'after retrying' in line, line
    [failed] = lanes.log.lines(r'lane-stuck/h for rule stuck: .*attempt 1 failed')
    assert 'timed out' in failed, failed
    started = lanes.log.lines(r'seq \d+ raised lane-stuck/h: \d+ actions')[0]
    timed_out = log_time(failed) - log_time(started)
    assert 0.9 <= timed_out <= 3.0, f'timed out {timed_out:.3f} s after the start'
    assert [entry['status'] for entry in hung.requests('/lilac/stuck')] == ['hang', 200]
    note(f'the hung request timed out after {timed_out:.2f} s')


# ----------------------------------------------------------------- 5: Matrix

@case('5 Matrix: a retry (500, then 200) is a PUT to the same txnId; another change gets'
      ' another txnId')
def _():
    assert retry is not None, 'no notifier'
    scripted.add_script('500', '200')
    broker.send('retry-matrix', 'm1', summary='matrix retried')
    line = retry.wait_delivered('retry-matrix', 'm1', 'mx')
    assert 'after retrying' in line, line
    entries = scripted.requests(has='retry-matrix/m1')
    assert [entry['status'] for entry in entries] == [500, 200], \
        [entry['status'] for entry in entries]
    assert all(entry['method'] == 'PUT' for entry in entries)
    assert entries[0]['path'] == entries[1]['path'], \
        f'txnId changed: {entries[0]["path"]} then {entries[1]["path"]}'
    assert entries[1]['problems'] == [], entries[1]['problems']
    broker.send('retry-matrix', 'm2', summary='another change')
    retry.wait_delivered('retry-matrix', 'm2', 'mx')
    [other] = scripted.requests(has='retry-matrix/m2')
    good(other)
    assert other['path'] != entries[0]['path'], 'two changes share a txnId'


# ----------------------------------------------------------------- 6: the config

def check(path, cwd=None):
    return subprocess.run([program(NOTIFIER), '-c', path, '-n'], capture_output=True, text=True,
                          timeout=15, cwd=cwd or box.path)


@case('6a -n on configs/notify-webhook.conf: "configuration OK", exit 0')
def _():
    result = check(os.path.join(lilactest.REPO, 'configs', 'notify-webhook.conf'))
    assert result.returncode == 0, f'exit {result.returncode}: {result.stderr}'
    assert 'configuration OK' in result.stdout, result.stdout


BAD_CONFIGS = {
    'format = nonsense in the section': (
        'webhook\n    url = http://127.0.0.1:9/\n    format = nonsense\n'
        'rule = r\n    on = raised\n', 3, 'nonsense'),
    'format = nonsense in a rule': (
        'webhook\n    url = http://127.0.0.1:9/\n'
        'rule = r\n    on = raised\n    format = nonsense\n', 5, 'nonsense'),
    'a matrix rule without room': (
        'webhook\n    url = http://127.0.0.1:9/\n    token = x\n'
        'rule = r\n    on = raised\n'
        'rule = chat\n    on = raised\n    format = matrix\n', 6, 'room'),
    'a rule with no url anywhere': (
        'webhook\n    format = slack\n'
        'rule = r\n    on = raised\n', 3, 'url'),
}


@case('6b a bad config fails with FILE:LINE and exit 1 (-n, and at start): '
      + '; '.join(BAD_CONFIGS))
def _():
    for number, (what, (text, line, word)) in enumerate(BAD_CONFIGS.items()):
        path = box.write(f'bad{number}.conf', text)
        for argv in ([program(NOTIFIER), '-c', path, '-n'], [program(NOTIFIER), '-c', path]):
            result = subprocess.run(argv, capture_output=True, text=True, timeout=15,
                                    cwd=box.path)
            said = result.stdout + result.stderr
            assert result.returncode == 1, f'{what}: {argv[-1]}: exit {result.returncode}: {said}'
            found = [row for row in said.splitlines() if f'{path}:{line}:' in row]
            assert found and word in found[0], f'{what}: no "{path}:{line}: ...{word}" in {said!r}'


# ----------------------------------------------------------------- 7: signals

@case('7 SIGHUP with a new rule URL: the next raise goes to the new URL only; SIGTERM exits 0')
def _():
    old, new = plain.url('/lilac/hup-old'), plain.url('/lilac/hup-new')
    hup = Notifier('hup', 'webhook\n' + rule('hup', 'lilac', old, 'hup')).start()
    broker.send('hup', 'before', summary='before the reload')
    hup.wait_delivered('hup', 'before', 'hup')
    hup.write('webhook\n' + rule('hup', 'lilac', new, 'hup'))
    hup.process.send_signal(signal.SIGHUP)
    hup.log.wait_for(r'SIGHUP: reloaded ')
    broker.send('hup', 'after', summary='after the reload')
    hup.wait_delivered('hup', 'after', 'hup')
    #   The log shows a URL by its host and a hash (a URL may be a secret):
    #   where it went is read from the fake.
    assert len(plain.requests('/lilac/hup-new', '"after"')) == 1
    assert not plain.requests('/lilac/hup-old', '"after"'), 'the old URL got it too'
    assert hup.actions('hup', 'after', 'raised') == 1
    hup.process.send_signal(signal.SIGTERM)
    status = hup.process.wait_exit(timeout=5)
    assert status == 0, f'exit status {status}'
    assert hup.log.lines(r'exiting at seq'), 'no "exiting" line'


# ----------------------------------------------------------------- 8: destinations

URL_SECRET = 'urlsecret-4e1d'               # in a URL's path and query: never logged


@case('8 destinations: two rules to one homeserver in two rooms are two destinations, both'
      ' told; a URL is logged by its host, not its path or query')
def _():
    #   Before the fix the destination was the url alone: room b (and a
    #   second Twilio recipient) never heard, and the whole URL was logged.
    rooms = Notifier('rooms', (
        'webhook\n'
        f'    token = {TOKEN}\n'
        + rule('room-a', 'matrix', plain.url(), 'rooms', on='raised', extra='    room = !a:x\n')
        + rule('room-b', 'matrix', plain.url(), 'rooms', on='raised', extra='    room = !b:x\n')
        + rule('hidden', 'lilac', plain.url(f'/lilac/{URL_SECRET}?auth={URL_SECRET}'), 'rooms',
               on='raised'))).start()
    broker.send('rooms', 'r1', summary='two rooms')
    for name in ('room-a', 'room-b', 'hidden'):
        rooms.wait_delivered('rooms', 'r1', name)
    for room in ('!a:x', '!b:x'):
        path = '/_matrix/client/v3/rooms/' + urllib.parse.quote(room, safe='')
        puts = plain.log.entries(lambda entry, path=path: entry['path'].startswith(path + '/')
                                 and 'rooms/r1' in entry['body'])
        assert len(puts) == 1, f'room {room}: {len(puts)} PUTs'
    assert URL_SECRET not in rooms.log.text(), 'a URL\'s path or query is in the log'
    result = check(box.file('rooms.conf'))
    assert result.returncode == 0 and URL_SECRET not in result.stdout + result.stderr, \
        '-n prints the URL whole'


# ----------------------------------------------------------------- secrets

@case('6c no token, auth token or HMAC key is in any notifier\'s log (nor in what -n prints)')
def _():
    logs = [name for name in os.listdir(box.path) if name.endswith('.log')
            and not name.startswith(('fake-', 'broker'))]
    assert logs, 'no notifier logs'
    formats_config = box.file('formats.conf')
    result = check(formats_config)
    assert result.returncode == 0, result.stderr
    texts = {name: Log(box.file(name)).text() for name in logs}
    texts['-n formats.conf'] = result.stdout + result.stderr
    for secret in (TOKEN, AUTH_TOKEN, SECRET, WRONG_SECRET,
                   base64.b64encode(f'{ACCOUNT}:{AUTH_TOKEN}'.encode()).decode()):
        for name, text in texts.items():
            assert secret not in text, f'{secret!r} is in {name}'
    #   ...while the requests did carry them (so the check looks for what
    #   was really there)
    assert any(entry['headers'].get('authorization') == f'Bearer {TOKEN}'
               for entry in plain.requests())


sys.exit(lilactest.finish())
