#!/usr/bin/python3
"""test_notify_email.py — bin/lilac-notify-email against a real broker and
the SMTP fake (tests/fakes/smtp_fake.py), everything on 127.0.0.1.

One broker; one fake and one notifier per kind of server (plain, STARTTLS
with AUTH, smtps, scripted failures, digests), each notifier's rule picking
its own alert source (c1 ... c5), so the cases do not see each other's
mail. Alerts are raised, acknowledged and cleared with the real `lilac`
CLI. Every wait is on something observed — a line of the fake's JSON log, a
line of the notifier's log, a cursor file, an exit — with a deadline.

How each check was seen to fail (in a scratch copy of this file: the
check pointed at a wrong value, or a notifier's config made wrong) is said
in a comment beside it: "seen failing: ...". Cases 4c and 7b fail today, on
two faults of the SMTP path (see their comments).

Run: LILAC_BIN=bin tests/notify/test_notify_email.py (make test does).
"""

import base64
import email
import email.policy
import email.utils
import os
import re
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'lib'))
import lilactest as t                                               # noqa: E402

FAKE = os.path.join(t.REPO, 'tests', 'fakes', 'smtp_fake.py')
SHIPPED = os.path.join(t.REPO, 'configs', 'notify-email.conf')
PYTHON = '/usr/bin/python3'         # the one with aiosmtpd (make deps)

DOMAIN = 'lilac.test'               # email/domain: the right side of Message-IDs
FROM = 'Lilac Test <lilac@lilac.test>'
URL_BASE = 'https://lilac.example.org/'     # the trailing / is dropped
SUMMARY = 'disque plein ✓'
DETAIL = 'first line\n.starts with a dot\n..two dots\n.\nlast line'
PASSWORD = 'Sesame-Pa55-q7Zx'       # case 2's, looked for in the notifier's log
DEADLINE = 8.0                      # one delivery (a retry waits 1 s ± 20 %)

box = t.sandbox('lilac-notify-email.')
broker = t.Broker(box)
fakes = {}                          # name: Fake
notifiers = {}                      # name: Notifier


# ----------------------------------------------------------------- helpers

class Fake:
    """smtp_fake.py with its port, its JSON log and its script."""

    def __init__(self, name, *options):
        self.name = name
        self.port_file = box.file(f'{name}.port')
        self.script = box.file(f'{name}.script')
        self.log = t.JsonLog(box.file(f'{name}.json'))
        self.process = t.Process(f'smtp_fake {name}', [
            PYTHON, FAKE, '--port-file', self.port_file, '--log', self.log.path,
            '--script', self.script, *options], box.file(f'{name}-fake.log'))
        self.port = None

    def start(self):
        self.process.start()

    def wait_port(self):
        def port():
            try:
                with open(self.port_file) as file:
                    return int(file.read())
            except (FileNotFoundError, ValueError):
                assert self.process.running(), f'{self.process.name} exited at start'
                return None
        self.port = t.wait_until(port, f'{self.name} to listen', timeout=10)

    def write_script(self, *lines):
        """The fake's answers to come; only while it answers nothing else."""
        temporary = self.script + '.test.tmp'
        with open(temporary, 'w') as file:
            file.write(''.join(f'{line}\n' for line in lines))
        os.replace(temporary, self.script)

    def script_left(self):
        try:
            with open(self.script) as file:
                return [line for line in file.read().splitlines() if line.strip()]
        except FileNotFoundError:
            return []

    def messages(self, alert=None):
        """Its DATA entries (every attempt, accepted or not); with alert
        ("SRC/ID"), those whose X-Lilac-Alert is it."""
        return self.log.entries(lambda entry: entry['stage'] == 'DATA' and (
            alert is None or header(entry, 'X-Lilac-Alert') == alert))

    def wait_messages(self, count, alert=None, answer=None, timeout=DEADLINE):
        def check():
            found = [entry for entry in self.messages(alert)
                     if answer is None or entry['answer'].startswith(answer)]
            return found if len(found) >= count else None
        try:
            return t.wait_until(check, f'{count} message(s) {alert or ""} at {self.name}',
                                timeout)
        except t.Timeout as error:
            raise t.Timeout(f'{error}; its log: {self.log.lines()[-5:]}') from None


