"""Fixtures for the browser end-to-end tests: the `sio-chat` demo server and headless Chromium pages.

- `chat_server`: a `sio-chat` process of this test's own on a free loopback port (SIGTERM afterwards). It can be
  stopped and started again on the same port (`.stop()`, `.start()`, `.restart()`), for the restart test.
  Every test using it runs twice: against `sio-chat` with one loop and with `--loops 2` (ids `1loop`, `2loops`;
  `SIO_BROWSER_LOOPS=1` or `=2` keeps one of them). With two loops `open_chat` puts the n-th page of a server on
  loop n % 2 (it reopens the page until its Engine.IO session id, whose first letter names the loop, says so), so
  that the pages of a test talk across loops; `ChatTab.loop()` tells a page's loop.
- `browser`: one headless Chromium for the session: Debian's /usr/bin/chromium driven by Playwright (no browser
  download). Override the executable with $CHROMIUM. It accepts the test certificates of `tls_pki` (made with the
  openssl CLI, Tests/tls/certs.py) through `--ignore-certificate-errors-spki-list` (their public keys' hashes).
- `tls_chat_server`: `sio-chat --tls-cert/--tls-key` with `tls_pki`'s server certificate, at https://127.0.0.1:PORT.
- `open_chat`: opens the chat page in a fresh browser context (its own cookies and sessionStorage, like another
  person's browser) and waits for the server's `welcome`; returns a `ChatTab` (see below).

The binary is $SIO_BIN_DIR/sio-chat (default .build/debug). $SIO_SERVER_CMD replaces it with any command line
serving the same contract, with `{host}`, `{port}`, `{client_js}` and `{loops}` placeholders (without `{loops}`
the two-loop runs are skipped). The client bundle comes from
$SIO_CLIENT_JS, default .cache/client-js/socket.io.min.js (scripts/fetch-client-js.sh puts it there).
On a failure the report gets the server's log and each page's console; a screenshot of each open page is saved
under artifacts/failures/.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import pathlib
import re
import shlex
import signal
import socket
import subprocess
import tempfile
import time

import sys

import pytest
from playwright.sync_api import Page, expect, sync_playwright

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "tls"))
import certs  # noqa: E402
ARTIFACTS = ROOT / "artifacts"
HOST = "127.0.0.1"
SERVER_NAME = "sio-chat"
START_TIMEOUT = 15.0
STOP_GRACE = 5.0
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CLIENT_JS = pathlib.Path(os.environ.get("SIO_CLIENT_JS") or ROOT / ".cache" / "client-js" / "socket.io.min.js")
CLIENT_JS_SHA256 = "b0e735814f8dcfecd6cdb8a7ce95a297a7e1e5f2727a29e6f5901801d52fa0c5"
UI_TIMEOUT_MS = 10_000
# The loop counts every test runs against (SIO_BROWSER_LOOPS="1" or "2" keeps one).
LOOP_COUNTS = [int(n) for n in os.environ.get("SIO_BROWSER_LOOPS", "1,2").split(",") if n.strip()]
# Engine.IO session ids of a multi-loop server start with the letter naming their loop.
LOOP_MARKS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
PLACEMENT_ATTEMPTS = 40
# Disconnects the page's socket and resolves once its Engine.IO connection has closed (the DISCONNECT and CLOSE
# packets written).
LEAVE = """
() => new Promise((resolve) => {
  const engine = window.socket.io.engine;
  const timer = setTimeout(resolve, 3000);
  engine.once('close', () => { clearTimeout(timer); setTimeout(resolve, 50); });
  window.socket.io.reconnection(false);
  window.socket.disconnect();
})
"""

expect.set_options(timeout=UI_TIMEOUT_MS)

_live: list["ChatServer"] = []


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _server_command(port: int, loops: int = 1, extra: list[str] | None = None) -> list[str]:
    if not CLIENT_JS.is_file():
        pytest.fail(f"{CLIENT_JS} missing: run scripts/bootstrap-browser.sh (or scripts/fetch-client-js.sh)",
                    pytrace=False)
    if hashlib.sha256(CLIENT_JS.read_bytes()).hexdigest() != CLIENT_JS_SHA256:
        pytest.fail(f"{CLIENT_JS} is not socket.io-client 4.8.1 (sha256 mismatch): run scripts/fetch-client-js.sh",
                    pytrace=False)
    custom = os.environ.get("SIO_SERVER_CMD")
    if custom:
        if loops != 1 and "{loops}" not in custom:
            pytest.skip("SIO_SERVER_CMD has no {loops} placeholder: the two-loop run is skipped")
        return [part.format(port=port, host=HOST, client_js=CLIENT_JS, loops=loops) for part in shlex.split(custom)]
    bin_dir = pathlib.Path(os.environ.get("SIO_BIN_DIR") or ROOT / ".build" / "debug")
    binary = bin_dir / SERVER_NAME
    if not os.access(binary, os.X_OK):
        pytest.fail(f"{binary} not found or not executable: build it (swift build) or set SIO_BIN_DIR", pytrace=False)
    cmd = [str(binary), "--host", HOST, "--port", str(port), "--client-js", str(CLIENT_JS)] + (extra or [])
    return cmd + (["--loops", str(loops)] if loops != 1 else [])


class ChatServer:
    """One `sio-chat` process; its log (stdout and stderr, all starts appended) goes to a temporary file."""

    def __init__(self, name: str, loops: int = 1, args: list[str] | None = None, scheme: str = "http"):
        self.name = name
        self.loops = loops
        self.tabs_opened = 0  # pages open_chat placed on this server (the next goes to loop tabs_opened % loops)
        self.args = list(args or [])
        self.scheme = scheme
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.starts = 0
        log = tempfile.NamedTemporaryFile(prefix=f"sio-chat-{name}-", suffix=".log", delete=False)
        self.log_path = log.name
        log.close()
        self.keep_log = False

    def start(self, port: int | None = None) -> "ChatServer":
        """Starts the server on `port` (the previous port when restarting, a free one at first)."""
        if port is None:
            port = self.port or None
        fixed = port is not None
        deadline = time.monotonic() + START_TIMEOUT
        last = ""
        while True:
            self.port = port if fixed else _free_port()
            cmd = _server_command(self.port, self.loops, self.args)
            with open(self.log_path, "ab") as log:
                log.write(f"--- start #{self.starts + 1}: {shlex.join(cmd)}\n".encode())
                log.flush()
                self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True)
            self.starts += 1
            if self not in _live:
                _live.append(self)
            if self._wait_ready(deadline):
                return self
            last = f"{shlex.join(cmd)} (exit status {self.proc.poll()})"
            self.stop()
            if time.monotonic() >= deadline:
                raise RuntimeError(f"{last} did not accept connections on port {self.port} within "
                                   f"{START_TIMEOUT} s\n--- server log ---\n{self.log_text()}")
            time.sleep(0.2)  # a port just released, or taken by someone else between probe and bind: try again

    def _wait_ready(self, deadline: float) -> bool:
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after a grace period. Returns the exit status."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        if self in _live:
            _live.remove(self)
        return proc.returncode

    def restart(self) -> None:
        self.stop()
        self.start(self.port)

    def close(self) -> None:
        self.stop()
        if not self.keep_log:
            try:
                os.unlink(self.log_path)
            except OSError:
                pass

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{HOST}:{self.port}"

    def __str__(self) -> str:
        return self.url

    def log_text(self, limit: int = 30_000) -> str:
        try:
            data = pathlib.Path(self.log_path).read_bytes()
        except OSError as e:
            return f"(no log: {e})"
        if len(data) > limit:
            data = b"[... %d bytes cut ...]\n" % (len(data) - limit) + data[-limit:]
        return data.decode("utf-8", "replace")


@atexit.register
def _kill_leftovers() -> None:
    for srv in list(_live):
        srv.stop()


class ChatTab:
    """One person's tab on the chat page."""

    def __init__(self, page: Page, name: str):
        self.page = page
        self.name = name
        self.console: list[str] = []
        self.errors: list[str] = []
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    # -- state -------------------------------------------------------------------------------------------------
    def js(self, expression: str, arg=None):
        return self.page.evaluate(expression, arg)

    @property
    def nickname(self) -> str:
        return self.js("window.chat.nickname")

    @property
    def connected(self) -> bool:
        return self.js("window.socket.connected")

    def transport(self) -> str:
        return self.js("window.socket.io.engine ? window.socket.io.engine.transport.name : ''")

    def engine_id(self) -> str:
        return self.js("window.socket.io.engine ? window.socket.io.engine.id || '' : ''")

    def loop(self, loops: int) -> int:
        """The loop of a `loops`-loop server serving this page, read from its Engine.IO session id."""
        if loops == 1:
            return 0
        sid = self.engine_id()
        assert sid and sid[0] in LOOP_MARKS[:loops], f"session id {sid!r} names no loop of {loops}"
        return LOOP_MARKS.index(sid[0])

    def wait_for(self, expression: str, timeout_ms: int = UI_TIMEOUT_MS, arg=None):
        return self.page.wait_for_function(expression, arg=arg, timeout=timeout_ms)

    def wait_ready(self, timeout_ms: int = UI_TIMEOUT_MS) -> None:
        self.wait_for("window.chat && window.chat.ready && window.socket.connected", timeout_ms)

    # -- actions through the UI --------------------------------------------------------------------------------
    def send(self, text: str) -> None:
        self.page.fill("#input", text)
        self.page.click("#form button")
        expect(self.page.locator("#input")).to_have_value("")

    def set_nickname(self, name: str) -> None:
        self.page.fill("#nickname", name)
        self.page.click("#nick-save")
        self.wait_for("(n) => window.chat.nickname === n", arg=name)
        expect(self.page.locator("#nickname")).to_have_value(name)

    # -- what the page shows -----------------------------------------------------------------------------------
    def message(self, text: str, nickname: str | None = None):
        loc = self.page.locator("#messages > li.msg").filter(
            has=self.page.locator(".text", has_text=re.compile("^" + re.escape(text) + "$")))
        if nickname is not None:
            loc = loc.filter(has=self.page.locator(".nick", has_text=re.compile("^" + re.escape(nickname) + "$")))
        return loc

    def expect_message(self, text: str, nickname: str | None = None, timeout_ms: int = UI_TIMEOUT_MS):
        loc = self.message(text, nickname)
        expect(loc).to_have_count(1, timeout=timeout_ms)
        return loc

    def messages(self) -> list[dict]:
        return self.page.eval_on_selector_all(
            "#messages > li.msg",
            "els => els.map(e => ({nickname: e.querySelector('.nick').textContent,"
            " text: e.querySelector('.text').textContent, mine: e.classList.contains('mine')}))")

    def notice(self, pattern: str):
        return self.page.locator("#messages > li.notice", has_text=re.compile(pattern))


