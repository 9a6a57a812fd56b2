#!/usr/bin/python3
"""smtp_fake.py — a local SMTP server for lilac's e-mail tests (aiosmtpd).

usage: smtp_fake.py --port-file F --log L [--script S]
                    [--tls-cert C --tls-key K [--require-starttls] | --implicit-tls]
                    [--auth USER:PASS]

Listens on 127.0.0.1, port 0 (any free one); once it listens, the port is
written to F (a temporary file renamed onto F, so a reader never sees half
of it). Runs until SIGTERM or SIGINT.

TLS. With --tls-cert and --tls-key (PEM files) it offers STARTTLS;
--require-starttls refuses every command but EHLO, HELO, NOOP, RSET, QUIT
and STARTTLS before it ("530 Must issue a STARTTLS command first").
--implicit-tls serves TLS from the first byte instead (smtps; no STARTTLS).
A test makes its certificate at run time, into a temporary directory:

    openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost \\
        -addext subjectAltName=IP:127.0.0.1,DNS:localhost -days 2 \\
        -keyout DIR/key.pem -out DIR/cert.pem

and gives cert.pem to the client as its CA (curl --cacert DIR/cert.pem).

AUTH. --auth USER:PASS requires AUTH PLAIN or LOGIN with those credentials
before MAIL ("530 5.7.0 Authentication required"); wrong ones get "535
5.7.8". When TLS is configured, AUTH is offered and taken only over TLS.

Log. Every message, accepted or not, and every refused command appends one
JSON line to L (flushed at once):
  {"n": 1, "at": MS, "stage": "DATA", "answer": "250 OK",
   "mail_from": "a@x", "rcpt_tos": ["b@y"], "data": "the raw message",
   "tls": true, "auth_user": "lilac", "problems": []}
stage is DATA for a message (answer "hang" when it is never answered),
MAIL, RCPT, AUTH or STARTTLS for a refused command, or "command" for one
refused before aiosmtpd dispatched it (no STARTTLS yet); data is null but
for DATA. data is the message as received, dot-unstuffed, as text (bytes
that are not UTF-8 shown as U+FFFD; the problems are found on the bytes).
auth_user is who authenticated (or, at AUTH, who tried), else null.

Problems (strings) found in a message: a line over 998 octets, a bare CR
or LF, no blank line after the headers, a header line that is not one, a
missing Date, From or Message-ID header, one of Date, From, To, Subject,
Message-ID, In-Reply-To, References, MIME-Version, Content-Type,
Content-Transfer-Encoding more than once, a Date that does not parse,
non-ASCII bytes in the headers (not RFC 2047), an encoded word over 75
characters, not decodable, or not whole characters of its charset, an
8-bit byte in a 7bit body, a quoted-printable line over 76 characters, and
a body that is not valid in its charset (UTF-8 by default) once decoded.

Script. S holds one answer per line, each used once: the line is removed
from S when used (S rewritten by temp and rename), and S is read again for
every command, so a test may rewrite it between messages. A bare line
answers the next message's end of DATA; a line starting with MAIL or RCPT
(or DATA) answers the next such command. Answers: "250" (or any 2xx),
"451 4.3.0 try again later" (any 4xx or 5xx with its text), or "hang" (the
connection is kept and the command never answered, until exit). Blank
lines and lines starting with # are skipped. No S, or no line for a
command: it is accepted. A line that is none of these is answered
"554 5.3.0 smtp_fake: bad script line: ...", so a test sees its mistake.
"""

import argparse
import asyncio
import base64
import binascii
import email.utils
import json
import logging
import os
import re
import signal
import ssl
import sys
import time
import warnings

sys.dont_write_bytecode = True      # no __pycache__ in the source tree

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword   # noqa: E402

HOSTNAME = 'smtp-fake.localhost'    # no getfqdn(): it may wait for DNS
IDLE_TIMEOUT = 3600                 # seconds; a hung connection stays this long at least
LINE_MAX = 998                      # RFC 5322 §2.1.1, CRLF not counted
QP_LINE_MAX = 76                    # RFC 2045 §6.7
ENCODED_WORD_MAX = 75               # RFC 2047 §2
ONCE = ('date', 'from', 'to', 'subject', 'message-id', 'in-reply-to', 'references',
        'mime-version', 'content-type', 'content-transfer-encoding')