class Notifier:
    """bin/lilac-notify-email with a config of its own."""

    def __init__(self, name, email_section, rules, args=()):
        self.name = name
        self.state_dir = box.file(f'state-{name}')
        self.config = box.write(f'{name}.conf', (
            'notifier\n'
            f'    events = {broker.publish}\n'
            f'    control = {broker.control}\n'
            f'    state_dir = {self.state_dir}\n'
            '    broker_silence = 0\n'
            '\n'
            'email\n' + ''.join(f'    {line}\n' for line in email_section) + '\n'
            + rules))
        self.log = t.Log(box.file(f'{name}.log'))
        self.process = t.Process(f'lilac-notify-email {name}',
                                 [t.program('lilac-notify-email'), '-c', self.config, *args],
                                 self.log.path)

    def start(self):
        self.process.start()

    def wait_synced(self):
        """The first sync (the broker's `ping`) writes the cursor file: from
        then on no change is missed."""
        cursor = os.path.join(self.state_dir, 'cursor')

        def synced():
            assert self.process.running(), f'{self.process.name} exited at start'
            return os.path.exists(cursor)
        t.wait_until(synced, f'{self.name} to sync with the broker', timeout=10)


def header(entry, name):
    """One header of a logged message, raw (folded lines joined), or None."""
    head = entry['data'].split('\r\n\r\n', 1)[0]
    for line in re.sub(r'\r\n[ \t]', ' ', head).split('\r\n'):
        key, _, value = line.partition(':')
        if key.lower() == name.lower():
            return value.strip()
    return None


def parse(entry):
    return email.message_from_string(entry['data'], policy=email.policy.default)


def body(message):
    return message.get_content().replace('\r\n', '\n')


def fnv1a64(data):
    value = 0xcbf29ce484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return value


def thread_root(source, id):
    """mail_message.h: lilac-alert-HEX16@DOMAIN, FNV-1a of source and id,
    each with its NUL."""
    hash = fnv1a64(source.encode() + b'\0' + id.encode() + b'\0')
    return f'<lilac-alert-{hash:016x}@{DOMAIN}>'


def seq_of(alert):
    """The broker's seq of the alert's last change."""
    found = broker.get(*alert.split('/'))
    assert found, f'{alert} not at the broker'
    return found['seq']


def no_problems(entries):
    for entry in entries:
        # seen failing: ["x"] expected instead of [].
        assert entry['problems'] == [], f'the fake found problems: {entry["problems"]}'


def plain_server(port):
    return [f'url = smtp://127.0.0.1:{port}', 'starttls = no', f'from = "{FROM}"',
            f'domain = {DOMAIN}', f'url_base = {URL_BASE}']


def rule(name, source, to, on='raised,acked,cleared'):
    return f'rule = {name}\n    source = {source}\n    on = {on}\n    to = "{to}"\n\n'


# ----------------------------------------------------------------- setup

@t.case('setup: a broker, five SMTP fakes and five notifiers start and sync')
def _():
    broker.start()
    cert, key = box.file('cert.pem'), box.file('key.pem')
    made = subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
                           '-subj', '/CN=localhost',
                           '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
                           '-days', '2', '-keyout', key, '-out', cert],
                          capture_output=True, text=True, timeout=30)
    assert made.returncode == 0, f'openssl: {made.stderr}'
    tls = ['--tls-cert', cert, '--tls-key', key]
    fakes['plain'] = Fake('plain')
    fakes['starttls'] = Fake('starttls', *tls, '--require-starttls',
                             '--auth', f'user:{PASSWORD}')
    fakes['smtps'] = Fake('smtps', *tls, '--implicit-tls')
    fakes['script'] = Fake('script')
    fakes['digest'] = Fake('digest')
    for fake in fakes.values():
        fake.start()
    for fake in fakes.values():
        fake.wait_port()

    password_file = box.write('smtp.password', PASSWORD + '\n')
    os.chmod(password_file, 0o600)
    notifiers['plain'] = Notifier('plain', plain_server(fakes['plain'].port),
                                  rule('threaded', 'c1', 'Ops <ops@example.org>, b@example.org')
                                  + rule('last', 'c7', 'last@example.org'))
    # -v: whatever it logs at its most verbose must not hold the password
    notifiers['starttls'] = Notifier('starttls', [
        f'url = smtp://127.0.0.1:{fakes["starttls"].port}', 'starttls = yes',
        f'ca_file = {cert}', 'username = user', f'password_file = {password_file}',
        f'from = "{FROM}"', 'to = tls@example.org'], rule('secure', 'c2', 'tls@example.org'),
        args=['-v'])
    notifiers['smtps'] = Notifier('smtps', [
        f'url = smtps://127.0.0.1:{fakes["smtps"].port}', f'ca_file = {cert}',
        f'from = "{FROM}"'], rule('implicit', 'c3', 'smtps@example.org'))
    notifiers['script'] = Notifier('script', plain_server(fakes['script'].port)
                                   + ['timeout = 1s'],
                                   rule('scripted', 'c4', 'script@example.org', on='raised'))
    notifiers['digest'] = Notifier('digest', plain_server(fakes['digest'].port)
                                   + ['group_wait = 2s'],
                                   rule('grouped', 'c5', 'digest@example.org', on='raised'))
    for notifier in notifiers.values():
        notifier.start()
    for notifier in notifiers.values():
        notifier.wait_synced()


