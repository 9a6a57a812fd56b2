"""uitest.py — what the browser tests of lilac's web UI share.

The tests in tests/ui/test_*.py drive the real programs: a lilac-broker and
a lilac-web started here as children, on free 127.0.0.1 ports, in a temp
directory (the sandbox), and a headless Chromium through chromedriver
(python3-selenium, never Selenium Manager: nothing is fetched from the
network). This module keeps what every such test needs:

- the sandbox, removed at exit — kept, with the tail of each log printed,
  when a case failed;
- Broker and Web: the two processes, their config files, the CLI (`lilac
  send`, `lilac get`...) and the HTTP API as the tests call them;
- Browser: a Chromium with the few helpers the cases use (log in, find an
  alert's row, wait for a condition, click, press keys, screenshots);
- @case(NAME): runs a function as one case and prints `ok - NAME` or
  `not ok - NAME` with the traceback as `# ` lines, and what the browser
  saw (its address, console and a screenshot in the sandbox);
- wait_until: every wait polls a condition against a deadline — no sleep
  is ever taken as a sign that something happened.

Children are killed at exit (atexit, SIGTERM and SIGINT turned into a normal
exit, and PR_SET_PDEATHSIG should this process be killed outright), so a
test never leaves a broker, a lilac-web or a chromedriver behind.
"""