REQUIRED = ('Date', 'From', 'Message-ID')
ENCODED_WORD = re.compile(rb'=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=')
ANSWER = re.compile(r'^[2-5][0-9][0-9]( .*)?$')
HANG = 'hang'


# --- the message's problems ------------------------------------------------------------

def line_problems(raw):
    """Lines over 998 octets, bare CR and LF."""
    problems = []
    lines = raw.split(b'\r\n')
    if raw and lines[-1] != b'':
        problems.append('the message does not end with CRLF')
    for number, line in enumerate(lines, 1):
        if len(line) > LINE_MAX:
            problems.append(f'line {number}: {len(line)} octets, over {LINE_MAX}')
        if b'\n' in line:
            problems.append(f'line {number}: a bare LF')
        if b'\r' in line:
            problems.append(f'line {number}: a bare CR')
    return problems


def parse_headers(head, problems):
    """[(name, raw value bytes)] of an unfolded header block."""
    headers = []
    for number, line in enumerate(head.split(b'\r\n'), 1):
        if line[:1] in (b' ', b'\t') and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + line)
            continue
        name, colon, value = line.partition(b':')
        if not colon or not name or any(c < 33 or c > 126 for c in name):
            problems.append(f'header line {number} is not a header: {line[:60]!r}')
            continue
        headers.append((name.decode('ascii'), value))
    return headers


def encoded_word_problems(name, value):
    problems = []
    for match in ENCODED_WORD.finditer(value):
        word = match.group(0)
        if len(word) > ENCODED_WORD_MAX:
            problems.append(f'{name}: an encoded word of {len(word)} characters')
        charset, kind, text = (group.decode('ascii', 'replace') for group in match.groups())
        try:
            if kind in 'Bb':
                data = base64.b64decode(text, validate=True)
            else:
                data = binascii.a2b_qp(text.replace('_', ' '), header=True)
            data.decode(charset.split('*')[0])
        except (binascii.Error, ValueError, LookupError):
            problems.append(f'{name}: encoded word {word[:40]!r} is not whole {charset} characters')
    return problems


def header_problems(headers):
    problems = []
    counts = {}
    for name, value in headers:
        counts[name.lower()] = counts.get(name.lower(), 0) + 1
        if any(byte >= 0x80 for byte in value):
            problems.append(f'{name}: non-ASCII in a header (not RFC 2047)')
        problems += encoded_word_problems(name, value)
    for name in REQUIRED:
        if name.lower() not in counts:
            problems.append(f'no {name} header')
    for name in ONCE:
        if counts.get(name, 0) > 1:
            problems.append(f'{counts[name]} {name} headers')
    for name, value in headers:
        if name.lower() == 'date':
            try:
                email.utils.parsedate_to_datetime(value.decode('ascii', 'replace').strip())
            except (TypeError, ValueError):
                problems.append(f'Date does not parse: {value[:60]!r}')
    return problems


def header_value(headers, name, default):
    for header, value in headers:
        if header.lower() == name.lower():
            return value.decode('ascii', 'replace').strip()
    return default


def body_problems(headers, body):
    """The body decoded by its transfer encoding, then checked in its charset."""
    problems = []
    encoding = header_value(headers, 'Content-Transfer-Encoding', '7bit').lower()
    content_type = header_value(headers, 'Content-Type', 'text/plain; charset=us-ascii')
    found = re.search(r'charset="?([^";\s]+)"?', content_type, re.IGNORECASE)
    charset = found.group(1) if found else 'us-ascii'
    decoded = body
    if encoding == '7bit' and any(byte >= 0x80 for byte in body):
        problems.append('an 8-bit byte in a 7bit body')
    elif encoding == 'quoted-printable':
        for number, line in enumerate(body.split(b'\r\n'), 1):
            if len(line) > QP_LINE_MAX:
                problems.append(f'body line {number}: quoted-printable line of {len(line)} characters')
        decoded = binascii.a2b_qp(body)
    elif encoding == 'base64':
        try:
            decoded = base64.b64decode(b''.join(body.split()), validate=True)
        except binascii.Error:
            problems.append('the base64 body does not decode')
    if content_type.lower().startswith('text/'):
        try:
            decoded.decode(charset)
        except (UnicodeDecodeError, LookupError):
            problems.append(f'the body is not valid {charset} once decoded')
    return problems