# ----------------------------------------------------------------- 1

@t.case('1. raise, ack, clear: three threaded messages, UTF-8 headers and body, '
        'envelope, dot lines, link')
def _():
    fake, log = fakes['plain'], notifiers['plain'].log
    started = time.time()
    broker.send('c1', 'disk1', summary=SUMMARY, detail=DETAIL)
    fake.wait_messages(1, 'c1/disk1')            # one at a time: their order is sure
    broker.lilac('ack', 'c1', 'disk1', '--by', 'tester', '--note', 'on it')
    fake.wait_messages(2, 'c1/disk1')
    broker.lilac('clear', 'c1', 'disk1')
    entries = fake.wait_messages(3, 'c1/disk1')
    log.wait_for(r'cleared c1/disk1: rule threaded: delivered \(to ', timeout=DEADLINE)
    no_problems(entries)
    # seen failing: 2 expected here (the clear's message then made it 3).
    assert len(fake.messages('c1/disk1')) == 3, 'more than three messages'
    messages = [parse(entry) for entry in entries]

    # seen failing: events expected in the order raised, cleared, acked.
    assert [m['X-Lilac-Event'] for m in messages] == ['raised', 'acked', 'cleared'], \
        [m['X-Lilac-Event'] for m in messages]
    for entry, message in zip(entries, messages):
        # the envelope (seen failing: b@example.org expected as "B <b@...>")
        assert entry['answer'].startswith('250'), entry['answer']
        assert entry['mail_from'] == 'lilac@lilac.test', entry['mail_from']
        assert entry['rcpt_tos'] == ['ops@example.org', 'b@example.org'], entry['rcpt_tos']
        for name in ('Date', 'From', 'To', 'Subject', 'Message-ID', 'In-Reply-To',
                     'References'):
            assert header(entry, name), f'no {name} header'
        sent = email.utils.parsedate_to_datetime(message['Date']).timestamp()
        # seen failing: a bound of started + 3600 (an hour late).
        assert started - 60 <= sent <= time.time() + 60, f'Date {message["Date"]}'
        assert [(a.display_name, a.addr_spec) for a in message['From'].addresses] == \
            [('Lilac Test', 'lilac@lilac.test')], message['From']
        assert [(a.display_name, a.addr_spec) for a in message['To'].addresses] == \
            [('Ops', 'ops@example.org'), ('', 'b@example.org')], message['To']
        # Subject: RFC 2047 on the wire, the summary once decoded (seen
        # failing: "disque plein ✔", U+2714 for U+2713)
        raw_subject = header(entry, 'Subject')
        assert raw_subject.isascii() and '=?UTF-8?' in raw_subject.upper(), raw_subject
        assert SUMMARY in message['Subject'], message['Subject']
        assert message['X-Lilac-Event'].upper() in message['Subject'], message['Subject']
        # body: quoted-printable, decoded right, the detail's dot lines
        # intact and the link (seen failing: the detail with ".." for ".")
        assert message['Content-Transfer-Encoding'].lower() == 'quoted-printable', \
            message['Content-Transfer-Encoding']
        assert message.get_content_charset().lower() == 'utf-8'
        text = body(message)
        assert SUMMARY in text, text
        assert DETAIL in text, f'the detail is not intact in: {text!r}'
        # seen failing: URL_BASE + '/alerts/c1/disk1' (a doubled /)
        assert 'https://lilac.example.org/alerts/c1/disk1' in text, text

    # threading (seen failing: the root of ("c1", "disk2") expected)
    ids = [m['Message-ID'] for m in messages]
    assert len(set(ids)) == 3, f'Message-IDs not unique: {ids}'
    root = thread_root('c1', 'disk1')
    for message in messages:
        assert message['In-Reply-To'] == root, (message['In-Reply-To'], root)
        assert message['References'] == root, (message['References'], root)
        assert message['Message-ID'].endswith(f'@{DOMAIN}>'), message['Message-ID']