import atexit
import base64
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import (ElementClickInterceptedException,
                                        ElementNotInteractableException,
                                        NoAlertPresentException,
                                        NoSuchElementException,
                                        StaleElementReferenceException,
                                        TimeoutException as SeleniumTimeout,
                                        WebDriverException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.remote_connection import RemoteConnection
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN = os.path.join(REPO, os.environ.get('LILAC_BIN', 'bin'))
SCREENSHOTS = os.environ.get('UI_SCREENSHOTS') == '1'
SCREENSHOT_DIR = os.path.join(HERE, 'screenshots')

#   How long a condition may take before the case fails: what the UI shows
#   after a change at the broker, or the broker after an act in the UI.
DEADLINE = 5.0
#   How long a page load may take (a page that never loads is a failure).
PAGE_LOAD = 10.0
#   A file must end well within tests/run's 120 s even when every case runs
#   into its deadline: past this many seconds, cases are reported failed
#   without being run.
BUDGET = float(os.environ.get('UI_BUDGET', '95'))

#   UI_CASES="01 06": run only the cases whose names begin so (while
#   working on the UI; the others are skipped, and say so).
_only = os.environ.get('UI_CASES', '').replace(',', ' ').split()

_started = time.monotonic()
_failed = []                    # names of the failed cases
_processes = []                 # Process objects still to stop at exit
_browsers = []                  # Browser objects still to quit at exit
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
    Exceptions that mean "not yet" (an element re-rendered or not there yet)
    count as false. Past timeout: Timeout naming what was awaited and the
    last value seen."""
    end = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = condition()
            if last:
                return last
        except (StaleElementReferenceException, NoSuchElementException) as error:
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
    or `not ok - NAME` with the exception, the browsers' state and a
    screenshot in the sandbox. The function is replaced by whether it
    passed. Past the file's time budget the case is reported failed
    without being run.

        @case('the list shows an alert')
        def _():
            ...
    """
    def run(body):
        if _only and name.split()[0] not in _only:
            note(f'skipped (UI_CASES): {name}')
            return False
        for browser in _browsers:
            browser.drain_console()
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
            for number, browser in enumerate(_browsers):
                browser.diagnose(f'fail-{len(_failed)}-{number}')
            return False
        print(f'ok - {name}')
        return True
    return run


def finish():
    """Stops everything; the exit status for the test file."""
    _cleanup()
    return 1 if _failed else 0


# ----------------------------------------------------------------- sandbox

class Sandbox:
    """A temp directory for configs, databases and logs."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix='lilac-ui.')

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
            if name.endswith('.log') and not name.endswith('.driver.log'):
                note(f'--- {name} (last 30 lines) ---')
                with open(self.file(name), errors='replace') as log:
                    note(''.join(log.readlines()[-30:]).rstrip())


def sandbox():
    """The one sandbox of this test file."""
    global _sandbox
    if _sandbox is None:
        _sandbox = Sandbox()
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


# ----------------------------------------------------------------- processes

_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    """In a child before exec: SIGKILL it when this process dies, whatever
    kills it."""
    _libc.prctl(1, signal.SIGKILL)          # PR_SET_PDEATHSIG


class Process:
    """One child program, its output in a log file of the sandbox."""

    def __init__(self, name, argv, log):
        self.name, self.argv, self.log = name, argv, log
        self.popen = None

    def start(self):
        with open(self.log, 'a') as log:
            self.popen = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT,
                                          preexec_fn=_die_with_parent)
        _processes.append(self)

    def running(self):
        return self.popen is not None and self.popen.poll() is None

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


class Web:
    """A lilac-web of its own. users: {name: (password, role)} with role
    admin, reader or sender; none means authentication off."""

    def __init__(self, box, broker, users=None):
        self.box, self.broker, self.users = box, broker, users or {}
        self.port = free_port()
        self.base = f'http://127.0.0.1:{self.port}'
        lines = ['web',
                 f'    listen = "127.0.0.1:{self.port}"',
                 f'    control = "{broker.control}"',
                 f'    events = "{broker.publish}"',
                 f'    state_dir = {box.file("web")}']
        if self.users:
            lines.append(f'    users = "{box.file("users")}"')
            for role in ('admin', 'reader', 'sender'):
                names = [name for name, (_, has) in self.users.items() if has == role]
                if names:
                    lines.append(f'    {role}s = {", ".join(names)}')
        self.config = box.write('web.conf', '\n'.join(lines) + '\n')
        for name, (password, _) in self.users.items():
            subprocess.run([program('lilac-web'), '-c', self.config, 'user', 'add', name],
                           input=password + '\n', text=True, check=True,
                           capture_output=True, timeout=30)
        self.process = Process('lilac-web', [program('lilac-web'), '-c', self.config],
                               box.file('web.log'))

    def url(self, path):
        return self.base + path

    def start(self):
        """Starts it and waits for /healthz 200 (the broker reached, the
        change feed live)."""
        self.process.start()
        wait_until(lambda: self.healthy() or not self.process.running(),
                   'lilac-web /healthz 200', timeout=10)
        assert self.process.running(), 'lilac-web exited at start (see web.log)'

    def healthy(self):
        try:
            with urllib.request.urlopen(self.url('/healthz'), timeout=2) as answer:
                return answer.status == 200
        except (OSError, urllib.error.HTTPError):
            return False

    def stop(self, sig=signal.SIGTERM):
        self.process.stop(sig)

    def api(self, method, path, body=None, user=None):
        """One HTTP request; user names the Basic credentials. (status,
        the answer's JSON, or its text when it is not JSON)."""
        headers = {}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers['Content-Type'] = 'application/json'
        if user:
            secret = f'{user}:{self.users[user][0]}'.encode()
            headers['Authorization'] = 'Basic ' + base64.b64encode(secret).decode()
        request = urllib.request.Request(self.url(path), data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, text = answer.status, answer.read().decode()
        except urllib.error.HTTPError as answer:
            status, text = answer.code, answer.read().decode()
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def send_events(self, source, alerts, user=None, batch=2000):
        """POST /api/events in batches; every event must be accepted."""
        for start in range(0, len(alerts), batch):
            status, answer = self.api('POST', '/api/events',
                                      {'source': source, 'alerts': alerts[start:start + batch]},
                                      user)
            assert status == 200 and not answer['refused'], \
                f'POST /api/events: {status} {str(answer)[:300]}'

    def alerts(self, user=None, query=''):
        """GET /api/alerts: lilac-web's own copy."""
        status, answer = self.api('GET', '/api/alerts' + query, user=user)
        assert status == 200, f'GET /api/alerts: {status} {answer}'
        return answer['alerts']


# ----------------------------------------------------------------- browser

def alert_path(source, id):
    """/alerts/SOURCE/ID as the UI writes it (encodeURIComponent)."""
    return ('/alerts/' + urllib.parse.quote(source, safe="!~*'()") + '/'
            + urllib.parse.quote(id, safe="!~*'()"))


#   Rows of the list as plain data, so that a re-render between two calls
#   never leaves the test holding a stale element.
_ROWS_JS = """
return [...document.querySelectorAll('#alerts tbody tr')].map(row => ({
    group: row.classList.contains('group'),
    source: row.dataset.source, id: row.dataset.id, state: row.dataset.state,
    level: row.dataset.level, className: row.className,
    text: row.textContent.replace(/\\s+/g, ' ').trim(),
    labels: [...row.querySelectorAll('td.labels button.chip')].map(c => c.dataset.label),
    cells: Object.fromEntries([...row.querySelectorAll('td')]
        .filter(td => td.className)
        .map(td => [td.className.split(' ')[0], td.textContent.trim()])),
}));
"""

_ROW_JS = """
const row = [...document.querySelectorAll('#alerts tbody tr.alert')]
    .find(row => row.dataset.source === arguments[0] && row.dataset.id === arguments[1]);
return row && arguments[2] ? row.querySelector(arguments[2]) : row || null;
"""


class Browser:
    """A headless Chromium (through /usr/bin/chromedriver) at lilac-web.

    The back/forward cache is off unless asked for: the cases load pages
    by their address far more often than a person would, and the cache
    keeps each page left behind alive, its event stream open, until
    Chromium's six connections to one host are taken and the next page
    load waits forever. The UI must cope with that (a case checks it, with
    the cache on); the other cases should not fail for it."""

    def __init__(self, box, base, width=1280, height=800, name='chrome',
                 back_forward_cache=False):
        self.base = base
        options = webdriver.ChromeOptions()
        options.binary_location = '/usr/bin/chromium'
        features = 'Translate,OptimizationHints,MediaRouter'
        if not back_forward_cache:
            features += ',BackForwardCache'
        self.profile = box.file(name)
        for argument in ('--headless=new', '--no-sandbox', '--disable-gpu',
                         '--disable-dev-shm-usage', f'--user-data-dir={self.profile}',
                         f'--window-size={width},{height}',
                         #   nothing but lilac-web on 127.0.0.1: no updates,
                         #   no sync, no telemetry, no keyring
                         '--no-first-run', '--no-default-browser-check',
                         '--disable-background-networking', '--disable-component-update',
                         '--disable-sync', '--disable-default-apps', '--disable-extensions',
                         '--no-pings', '--disable-domain-reliability', '--metrics-recording-only',
                         '--disable-client-side-phishing-detection', '--password-store=basic',
                         '--use-mock-keychain', f'--disable-features={features}'):
            options.add_argument(argument)
        #   an alert() the page opens stays open for the test to find
        options.set_capability('unhandledPromptBehavior', 'ignore')
        options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
        service = Service('/usr/bin/chromedriver', log_path=box.file(f'{name}.driver.log'),
                          popen_kw={'preexec_fn': _die_with_parent})
        self.box, self.name = box, name
        #   no WebDriver command may hang the test: page loads and scripts
        #   have shorter limits of their own
        RemoteConnection.set_timeout(60)
        self.driver = webdriver.Chrome(service=service, options=options)
        _browsers.append(self)
        self.driver.set_script_timeout(15)
        self.driver.set_page_load_timeout(PAGE_LOAD)
        self.viewport(width, height)

    def quit(self):
        """Ends the browser and its chromedriver; a Chromium process of
        its profile that outlived them is killed (by its pid)."""
        if self in _browsers:
            _browsers.remove(self)
        try:
            self.driver.quit()
        except Exception as error:         # already gone: nothing to stop
            note(f'{self.name}: quit: {error}')
        mark = f'--user-data-dir={self.profile}'.encode()
        for pid in filter(str.isdigit, os.listdir('/proc')):
            try:
                with open(f'/proc/{pid}/cmdline', 'rb') as cmdline:
                    if mark in cmdline.read().split(b'\0'):
                        os.kill(int(pid), signal.SIGKILL)
            except OSError:                # gone meanwhile, or not ours to read
                pass

    # -- pages

    def open(self, path):
        """Loads a page of lilac-web by its address."""
        try:
            self.driver.get(self.base + path)
        except SeleniumTimeout:
            raise Timeout(f'loading {path} did not finish within {PAGE_LOAD:g} s (a page busy '
                          'or blocking its unload, or every connection to lilac-web taken)') \
                from None

    def path(self):
        """The current address less the scheme and host."""
        url = urllib.parse.urlsplit(self.driver.current_url)
        return url.path + ('?' + url.query if url.query else '')

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def js_async(self, script, *args):
        return self.driver.execute_async_script(script, *args)

    def wait(self, condition, what, timeout=DEADLINE):
        return wait_until(condition, what, timeout)

    def wait_equal(self, getter, expected, what, timeout=DEADLINE):
        """Waits for getter() == expected; on timeout says what it was."""
        seen = {}

        def check():
            seen['value'] = getter()
            return seen['value'] == expected
        try:
            wait_until(check, what, timeout)
        except Timeout:
            raise Timeout(f'timed out after {timeout:g} s waiting for {what}: '
                          f'{seen.get("value")!r}, not {expected!r}') from None

    def wait_js(self, expression, what, timeout=DEADLINE):
        """Waits for a JavaScript expression to be true; its value."""
        return wait_until(lambda: self.js('return ' + expression), what, timeout)

    def wait_ready(self, timeout=DEADLINE):
        """The list rendered for the first time (window.lilac.ready)."""
        self.wait_js('!!(window.lilac && window.lilac.ready)', 'window.lilac.ready', timeout)

    def viewport(self, width, height, mobile=False):
        """The page's viewport, exactly (device metrics emulation)."""
        self.driver.execute_cdp_cmd('Emulation.setDeviceMetricsOverride', {
            'width': width, 'height': height, 'deviceScaleFactor': 2 if mobile else 1,
            'mobile': mobile})
        self.driver.execute_cdp_cmd('Emulation.setTouchEmulationEnabled', {'enabled': mobile})

    # -- elements

    def find(self, css, timeout=DEADLINE):
        """The first element matching css, waiting for it to exist."""
        return wait_until(lambda: self.driver.find_element(By.CSS_SELECTOR, css),
                          f'an element {css}', timeout)

    def all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def shown(self, css):
        """Elements matching css that are displayed."""
        shown = []
        for element in self.all(css):
            try:
                if element.is_displayed():
                    shown.append(element)
            except StaleElementReferenceException:
                pass
        return shown

    def text(self, css):
        """The textContent of the first match, or None."""
        return self.js('const e = document.querySelector(arguments[0]);'
                       'return e ? e.textContent.replace(/\\s+/g, " ").trim() : null;', css)

    def click(self, target, timeout=DEADLINE):
        """Clicks an element once it is shown and enabled. target: a css
        selector, or a function that finds the element (None: not yet) —
        either is looked up again when the page re-rendered it meanwhile."""
        def attempt():
            if isinstance(target, str):
                element = self.driver.find_element(By.CSS_SELECTOR, target)
            else:
                element = target()
            if element is None or not (element.is_displayed() and element.is_enabled()):
                return False
            try:
                element.click()
            except (ElementClickInterceptedException, ElementNotInteractableException):
                return False
            return True
        what = target if isinstance(target, str) else getattr(target, 'what', 'the element')
        wait_until(attempt, f'{what} to be shown and clickable', timeout)

    def fill(self, css, text):
        element = self.find(css)
        element.clear()
        element.send_keys(text)

    def select(self, css, value):
        Select(self.find(css)).select_by_value(value)

    def keys(self, *keys):
        """Presses keys where the focus is (the page's body by default)."""
        ActionChains(self.driver).send_keys(*keys).perform()

    def blur(self):
        """Moves the focus back to the page's body."""
        self.js('document.activeElement && document.activeElement.blur()')

    def dialog_open(self, css):
        return self.js('const d = document.querySelector(arguments[0]); return !!(d && d.open);',
                       css)

    def alert_text(self):
        """The text of an open alert()/confirm(), or None."""
        try:
            return self.driver.switch_to.alert.text
        except NoAlertPresentException:
            return None

    # -- the list

    def rows(self):
        return self.js(_ROWS_JS)

    def row(self, source, id, inner=''):
        """The alert's tr.alert, or the element inside it that the css
        selector inner names; None when there is none."""
        return self.js(_ROW_JS, source, id, inner)

    def in_row(self, source, id, inner):
        """A finder of an element in the alert's row, for click()."""
        def find():
            return self.row(source, id, inner)
        find.what = f'{inner} in the row of {source}/{id}'
        return find

    def row_data(self, source, id):
        for row in self.rows():
            if not row['group'] and row['source'] == source and row['id'] == id:
                return row
        return None

    def wait_row(self, source, id, condition=lambda row: True, what=None, timeout=DEADLINE):
        """Waits for the alert's row to be listed and condition(row) to
        hold; the row's data."""
        def check():
            row = self.row_data(source, id)
            return row if row and condition(row) else None
        return wait_until(check, what or f'the row of {source}/{id}', timeout)

    def wait_no_row(self, source, id, what=None, timeout=DEADLINE):
        wait_until(lambda: self.row_data(source, id) is None,
                   what or f'the row of {source}/{id} to go', timeout)

    # -- sessions

    def login(self, user, password, next_path='/'):
        """Logs in through /login?next=PATH; waits to be at PATH."""
        self.open('/login?next=' + urllib.parse.quote(next_path, safe=''))
        self.fill('input#user', user)
        self.fill('input#password', password)
        self.click('button[type=submit]')
        wanted = urllib.parse.urlsplit(next_path).path
        self.wait(lambda: urllib.parse.urlsplit(self.driver.current_url).path == wanted,
                  f'login to go to {next_path}')

    def fetch(self, method, path, body=None):
        """A fetch() from the page, as its own script would send it (the
        cookie, Origin, JSON): [status, text]; [0, why] when the page went
        away (navigated) before the answer."""
        try:
            return self._fetch(method, path, body)
        except SeleniumTimeout as error:
            return [0, f'no answer: {error.msg}']

    def _fetch(self, method, path, body):
        return self.js_async("""
            const done = arguments[arguments.length - 1];
            const init = {method: arguments[0], credentials: 'same-origin',
                          headers: {'Content-Type': 'application/json'}};
            if (arguments[2] !== null) init.body = arguments[2];
            fetch(arguments[1], init)
                .then(async answer => done([answer.status, await answer.text()]))
                .catch(error => done([0, String(error)]));
            """, method, path, body)

    # -- evidence

    def screenshot(self, name):
        """With UI_SCREENSHOTS=1: tests/ui/screenshots/NAME."""
        if SCREENSHOTS:
            os.makedirs(SCREENSHOT_DIR, exist_ok=True)
            self.driver.save_screenshot(os.path.join(SCREENSHOT_DIR, name))
            note(f'screenshot: {os.path.relpath(os.path.join(SCREENSHOT_DIR, name), REPO)}')

    def drain_console(self):
        try:
            self.driver.get_log('browser')
        except WebDriverException:
            pass

    def diagnose(self, name):
        """After a failed case: the address, the console's messages since
        the case began, a screenshot in the sandbox. An open alert() is
        dismissed so the next case can drive the page."""
        try:
            text = self.alert_text()
            if text is not None:
                note(f'{self.name}: an alert() is open: {text!r}; dismissed')
                self.driver.switch_to.alert.dismiss()
            note(f'{self.name} at {self.driver.current_url}')
            for entry in self.driver.get_log('browser'):
                note(f'{self.name} console {entry.get("level")}: {entry.get("message")}')
            shot = self.box.file(f'{name}.png')
            self.driver.save_screenshot(shot)
            note(f'screenshot: {shot}')
        except Exception as error:
            note(f'{self.name}: no diagnostics: {error}')


# ----------------------------------------------------------------- exit

_cleaned = False


def _cleanup():
    """Quits the browsers, stops the children, removes (or keeps) the
    sandbox. Runs once: from finish(), else at exit."""
    global _cleaned
    if _cleaned:
        return
    _cleaned = True
    try:
        for browser in list(_browsers):
            browser.quit()
    finally:
        for process in list(reversed(_processes)):
            process.stop()
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