def message_problems(raw):
    problems = line_problems(raw)
    head, blank, body = raw.partition(b'\r\n\r\n')
    if not blank:
        problems.append('no blank line after the headers')
    headers = parse_headers(head, problems)
    return problems + header_problems(headers) + (body_problems(headers, body) if blank else [])


# --- the script and the log --------------------------------------------------------------

class Script:
    """Answers from a file, each used once (see the docstring)."""

    def __init__(self, path):
        self.path = path

    @staticmethod
    def parse(line):
        """(command, answer) of one line, or None for a line to skip."""
        text = line.strip()
        if not text or text.startswith('#'):
            return None
        first, _, rest = text.partition(' ')
        command = 'DATA'
        if first.upper() in ('MAIL', 'RCPT', 'DATA'):
            command, text = first.upper(), rest.strip()
        if text == HANG or ANSWER.match(text):
            return command, text
        return command, f'554 5.3.0 smtp_fake: bad script line: {line.strip()[:80]}'

    def take(self, command):
        """The answer for command, removed from the file; None: accept."""
        if not self.path:
            return None
        try:
            with open(self.path, encoding='utf-8') as script:
                lines = script.read().splitlines()
        except FileNotFoundError:
            return None
        for index, line in enumerate(lines):
            parsed = self.parse(line)
            if parsed and parsed[0] == command:
                rest = lines[:index] + lines[index + 1:]
                temporary = f'{self.path}.{os.getpid()}.tmp'
                with open(temporary, 'w', encoding='utf-8') as script:
                    script.write(''.join(f'{kept}\n' for kept in rest))
                os.replace(temporary, self.path)
                return parsed[1]
        return None


class Log:
    """One JSON line per event, appended and flushed."""

    def __init__(self, path):
        self.file = open(path, 'a', encoding='utf-8')
        self.count = 0

    def write(self, server, stage, answer, data=None, problems=None, auth_user=None):
        self.count += 1
        envelope, session = server.envelope, server.session
        entry = {
            'n': self.count,
            'at': int(time.time() * 1000),
            'stage': stage,
            'answer': answer,
            'mail_from': envelope.mail_from if envelope else None,
            'rcpt_tos': list(envelope.rcpt_tos) if envelope else [],
            'data': data.decode('utf-8', 'replace') if data is not None else None,
            'tls': is_tls(server),
            'auth_user': auth_user or (session.auth_data if session and session.authenticated else None),
            'problems': problems or [],
        }
        self.file.write(json.dumps(entry, ensure_ascii=False) + '\n')
        self.file.flush()


def is_tls(server):
    transport = server.transport
    return bool((server.session and server.session.ssl is not None)
                or (transport is not None and transport.get_extra_info('ssl_object') is not None))


# --- the server ----------------------------------------------------------------------------

class FakeSMTP(SMTP):
    """aiosmtpd's SMTP, taking long lines (to log them) and logging refusals."""

    line_length_limit = 1 << 20     # a line over 998 octets is a logged problem, not a 500

    def __init__(self, handler, **options):
        super().__init__(handler, **options)
        self.fake_log = handler.log
        self.fake_command = None    # the command being answered, as far as we know
        self.fake_logged = False    # its refusal is logged already (by a hook)
        for name, method in list(self._smtp_methods.items()):
            self._smtp_methods[name] = self.fake_track(name, method)

    def fake_track(self, name, method):
        async def tracked(arg):
            self.fake_command = name
            self.fake_logged = False
            return await method(arg)
        return tracked

    async def push(self, status):
        text = status.decode('utf-8', 'replace') if isinstance(status, bytes) else status
        code = text[:1]             # AUTH challenges are pushed as bytes
        if code in ('4', '5') and not self.fake_logged:
            auth_user = getattr(self, 'fake_auth_tried', None) if self.fake_command == 'AUTH' else None
            self.fake_log.write(self, self.fake_command or 'command', text, auth_user=auth_user)
        if code != '3':
            self.fake_command = None
        self.fake_logged = False
        await super().push(status)