def pytest_generate_tests(metafunc):
    """Every test using chat_server runs with each of LOOP_COUNTS; `@pytest.mark.chat_loops(2)` restricts one."""
    if "chat_loops" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("chat_loops")
        counts = [n for n in LOOP_COUNTS if marker is None or n in marker.args]
        metafunc.parametrize("chat_loops", counts, ids=[f"{n}loop{'s' if n > 1 else ''}" for n in counts],
                             indirect=True)


@pytest.fixture
def chat_loops(request) -> int:
    """The loop count of this test's sio-chat (every test using chat_server runs with each of LOOP_COUNTS)."""
    return getattr(request, "param", 1)


@pytest.fixture
def chat_server(request, chat_loops):
    srv = ChatServer(re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)[:40], loops=chat_loops)
    request.node._chat_servers = getattr(request.node, "_chat_servers", []) + [srv]
    srv.start()
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="session")
def tls_pki(tmp_path_factory) -> certs.PKI:
    return certs.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_chat_server(request, tls_pki):
    srv = ChatServer(re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)[:40],
                     args=["--tls-cert", str(tls_pki.server.chain), "--tls-key", str(tls_pki.server.key)], scheme="https")
    request.node._chat_servers = getattr(request.node, "_chat_servers", []) + [srv]
    srv.start()
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="session")
def browser(tls_pki):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found: run scripts/bootstrap-browser.sh", pytrace=False)
    # The test certificates' keys are trusted by hash (the test root is not in Chromium's store).
    spki = ",".join(pair.spki_sha256_base64() for pair in (tls_pki.server, tls_pki.renewed))
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                               args=[f"--ignore-certificate-errors-spki-list={spki}"])
    except Exception:
        pw.stop()
        raise
    yield b
    b.close()
    pw.stop()


