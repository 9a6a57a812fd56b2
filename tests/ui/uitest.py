"""uitest.py — what the browser tests of lilac's web UI share.

The tests in tests/ui/test_*.py drive the real programs: a lilac-broker and
a lilac-web started here as children, on free 127.0.0.1 ports, in a temp
directory (the sandbox), and a headless Chromium through chromedriver
(python3-selenium, never Selenium Manager: nothing is fetched from the
network). What is not about the browser or lilac-web — the sandbox,
free_port, Process, Broker (its config and the CLI), @case, wait_until,
holds_for, finish — is tests/lib/lilactest.py's, and is also to be had
from here under the same names. This module adds:

- Web: a lilac-web, its config file and the HTTP API as the tests call it;
- Browser: a Chromium with the few helpers the cases use (log in, find an
  alert's row, wait for a condition, click, press keys, screenshots);
- to @case: before each case the browsers' consoles are drained; after a
  failed one, what each browser saw (its address, console and a
  screenshot in the sandbox) is noted;
- to every wait: Selenium's "not there yet" exceptions count as false.

Children are killed at exit (lilactest: atexit, SIGTERM and SIGINT turned
into a normal exit, and PR_SET_PDEATHSIG should this process be killed
outright); the browsers are quit first, so a test never leaves a broker, a
lilac-web or a chromedriver behind.
"""

import base64
import json
import os
import signal
import subprocess
import sys
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
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'lib'))
import lilactest                    # noqa: E402
from lilactest import (BIN, DEADLINE, REPO, Broker, Process, Sandbox,   # noqa: E402,F401
                       Timeout, case, die_with_parent, finish, free_port, holds_for,
                       note, program, wait_until)

_die_with_parent = die_with_parent
SCREENSHOTS = os.environ.get('UI_SCREENSHOTS') == '1'
SCREENSHOT_DIR = os.path.join(HERE, 'screenshots')

#   How long a page load may take (a page that never loads is a failure).
PAGE_LOAD = 10.0
#   A file must end well within tests/run's 120 s even when every case runs
#   into its deadline: past this many seconds, cases are reported failed
#   without being run.
BUDGET = lilactest.BUDGET = float(os.environ.get('UI_BUDGET', '95'))

#   UI_CASES="01 06": run only the cases whose names begin so (while
#   working on the UI; the others are skipped, and say so).
if os.environ.get('UI_CASES'):
    lilactest.ONLY = os.environ['UI_CASES'].replace(',', ' ').split()

_browsers = []                  # Browser objects still to quit at exit

#   An element re-rendered or not there yet is "not yet" to every wait.
lilactest.NOT_YET += [StaleElementReferenceException, NoSuchElementException]


def _drain_consoles():
    for browser in _browsers:
        browser.drain_console()


def _diagnose_browsers(failures):
    for number, browser in enumerate(_browsers):
        browser.diagnose(f'fail-{failures}-{number}')


def _quit_browsers():
    for browser in list(_browsers):
        browser.quit()


lilactest.before_case.append(_drain_consoles)
lilactest.after_failure.append(_diagnose_browsers)
lilactest.at_cleanup.append(_quit_browsers)


def sandbox():
    """The one sandbox of this test file."""
    return lilactest.sandbox('lilac-ui.')


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
                 f'    state_dir = {box.file("web")}',
                 #   no heartbeat alert of its own (test_web checks it): the
                 #   pages' counts are the alerts each case sends
                 '    heartbeat = 0']
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