class Handler:
    def __init__(self, log, script):
        self.log = log
        self.script = script

    async def answer(self, server, command):
        """The script's answer for command: None to accept; never returns on hang."""
        answer = self.script.take(command)
        if answer == HANG:
            server.fake_log.write(server, command, HANG)
            await asyncio.Event().wait()
        if answer and answer[0] in '45':
            server.fake_log.write(server, command, answer)
            server.fake_logged = True
        return answer

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        answer = await self.answer(server, 'MAIL')
        if answer and answer[0] in '45':
            return answer
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return answer or '250 OK'

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        answer = await self.answer(server, 'RCPT')
        if answer and answer[0] in '45':
            return answer
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return answer or '250 OK'

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or b''
        problems = message_problems(data)
        answer = self.script.take('DATA')
        self.log.write(server, 'DATA', answer or '250 OK', data, problems)
        server.fake_logged = True
        if answer == HANG:
            await asyncio.Event().wait()
        return answer or '250 OK'


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        if mechanism not in ('PLAIN', 'LOGIN') or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        server.fake_auth_tried = auth_data.login.decode('utf-8', 'replace')
        if auth_data.login == user.encode() and auth_data.password == password.encode():
            return AuthResult(success=True, auth_data=server.fake_auth_tried)
        return AuthResult(success=False, handled=False)
    return check


def tls_context(options):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(options.tls_cert, options.tls_key)
    return context


def write_port(path, port):
    temporary = f'{path}.{os.getpid()}.tmp'
    with open(temporary, 'w', encoding='ascii') as file:
        file.write(f'{port}\n')
    os.replace(temporary, path)


def smtp_options(options, context):
    starttls = context if context and not options.implicit_tls else None
    result = {'hostname': HOSTNAME, 'ident': 'lilac smtp_fake', 'timeout': IDLE_TIMEOUT,
              'tls_context': starttls, 'require_starttls': bool(starttls and options.require_starttls)}
    if options.auth:
        user, _, password = options.auth.partition(':')
        result.update(auth_required=True, auth_require_tls=starttls is not None,
                      authenticator=authenticator(user, password))
    else:
        result.update(auth_require_tls=starttls is not None)
    return result


async def serve(options):
    context = tls_context(options) if options.tls_cert else None
    handler = Handler(Log(options.log), Script(options.script))
    settings = smtp_options(options, context)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: FakeSMTP(handler, **settings), '127.0.0.1', 0,
                                      ssl=context if options.implicit_tls else None)
    write_port(options.port_file, server.sockets[0].getsockname()[1])
    stop = loop.create_future()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, lambda: stop.done() or stop.set_result(None))
    await stop
    server.close()


def main():
    parser = argparse.ArgumentParser(description='A local SMTP server for tests.')
    parser.add_argument('--port-file', required=True)
    parser.add_argument('--log', required=True)
    parser.add_argument('--script')
    parser.add_argument('--tls-cert')
    parser.add_argument('--tls-key')
    parser.add_argument('--require-starttls', action='store_true')
    parser.add_argument('--implicit-tls', action='store_true')
    parser.add_argument('--auth', metavar='USER:PASS')
    options = parser.parse_args()
    if bool(options.tls_cert) != bool(options.tls_key):
        parser.error('--tls-cert and --tls-key go together')
    if (options.require_starttls or options.implicit_tls) and not options.tls_cert:
        parser.error('--require-starttls and --implicit-tls need --tls-cert and --tls-key')
    if options.require_starttls and options.implicit_tls:
        parser.error('--require-starttls is for STARTTLS, not --implicit-tls')
    if options.auth and ':' not in options.auth:
        parser.error('--auth takes USER:PASS')
    warnings.simplefilter('ignore')         # aiosmtpd warns of AUTH without TLS: wanted here
    logging.getLogger('mail.log').setLevel(logging.CRITICAL)
    asyncio.run(serve(options))


if __name__ == '__main__':
    main()