# ----------------------------------------------------------------- 2, 3

@t.case('2. STARTTLS required, a CA file, AUTH from password_file: delivered over TLS '
        'as "user", the password never in the log')
def _():
    fake, notifier = fakes['starttls'], notifiers['starttls']
    broker.send('c2', 'tls', summary='over TLS')
    [entry] = fake.wait_messages(1, 'c2/tls', answer='250')
    notifier.log.wait_for(r'raised c2/tls: rule secure: delivered \(to tls@example.org; 250')
    no_problems([entry])
    # seen failing: auth_user "lilac" expected; tls false expected; with
    # starttls = no (the fake's 530, nothing delivered); with a wrong
    # password in the file (535)
    assert entry['tls'] is True, entry
    assert entry['auth_user'] == 'user', entry['auth_user']
    assert entry['rcpt_tos'] == ['tls@example.org'], entry['rcpt_tos']
    # nothing refused on the way (no "530 Must issue a STARTTLS command first")
    refused = fake.log.entries(lambda e: e['stage'] != 'DATA')
    assert refused == [], f'the fake refused: {refused}'
    # -v's log, and its AUTH PLAIN / LOGIN encodings. seen failing: with
    # "SMTP smtp://" (a text the log holds) added to the list
    text = notifier.log.text()
    for secret in (PASSWORD, base64.b64encode(PASSWORD.encode()).decode(),
                   base64.b64encode(f'\0user\0{PASSWORD}'.encode()).decode()):
        assert secret not in text, f'{secret!r} is in the notifier log'


@t.case('3. smtps:// against an implicit-TLS server: delivered over TLS')
def _():
    fake, notifier = fakes['smtps'], notifiers['smtps']
    broker.send('c3', 'implicit', summary='TLS from the first byte')
    [entry] = fake.wait_messages(1, 'c3/implicit', answer='250')
    notifier.log.wait_for(r'raised c3/implicit: rule implicit: delivered \(to ')
    no_problems([entry])
    # seen failing: tls false expected; with url = smtp:// and starttls = no
    # against it (nothing delivered)
    assert entry['tls'] is True, entry
    assert entry['rcpt_tos'] == ['smtps@example.org'], entry['rcpt_tos']


# ----------------------------------------------------------------- 4

@t.case('4a. a 451 then a 250: retried, delivered once')
def _():
    fake, log = fakes['script'], notifiers['script'].log
    fake.write_script('451 4.3.0 try again later', '250 2.0.0 queued at last')
    broker.send('c4', 'busy', summary='busy server')
    seq = seq_of('c4/busy')
    # seen failing: "452" looked for in the retry line
    log.wait_for(rf'seq {seq} raised c4/busy for rule scripted: .*451 4\.3\.0 try again later'
                 r'.*; attempt 1 failed, retrying in \d+ ms')
    log.wait_for(rf'seq {seq} raised c4/busy: rule scripted: delivered after retrying '
                 r'\(to script@example.org; 250 2\.0\.0 queued at last', timeout=DEADLINE)
    entries = fake.messages('c4/busy')
    # seen failing: 1 attempt expected
    assert [e['answer'] for e in entries] == ['451 4.3.0 try again later',
                                              '250 2.0.0 queued at last'], entries
    assert len({header(e, 'Message-ID') for e in entries}) == 1, 'the retry is a new message'
    assert fake.script_left() == [], fake.script_left()
    no_problems(entries)