@pytest.fixture
def open_chat(request, browser, chat_server):
    """open_chat(query="", name=None, wait=True, viewport=None) -> ChatTab, in a browser context of its own."""
    contexts = []
    tabs: list[ChatTab] = []
    request.node._chat_tabs = tabs

    def _open(query: str = "", name: str | None = None, wait: bool = True, viewport: dict | None = None,
              server: ChatServer | None = None, loop: int | None = None) -> ChatTab:
        """With a multi-loop server (and `wait`), the page lands on `loop`, by default the next in turn."""
        srv = server or chat_server
        want = None
        if wait and srv.loops > 1:
            want = srv.tabs_opened % srv.loops if loop is None else loop
            srv.tabs_opened += 1
        for _attempt in range(PLACEMENT_ATTEMPTS):
            context = browser.new_context(viewport=viewport or {"width": 1000, "height": 720},
                                          color_scheme="light", locale="en-US", timezone_id="UTC")
            context.set_default_timeout(UI_TIMEOUT_MS)
            contexts.append(context)
            tab = ChatTab(context.new_page(), name or f"tab{len(tabs) + 1}")
            tabs.append(tab)
            tab.page.goto(f"{srv.url}/{query}")
            if wait:
                tab.wait_ready()
            if want is None or tab.loop(srv.loops) == want:
                return tab
            # On the other loop: this person leaves and tries again (others may see them come and go). Leave
            # cleanly first: a tab closed between two polling requests would only be noticed at the ping timeout,
            # and linger in the online count meanwhile.
            tabs.remove(tab)
            contexts.remove(context)
            try:
                tab.js(LEAVE)
            finally:
                context.close()
        pytest.fail(f"no page landed on loop {want} of {srv.loops} in {PLACEMENT_ATTEMPTS} attempts", pytrace=False)

    yield _open

    failed = getattr(request.node, "_chat_failed", False)
    if failed:
        out = ARTIFACTS / "failures"
        out.mkdir(parents=True, exist_ok=True)
        for tab in tabs:
            try:
                tab.page.screenshot(path=str(out / f"{request.node.name[:80]}-{tab.name}.png"), timeout=5000)
            except Exception:
                pass
    for context in contexts:
        try:
            context.close()
        except Exception:
            pass
    errors = [f"{t.name}: {e}" for t in tabs for e in t.errors]
    if errors and not failed:
        pytest.fail("uncaught errors in the page:\n" + "\n".join(errors), pytrace=False)


@pytest.fixture
def artifacts_dir() -> pathlib.Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        item._chat_failed = True
        for srv in getattr(item, "_chat_servers", []):
            srv.keep_log = True
            report.sections.append((f"sio-chat log ({srv.log_path}) [{report.when}]", srv.log_text() or "(empty)"))
        for tab in getattr(item, "_chat_tabs", []):
            text = "\n".join(tab.console[-200:] + [f"pageerror: {e}" for e in tab.errors])
            report.sections.append((f"browser console of {tab.name} [{report.when}]", text or "(empty)"))
    return report
