"""lilactest.py — what lilac's Python tests of real programs share.

The tests that drive the real programs (tests/ui/test_*.py through
tests/ui/uitest.py, tests/notify/test_*.py) start a lilac-broker and the
programs under test as children, on free 127.0.0.1 ports, in a temp
directory (the sandbox). This module keeps what every such test needs, and
nothing about a browser (no selenium import here):

- the sandbox, removed at exit — kept, with the tail of each log printed,
  when a case failed;
- free_port, Process (a child, its output in a log of the sandbox), Log (a
  log file read as lines: count, wait for a line), Broker (its config, the
  CLI: `lilac send`, `lilac get`...);
- PgCluster: a real PostgreSQL of the test's own (tests/lib/pg_cluster),
  on a Unix socket in a directory of the sandbox, stopped at exit;
- @case(NAME): runs a function as one case and prints `ok - NAME` or
  `not ok - NAME` with the traceback as `# ` lines;
- wait_until / holds_for: every wait polls a condition against a deadline —
  no sleep is ever taken as a sign that something happened;
- finish(): stops everything; the test file's exit status.

Children are killed at exit (atexit, SIGTERM and SIGINT turned into a normal
exit, and PR_SET_PDEATHSIG should this process be killed outright), so a
test never leaves a broker or a notifier behind.

Hooks for a harness built on this one (uitest.py): NOT_YET (exceptions a
wait counts as "not yet"), before_case and after_failure (called with the
case's number of failures so far), and at_cleanup (run before the children
are stopped). BUDGET and ONLY may be set by such a harness too.
"""

import atexit
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN = os.path.join(REPO, os.environ.get('LILAC_BIN', 'bin'))

#   How long a condition may take before the case fails.
DEADLINE = 5.0
#   A file must end well within tests/run's 120 s even when every case runs
#   into its deadline: past this many seconds, cases are reported failed
#   without being run.
BUDGET = float(os.environ.get('LILAC_TEST_BUDGET', '95'))
#   Names (their first word) of the only cases to run; empty: all.
ONLY = os.environ.get('LILAC_CASES', '').replace(',', ' ').split()

#   Exceptions that a wait counts as "not yet" (uitest adds Selenium's).
NOT_YET = []
#   Callables: before_case(); after_failure(failures) after a failed case
#   was reported; at_cleanup() before the children are stopped.
before_case = []
after_failure = []
at_cleanup = []

_started = time.monotonic()
_failed = []                    # names of the failed cases
_processes = []                 # Process objects still to stop at exit
_clusters = []                  # PgCluster objects still to stop at exit
_sandbox = None

sys.stdout.reconfigure(line_buffering=True)


def note(text):
    """A diagnostic line (or lines) in the TAP output."""
    for line in str(text).splitlines() or ['']:
        print('# ' + line)


# ----------------------------------------------------------------- waiting

class Timeout(AssertionError):
    pass


def wait_until(condition, what, timeout=DEADLINE, interval=0.05):
    """Polls condition() until it returns a true value, which is returned.
    Exceptions in NOT_YET count as false. Past timeout: Timeout naming
    what was awaited and the last value seen."""
    end = time.monotonic() + timeout
    last = None
    not_yet = tuple(NOT_YET)
    while True:
        try:
            last = condition()
            if last:
                return last
        except not_yet as error:
            last = f'{type(error).__name__}'
        if time.monotonic() >= end:
            raise Timeout(f'timed out after {timeout:g} s waiting for {what} (last: {last!r})')
        time.sleep(interval)