@t.case('4b. a 550: given up at once, with the server\'s words')
def _():
    fake, log = fakes['script'], notifiers['script'].log
    fake.write_script('550 5.1.1 no such user')
    broker.send('c4', 'gone', summary='no such user')
    seq = seq_of('c4/gone')
    # seen failing: "5.1.2" looked for
    [line] = log.wait_for(rf'giving up on seq {seq} for rule scripted: .*550 5\.1\.1 no such user')
    assert ' after ' not in line.split('for rule scripted:')[0], line
    assert log.count(rf'seq {seq} .*retrying') == 0, 'a 5xx was retried'
    # seen failing: 2 attempts expected
    answers = [e['answer'] for e in fake.messages('c4/gone')]
    assert answers == ['550 5.1.1 no such user'], answers


@t.case('4c. a server that never answers, timeout = 1s: timed out, retried, delivered once')
def _():
    fake, log = fakes['script'], notifiers['script'].log
    fake.write_script('hang')
    start = time.monotonic()
    broker.send('c4', 'slow', summary='a hung server')
    seq = seq_of('c4/slow')
    fake.wait_messages(1, 'c4/slow', answer='hang')
    # seen failing: "attempt 5 failed" looked for
    [line] = log.wait_for(rf'seq {seq} raised c4/slow for rule scripted: '
                          r'.*; attempt 1 failed, retrying in \d+ ms')
    assert re.search(r'tim(e|ed) ?out', line, re.I), f'not a timeout: {line}'
    # seen failing: with timeout = 500ms
    assert time.monotonic() - start >= 0.9, 'timed out before its 1 s'
    log.wait_for(rf'seq {seq} raised c4/slow: rule scripted: delivered',
                 timeout=DEADLINE)
    answers = [e['answer'] for e in fake.messages('c4/slow')]
    # seen failing: ['hang', '250 OK', '250 OK'] expected
    assert answers == ['hang', '250 OK'], answers
    # The script allowed the second attempt: it must be the one delivered.
    # (Fails today: the second attempt reuses the timed-out connection, on
    # which the fake still hangs, and times out in turn; the third, on a new
    # connection, is delivered: "attempt 2 failed" is logged.)
    failed = log.lines(rf'seq {seq} raised c4/slow for rule scripted: .*attempt \d+ failed')
    assert len(failed) == 1, 'the attempt after the timeout failed too:\n' + '\n'.join(failed)


# ----------------------------------------------------------------- 5

@t.case('5. group_wait = 2s: three alerts raised within it go out as one digest')
def _():
    fake, log = fakes['digest'], notifiers['digest'].log
    before = time.time()
    broker.lilac('send', '-o', 'c5', '-i', 'disk', '-s', 'disque plein',
                 '-i', 'load', '-s', 'charge haute', '-i', 'swap', '-s', 'swap épuisé')
    log.wait_for(r'raised c5/\w+: rule grouped: delivered \(to digest@example.org; '
                 r'in a digest; 250', count=3, timeout=DEADLINE)
    entries = fake.messages()
    # seen failing: with group_wait = 0 (three messages)
    assert len(entries) == 1, f'{len(entries)} messages, not one digest'
    [entry] = entries
    no_problems(entries)
    # seen failing: the bound before + 3 s
    assert entry['at'] >= before * 1000 + 2000 - 10, 'sent before group_wait was over'
    assert entry['rcpt_tos'] == ['digest@example.org'], entry['rcpt_tos']
    message = parse(entry)
    # seen failing: "4" expected
    assert message['X-Lilac-Changes'] == '3', message['X-Lilac-Changes']
    assert '3 changes' in message['Subject'], message['Subject']
    text = body(message)
    for alert, summary in (('c5/disk', 'disque plein'), ('c5/load', 'charge haute'),
                           ('c5/swap', 'swap épuisé')):
        assert alert in text and summary in text, f'{alert} not in the digest: {text!r}'


# ----------------------------------------------------------------- 6

GOOD = {
    'notifier': ['events = tcp://127.0.0.1:1', 'control = tcp://127.0.0.1:2'],
    'email': ['url = smtp://127.0.0.1:25', 'starttls = no', 'from = lilac@example.org',
              'to = ops@example.org'],
    'rule': ['on = raised'],
}


def config_lines(email_lines, rule_lines):
    """A config's lines; the number of the line that holds mark."""
    lines = ['notifier'] + [f'    {x}' for x in GOOD['notifier']] + ['', 'email']
    lines += [f'    {x}' for x in email_lines] + ['', 'rule = everything']
    lines += [f'    {x}' for x in rule_lines]
    return lines


def check_config(name, email_lines, rule_lines, marks):
    """-n on a config: exit 1 and FILE:LINE for the line of each mark."""
    lines = config_lines(email_lines, rule_lines)
    path = box.write(name, '\n'.join(lines) + '\n')
    result = subprocess.run([t.program('lilac-notify-email'), '-c', path, '-n'],
                            capture_output=True, text=True, timeout=10)
    output = result.stdout + result.stderr
    assert result.returncode == 1, f'{name}: exit {result.returncode}: {output}'
    for mark, why in marks:
        number = next(n for n, line in enumerate(lines, 1) if mark in line)
        assert re.search(rf'{re.escape(path)}:{number}: .*{why}', output), \
            f'{name}: no "{path}:{number}: ...{why}" in: {output}'


@t.case('6. -n: the shipped config is OK; bad to lists, {nonsense}, an http:// url, '
        'a rule with no `to` anywhere: exit 1 with FILE:LINE; five bad keys: all five named')
def _():
    result = subprocess.run([t.program('lilac-notify-email'), '-c', SHIPPED, '-n'],
                            capture_output=True, text=True, timeout=10)
    assert result.returncode == 0 and 'configuration OK' in result.stdout, \
        f'exit {result.returncode}: {result.stdout}{result.stderr}'
    email_good = GOOD['email']
    # seen failing: each with its line number + 1
    check_config('bad-to.conf', email_good[:3] + ['to = "Ops <ops@example.org, b@"'],
                 GOOD['rule'] + ['to = "not an address"'],
                 [('Ops <ops', 'email/to'), ('not an address', 'rule everything: to')])
    check_config('bad-template.conf', email_good + ['subject = "[lilac] {nonsense}"'],
                 GOOD['rule'], [('{nonsense}', r'email/subject: .*nonsense')])
    check_config('bad-url.conf', ['url = http://127.0.0.1:25'] + email_good[1:], GOOD['rule'],
                 [('http://', 'email/url: .*smtp')])
    check_config('no-to.conf', email_good[:3], GOOD['rule'],
                 [('rule = everything', 'rule everything has no `to`')])
    # every error of the section in one run, not only the first
    # (seen failing: before the section was read in independent steps)
    check_config('many.conf', ['url = http://127.0.0.1:25', 'from = nobody', 'to = "a@"',
                               'subject = "{nonsense}"', 'timeout = soon'], GOOD['rule'],
                 [('http://', 'email/url'), ('nobody', 'email/from'), ('"a@"', 'email/to'),
                  ('{nonsense}', 'email/subject'), ('soon', 'email/timeout')])


# ----------------------------------------------------------------- 7

@t.case('7. SIGTERM: the notifiers with nothing in flight exit 0')
def _():
    # One submission hung first (7b), so that every notifier gets its SIGTERM
    # at once and the idle ones show they are not held up by it.
    fake = fakes['plain']
    fake.write_script('hang')
    broker.send('c7', 'last', summary='the last word')
    fake.wait_messages(1, 'c7/last', answer='hang')
    for each in notifiers.values():
        each.process.send_signal(signal.SIGTERM)
    for name, each in notifiers.items():
        if name == 'plain':
            continue
        # seen failing: exit status 1 expected
        status = each.process.wait_exit(timeout=5)
        assert status == 0, f'{each.name}: exit status {status}'
        each.log.wait_for(r'Terminated: exiting at seq \d+', timeout=1)


@t.case('7b. SIGTERM while the server has not answered the end of DATA: exits 0 within 5 s')
def _():
    notifier = notifiers['plain']
    # (Fails today: libcurl waits for the reply to the end of DATA in a
    # blocking poll, so the signal is read only after `timeout` (30 s here),
    # and curl_multi_cleanup then waits up to 120 s for the reply to QUIT on
    # the hung connection: with timeout = 3s, exit 0 came after 123 s.)
    status = notifier.process.wait_exit(timeout=5)
    assert status == 0, f'exit status {status}'
    notifier.log.wait_for(r'Terminated: exiting at seq \d+', timeout=1)


sys.exit(t.finish())