def holds_for(condition, what, seconds, interval=0.05):
    """Asserts condition() stays true for seconds: for what must not happen
    (a script running late, say), there is nothing else to wait for."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = condition()
        assert value, f'{what} (got {value!r})'
        time.sleep(interval)


# ----------------------------------------------------------------- cases

def case(name):
    """A decorator that runs the function at once as one case: `ok - NAME`,
    or `not ok - NAME` with the exception (and what after_failure adds).
    The function is replaced by whether it passed. Past the file's time
    budget the case is reported failed without being run.

        @case('the list shows an alert')
        def _():
            ...
    """
    def run(body):
        if ONLY and name.split()[0] not in ONLY:
            note(f'skipped (not in the cases asked for): {name}')
            return False
        for hook in before_case:
            hook()
        if time.monotonic() - _started > BUDGET:
            _failed.append(name)
            print(f'not ok - {name}')
            note(f"not run: the file's time budget ({BUDGET:g} s) is spent")
            return False
        start = time.monotonic()
        try:
            body()
        except Exception:
            _failed.append(name)
            print(f'not ok - {name}')
            note(traceback.format_exc().rstrip())
            note(f'after {time.monotonic() - start:.1f} s')
            for process in _processes:
                if not process.running():
                    note(f'{process.name} is not running: exit status {process.popen.returncode}')
            for hook in after_failure:
                hook(len(_failed))
            return False
        print(f'ok - {name}')
        return True
    return run


def finish():
    """Stops everything; the exit status for the test file."""
    _cleanup()
    return 1 if _failed else 0


def failed():
    """Names of the cases failed so far."""
    return list(_failed)


# ----------------------------------------------------------------- sandbox

class Sandbox:
    """A temp directory for configs, databases and logs."""

    #   logs not shown when the sandbox is kept (too chatty to help)
    QUIET_LOGS = ('.driver.log',)

    def __init__(self, prefix='lilac-test.'):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def file(self, name):
        return os.path.join(self.path, name)

    def write(self, name, text):
        with open(self.file(name), 'w') as out:
            out.write(text)
        return self.file(name)

    def close(self, keep):
        if not keep:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        note(f'sandbox kept: {self.path}')
        for name in sorted(os.listdir(self.path)):
            if name.endswith('.log') and not name.endswith(self.QUIET_LOGS):
                note(f'--- {name} (last 30 lines) ---')
                with open(self.file(name), errors='replace') as log:
                    note(''.join(log.readlines()[-30:]).rstrip())


def sandbox(prefix='lilac-test.'):
    """The one sandbox of this test file (prefix: its name's start, the
    first call decides)."""
    global _sandbox
    if _sandbox is None:
        _sandbox = Sandbox(prefix)
    return _sandbox


_ports = set()


def free_port():
    """A port no one listens on now (bound on 127.0.0.1:0 and released);
    never the same twice in one file."""
    while True:
        with socket.socket() as probe:
            probe.bind(('127.0.0.1', 0))
            port = probe.getsockname()[1]
        if port not in _ports:
            _ports.add(port)
            return port


# ----------------------------------------------------------------- logs

class Log:
    """A log file read as it grows (from the start, every time: the files
    of a test are small)."""

    def __init__(self, path):
        self.path = path

    def text(self):
        try:
            with open(self.path, errors='replace') as log:
                return log.read()
        except FileNotFoundError:
            return ''

    def lines(self, pattern=None):
        """Its complete lines; with pattern (a regex), those it is found
        in."""
        text = self.text()
        lines = text.split('\n')[:-1]       # a line still being written is not one yet
        if pattern is None:
            return lines
        regex = re.compile(pattern)
        return [line for line in lines if regex.search(line)]

    def count(self, pattern):
        return len(self.lines(pattern))

    def wait_for(self, pattern, count=1, timeout=DEADLINE):
        """Waits for count lines matching pattern; the first count of them."""
        seen = {}

        def check():
            seen['lines'] = self.lines(pattern)
            return len(seen['lines']) >= count
        try:
            wait_until(check, f'{count} line(s) matching {pattern!r} in '
                       f'{os.path.basename(self.path)}', timeout)
        except Timeout as error:
            raise Timeout(f'{error}; matching so far: {seen.get("lines")}') from None
        return seen['lines'][:count]


class JsonLog(Log):
    """A log of one JSON object a line."""

    def entries(self, condition=lambda entry: True):
        return [entry for entry in map(json.loads, self.lines()) if condition(entry)]

    def wait_entries(self, condition, count=1, what='entries', timeout=DEADLINE):
        """Waits for count entries that satisfy condition; all of them seen
        by then."""
        seen = {}

        def check():
            seen['entries'] = self.entries(condition)
            return len(seen['entries']) >= count
        try:
            wait_until(check, f'{count} {what} in {os.path.basename(self.path)}', timeout)
        except Timeout as error:
            raise Timeout(f'{error}; found {len(seen.get("entries") or [])}') from None
        return seen['entries']


# ----------------------------------------------------------------- processes

_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent():
    """In a child before exec: SIGKILL it when this process dies, whatever
    kills it."""
    _libc.prctl(1, signal.SIGKILL)          # PR_SET_PDEATHSIG


class Process:
    """One child program, its output in a log file of the sandbox. env:
    variables added to this process's environment (None as a value
    removes one)."""

    def __init__(self, name, argv, log, env=None):
        self.name, self.argv, self.log = name, argv, log
        self.env = env
        self.popen = None

    def start(self):
        environment = None
        if self.env:
            environment = dict(os.environ)
            for key, value in self.env.items():
                if value is None:
                    environment.pop(key, None)
                else:
                    environment[key] = value
        with open(self.log, 'a') as log:
            self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, env=environment,
                                          preexec_fn=die_with_parent)
        _processes.append(self)

    def running(self):
        return self.popen is not None and self.popen.poll() is None

    def send_signal(self, sig):
        """Sends sig (by its pid) to the running child."""
        assert self.running(), f'{self.name} is not running'
        self.popen.send_signal(sig)

    def wait_exit(self, timeout=DEADLINE):
        """Waits for the child to end by itself; its exit status (a
        negative one: the signal that killed it). Timeout if it does not."""
        try:
            status = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Timeout(f'{self.name} did not exit within {timeout:g} s') from None
        if self in _processes:
            _processes.remove(self)
        return status

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Signals the child (by its pid) and reaps it; SIGKILL when it does
        not end within timeout."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        if self in _processes:
            _processes.remove(self)
        self.popen = None


def program(name):
    return os.path.join(BIN, name)


class Broker:
    """A lilac-broker of its own, and the CLI pointed at it."""

    def __init__(self, box):
        self.box = box
        self.ingest, self.publish, self.control = (
            f'tcp://127.0.0.1:{free_port()}' for _ in range(3))
        self.config = box.write('broker.conf', (
            'broker\n'
            f'    ingest = {self.ingest}\n'
            f'    publish = {self.publish}\n'
            f'    control = {self.control}\n'
            f'    database = {box.file("lilac.db")}\n'))
        self.process = Process('lilac-broker', [program('lilac-broker'), '-c', self.config],
                               box.file('broker.log'))

    def start(self):
        self.process.start()
        wait_until(lambda: self.lilac('stats', check=False).returncode == 0
                   or not self.process.running(),
                   'lilac stats to answer', timeout=10)
        assert self.process.running(), 'lilac-broker exited at start (see broker.log)'

    def stop(self):
        self.process.stop()

    def lilac(self, *args, check=True):
        """`lilac -C CONTROL ARGS...`; with check, a non-zero exit raises
        with its stderr."""
        result = subprocess.run([program('lilac'), '-C', self.control, *args],
                                capture_output=True, text=True, timeout=15)
        if check and result.returncode != 0:
            raise AssertionError(f'lilac {" ".join(args)}: exit {result.returncode}: '
                                 f'{result.stderr.strip()}')
        return result

    def send(self, source, id, raise_='now', summary=None, level=None, labels=None,
             subject=None, detail=None):
        """`lilac send` of one event; returns time.time() when it returned
        (the broker has committed it)."""
        args = ['send', '-o', source, '-i', id, '-r', raise_]
        for option, value in (('-s', summary), ('-l', level), ('-u', subject),
                              ('-d', detail)):
            if value is not None:
                args += [option, value]
        for key, value in (labels or {}).items():
            args += ['--label', f'{key}={value}']
        self.lilac(*args)
        return time.time()

    def get(self, source, id):
        """The alert as `lilac get --json` prints it, or None."""
        result = self.lilac('get', source, id, '--json', check=False)
        return json.loads(result.stdout) if result.returncode == 0 else None

    def wait_alert(self, source, id, condition, what, timeout=DEADLINE):
        """Polls `lilac get` until condition(alert) holds; the alert."""
        seen = {}

        def check():
            seen['alert'] = self.get(source, id)
            return seen['alert'] is not None and condition(seen['alert'])
        try:
            wait_until(check, what, timeout, interval=0.1)
        except Timeout as error:
            raise Timeout(f'{error}; at the broker: {json.dumps(seen.get("alert"))}') from None
        return seen['alert']

    def silences(self):
        return json.loads(self.lilac('silence', 'list', '--json').stdout or '[]')


# ----------------------------------------------------------------- postgresql

PG_CLUSTER = os.path.join(HERE, 'pg_cluster')
PSQL = '/usr/lib/postgresql/15/bin/psql'


class PgCluster:
    """A PostgreSQL 15 of this test's own (tests/lib/pg_cluster): its files
    and Unix socket in a directory `name` of the sandbox, no TCP. start()
    returns the URI (libpq's, for a broker's `database =`); stop() is a
    fast shutdown, immediate if that misses its deadline; start() again
    restarts the same cluster. Stopped at exit whatever happened. Also a
    context manager (stopped on leaving the block).

        with PgCluster(sandbox()) as pg:
            pg.psql('CREATE TABLE t (x int)')
    """

    def __init__(self, box, name='pg'):
        #   Short: the socket's path must fit in 107 bytes. As root, the
        #   server runs as another user (lilac-test), who must get through
        #   the sandbox to its directory: search, not read.
        self.dir = box.file(name)
        if os.geteuid() == 0:
            os.chmod(box.path, os.stat(box.path).st_mode | 0o001)
        os.makedirs(self.dir, exist_ok=True)
        self.uri = None

    def _run(self, command, timeout=60):
        result = subprocess.run([PG_CLUSTER, command, self.dir], capture_output=True,
                                text=True, timeout=timeout)
        if result.returncode != 0:
            raise AssertionError(f'pg_cluster {command} {self.dir}: exit {result.returncode}: '
                                 f'{result.stderr.strip()}')
        return result.stdout.strip()

    def start(self):
        if self not in _clusters:
            _clusters.append(self)
        self.uri = self._run('start')
        return self.uri

    def stop(self):
        self._run('stop')
        if self in _clusters:
            _clusters.remove(self)

    def psql(self, sql, check=True, timeout=DEADLINE):
        """Runs sql (one or more statements) in one psql session; the
        rows of the last as text, `|` between columns, one line a row.
        With check, an error raises with psql's message."""
        result = subprocess.run([PSQL, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
                                 '-d', self.uri, '-c', sql], capture_output=True, text=True,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f'psql {sql!r}: exit {result.returncode}: '
                                 f'{result.stderr.strip()}')
        return result.stdout.rstrip('\n')

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exception):
        self.stop()
        return False


# ----------------------------------------------------------------- exit

_cleaned = False


def _cleanup():
    """Runs at_cleanup, stops the children, removes (or keeps) the
    sandbox. Runs once: from finish(), else at exit."""
    global _cleaned
    if _cleaned:
        return
    _cleaned = True
    try:
        for hook in at_cleanup:
            hook()
    finally:
        for process in list(reversed(_processes)):
            process.stop()
        for cluster in list(_clusters):
            try:
                cluster.stop()
            except Exception as error:      # noqa: BLE001 — reported, the rest still stops
                note(f'stopping PostgreSQL in {cluster.dir}: {error}')
        if _sandbox is not None:
            _sandbox.close(keep=bool(_failed))


def _on_signal(number, frame):
    """SIGTERM (tests/run's time limit) or SIGINT: a failure, reported, and
    an exit through _cleanup, which keeps the sandbox and shows the logs."""
    name = f'interrupted by {signal.Signals(number).name}'
    _failed.append(name)
    print(f'not ok - {name}')
    raise SystemExit(128 + number)


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)
