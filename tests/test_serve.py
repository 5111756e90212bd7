"""``crm serve``: the real server process, refused without its token, and the TUI driven in a real
headless Chromium over the DevTools protocol (what a teammate's browser does, IME input included)."""

from __future__ import annotations

import base64
import contextlib
import http.client
import http.cookiejar
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crmnotes.serve import is_loopback, warning_for
from crmnotes.vault import Vault

from .conftest import Crm, run_process

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                    "(.ci/run installs it: apt-get install -y chromium)")
WAIT = 30.0  # seconds any one step may take on a loaded machine (polled: a fast machine waits far less)
DEMO_NAMES = ["星辰科技有限公司", "北京云帆教育", "杭州绿洲健康", "华东精密制造", "深圳市海豚物流", "Acme Analytics",
              "Northwind Traders"]
NOTE = "在浏览器里记录，王经理同意下周三演示数据安全方案"


def wait_for(what: str, probe: Callable[[], Any], timeout: float = WAIT) -> Any:
    """``probe()``'s first truthy value, polled until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _state_and_parent(stat: Path) -> tuple[str, int] | None:
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None  # ended while we looked
    return fields[0], int(fields[1])


def children(pid: int) -> list[int]:
    """Live child processes of ``pid`` (from /proc; zombies, already ended, do not count)."""
    return [int(stat.parent.name) for stat in Path("/proc").glob("[0-9]*/stat")
            if (found := _state_and_parent(stat)) and found[0] != "Z" and found[1] == pid]


def alive(pid: int) -> bool:
    found = _state_and_parent(Path(f"/proc/{pid}/stat"))
    return found is not None and found[0] != "Z"


def http_status(url: str, cookie: str | None = None) -> int:
    """The status after redirects, keeping the cookies they set, as a browser does."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    try:
        with opener.open(request, timeout=WAIT) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


# ------------------------------------------------------------ the server


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    url: str  # as printed, token included
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        return self.url.split("token=", 1)[1]


@pytest.fixture
def served(example_vault: Vault, tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    log = tmp_path / "serve.log"  # a file, not a pipe: nobody has to keep reading it
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "crmnotes", "--vault", str(example_vault.root), "serve",
                                    "--port", str(port)], stdout=out, stderr=subprocess.STDOUT)

    def printed_address() -> str | None:
        output = log.read_text(encoding="utf-8", errors="replace")
        if process.poll() is not None:
            pytest.fail(f"crm serve exited: {output}")
        return next((word for word in output.split() if "token=" in word), None)

    try:
        yield Served(process, wait_for("crm serve to print its address", printed_address), port)
    finally:
        for pid in children(process.pid):  # an app a failed test left running
            os.kill(pid, signal.SIGTERM)
        process.terminate()
        try:
            process.wait(WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_serve_needs_its_token_and_lists_no_directory(served: Served) -> None:
    assert served.url.startswith(f"http://127.0.0.1:{served.port}/?token=") and len(served.token) >= 32
    assert http_status(served.base + "/") == 401
    assert http_status(served.base + "/ws") == 401  # the websocket that would start an app
    assert http_status(served.base + "/static/js/textual.js") == 401
    assert http_status(served.base + "/?token=not-the-token") == 403
    assert http_status(served.base + "/", cookie=f"crmnotes_token_{served.port}=not-the-token") == 403
    cookie = f"crmnotes_token_{served.port}={served.token}"
    assert http_status(served.url) == 200  # the printed address works (redirected, token moved to a cookie)
    assert http_status(served.base + "/static/js/textual.js", cookie) == 200
    assert http_status(served.base + "/static/", cookie) in (403, 404)  # no directory listing
    assert http_status(served.base + "/static/js/", cookie) in (403, 404)
    assert http_status(served.base + "/static/%2e%2e/serve.py", cookie) in (403, 404)
    assert children(served.process.pid) == []  # no page opened: no app runs


def get(port: int, path: str, host: str = "127.0.0.1", cookie: str = "") -> tuple[http.client.HTTPResponse, str]:
    """One request, redirects not followed."""
    connection = http.client.HTTPConnection(host, port, timeout=WAIT)
    connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = connection.getresponse()
    body = response.read().decode("utf-8", "replace")
    connection.close()
    return response, body


def test_the_token_moves_to_a_cookie_and_the_page_stays_on_its_origin(served: Served) -> None:
    response, _ = get(served.port, f"/?token={served.token}&fontsize=18")
    assert response.status == 303 and response.getheader("Location") == "/?fontsize=18"  # out of the address bar
    cookie = response.getheader("Set-Cookie") or ""
    assert cookie.startswith(f"crmnotes_token_{served.port}={served.token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    cookie = cookie.split(";")[0]
    for host in ("127.0.0.1", "localhost"):  # the websocket goes where the page came from, where the cookie is
        response, page = get(served.port, "/", host, cookie)
        assert response.status == 200 and f'data-session-websocket-url="ws://{host}:{served.port}/ws"' in page
        assert response.getheader("X-Frame-Options") == "DENY"
        assert response.getheader("Referrer-Policy") == "no-referrer"
        policy = response.getheader("Content-Security-Policy") or ""  # the browser test runs the page under it
        assert "default-src 'self'" in policy and "https:" not in policy  # no web fonts from elsewhere


def test_each_websocket_runs_one_app_and_ctrl_c_ends_them(served: Served) -> None:
    import websocket  # websocket-client: what the page does, without a browser

    cookie = f"crmnotes_token_{served.port}={served.token}"
    session_url = f"ws://127.0.0.1:{served.port}/ws?width=100&height=30"
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:  # another site's page, this cookie
        websocket.create_connection(session_url, cookie=cookie, origin="http://elsewhere.example", timeout=WAIT)
    assert refused.value.status_code == 403
    assert children(served.process.pid) == []

    sessions = [websocket.create_connection(session_url, cookie=cookie, timeout=WAIT) for _ in range(2)]
    apps = wait_for("one app per session", lambda: len(found := children(served.process.pid)) == 2 and found)
    assert sessions[0].recv()  # the app draws its first frame
    served.process.send_signal(signal.SIGINT)  # Ctrl-C with both sessions open
    for session in sessions:  # read on as a browser does, until the server closes the session, then hang up
        with contextlib.suppress(websocket.WebSocketException, OSError):
            while session.recv():
                pass
        session.shutdown()
    assert served.process.wait(WAIT) == 0
    assert not any(alive(pid) for pid in apps)


def test_a_killed_server_leaves_no_app_running(served: Served) -> None:
    import websocket

    session = websocket.create_connection(f"ws://127.0.0.1:{served.port}/ws?width=100&height=30", timeout=WAIT,
                                          cookie=f"crmnotes_token_{served.port}={served.token}")
    apps = wait_for("the session's app", lambda: children(served.process.pid))
    assert session.recv()  # it runs and draws
    served.process.kill()  # no Ctrl-C: the server cannot end its sessions
    served.process.wait()
    wait_for("the orphaned app to quit", lambda: not any(alive(pid) for pid in apps))
    session.shutdown()


def test_serve_warns_off_loopback_and_fails_in_one_line(example_vault: Vault) -> None:
    # 192.0.2.1 (a documentation address) is nobody's: the warning comes, then binding fails, nothing listens.
    result = run_process("--vault", str(example_vault.root), "serve", "--host", "192.0.2.1", "--port", "8123",
                         cwd=example_vault.root)
    assert result.returncode == 2 and "token=" not in result.stdout
    warning, error = result.stderr.strip().splitlines()
    assert warning.startswith("warning: serving on 192.0.2.1") and "TLS" in warning
    assert error.startswith("crm: error: cannot listen on 192.0.2.1:8123") and "--host" in error
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = run_process("--vault", str(example_vault.root), "serve", "--port", port, cwd=example_vault.root)
    assert result.returncode == 2 and "warning" not in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.strip() == (f"crm: error: cannot listen on 127.0.0.1:{port}: Address already in use. "
                                     "Pick another port with --port (or stop what is using it).")


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.20") and not is_loopback("crm.example.lan")
    assert warning_for("127.0.0.1") is None and warning_for("localhost") is None
    assert "0.0.0.0" in (warning_for("0.0.0.0") or "")


# ------------------------------------------------------------ a headless Chromium over the DevTools protocol

# xterm.js draws on a canvas and keeps its Terminal private; this catches it as textual-serve's page
# assigns it (``this.terminal = new Terminal(...)``) so the test can read the screen's text.
CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {configurable: true, set(value) {
  Object.defineProperty(this, "terminal", {value, writable: true, configurable: true, enumerable: true});
  if (value && value.buffer && value.buffer.active) window.__crmTerminal = value;
}});
"""
READ_SCREEN = """(() => {
  const term = window.__crmTerminal;
  if (!term) return "";
  const buffer = term.buffer.active, lines = [];
  for (let row = 0; row < term.rows; row++) {
    const line = buffer.getLine(buffer.viewportY + row);
    lines.push(line ? line.translateToString(true) : "");
  }
  return lines.join("\\n");
})()"""


class Page:
    """One page target, over its DevTools websocket."""

    def __init__(self, websocket_url: str) -> None:
        import websocket  # websocket-client

        self.socket = websocket.create_connection(websocket_url, timeout=WAIT, suppress_origin=True)
        self.ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self.ids)
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.socket.recv())
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply.get("result", {})  # type: ignore[no-any-return]

    def evaluate(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def screen(self) -> str:
        return str(self.evaluate(READ_SCREEN) or "")

    def background(self, row: int, column: int) -> int:
        """The colour behind one cell (the focused widget is drawn on a lighter one)."""
        return int(self.evaluate(f"window.__crmTerminal.buffer.active.getLine({row}).getCell({column}).getBgColor()"))

    def wait_screen(self, what: str, test: Callable[[str], bool]) -> str:
        try:
            return wait_for(what, lambda: (text := self.screen()) and test(text) and text)  # type: ignore[no-any-return]
        except AssertionError as error:
            raise AssertionError(f"{error}; the page shows:\n{self.screen()}") from None

    def type_text(self, text: str) -> None:
        """Text as an input method commits it (also how a paste or plain typing reaches xterm.js)."""
        self.call("Input.insertText", text=text)

    def press(self, key: str, code: str, key_code: int, *, ctrl: bool = False, shift: bool = False, text: str = "",
              commands: tuple[str, ...] = ()) -> None:
        """One key; ``commands`` are the browser's own editing commands the key runs (paste)."""
        modifiers = (2 if ctrl else 0) | (8 if shift else 0)
        self.call("Input.dispatchKeyEvent", type="keyDown", key=key, code=code, windowsVirtualKeyCode=key_code,
                  modifiers=modifiers, text=text, commands=list(commands))
        self.call("Input.dispatchKeyEvent", type="keyUp", key=key, code=code, windowsVirtualKeyCode=key_code,
                  modifiers=modifiers)

    def close(self) -> None:
        self.socket.close()


class Chromium:
    """Debian's chromium, headless, with a new profile, never reaching past this machine."""

    def __init__(self, profile: Path) -> None:
        self.profile = profile
        self.browser: Page | None = None  # the browser-wide DevTools connection, once needed
        self.process = subprocess.Popen(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--remote-debugging-port=0", "--window-size=1600,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        self.port = wait_for("chromium's DevTools port", lambda: port_file.exists() and
                             port_file.read_text().split("\n")[0].strip())

    def targets(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=WAIT) as response:
            return [t for t in json.load(response) if t["type"] == "page"]

    def allow_clipboard(self, origin: str) -> None:
        """What a user grants when a page asks to use the clipboard (for as long as this connection lasts)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/version", timeout=WAIT) as response:
            self.browser = Page(json.load(response)["webSocketDebuggerUrl"])
        self.browser.call("Browser.grantPermissions", origin=origin,
                          permissions=["clipboardReadWrite", "clipboardSanitizedWrite"])

    def open(self, url: str) -> tuple[Page, str]:
        """A new tab on ``url``; returns it and its target id."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            target = json.load(response)
        page = Page(target["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call("Page.bringToFront")  # a headless tab has no focus of its own: keys would go nowhere
        page.call("Emulation.setFocusEmulationEnabled", enabled=True)
        page.call("Page.addScriptToEvaluateOnNewDocument", source=CATCH_TERMINAL)
        page.call("Page.navigate", url=url)
        return page, target["id"]

    def close_tab(self, target_id: str) -> None:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/close/{target_id}", timeout=WAIT):
            pass

    def quit(self) -> None:
        if self.browser is not None:
            self.browser.close()
        self.process.terminate()
        try:
            self.process.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def chromium() -> Iterator[Chromium]:
    with tempfile.TemporaryDirectory(prefix="crm-chromium-") as profile:
        browser = Chromium(Path(profile))
        try:
            yield browser
        finally:
            browser.quit()


def phone_line(screen: str) -> str:
    """The detail pane's phone row (the pane sits beside the table at this window's width)."""
    return next(line.rsplit("▏", 1)[-1] for line in screen.splitlines() if "▏ phone " in line)


def table_and_detail(screen: str) -> bool:
    return all(name in screen for name in DEMO_NAMES) and "▏ phone " in screen


@needs_chromium
def test_browser_sessions_search_log_copy_paste_and_end_with_their_tabs(served: Served, chromium: Chromium,
                                                                        example_vault: Vault, tmp_path: Path) -> None:
    first, first_target = chromium.open(served.url)
    screen = first.wait_screen("the customer table and detail", table_and_detail)
    assert "***" in phone_line(screen)  # masked until revealed
    assert len(children(served.process.pid)) == 1  # one app for this browser session

    first.evaluate("window.__crmTerminal.focus()")
    search_row = (1, 100)  # a cell of the search box, right of its text
    blurred = first.background(*search_row)
    first.type_text("/")
    # Keys go to whatever has focus when the app reads them: wait for each focus change before typing on.
    first.wait_screen("the search box to take focus", lambda _: first.background(*search_row) != blurred)
    first.type_text("数据安全")  # as a Chinese IME commits it
    screen = first.wait_screen("the search to narrow the table",
                               lambda s: "数据安全" in s and "星辰科技有限公司" in s and "北京云帆教育" not in s)
    assert "Northwind Traders" not in screen

    first.press("Enter", "Enter", 13, text="\r")  # to the table, on the one match
    first.wait_screen("the table to take focus", lambda _: first.background(*search_row) == blurred)
    first.type_text("l")
    first.wait_screen("the log form", lambda s: "Log a follow-up · 星辰科技有限公司" in s)
    first.type_text(NOTE)
    first.wait_screen("the note in the form", lambda s: NOTE[:12] in s)
    chromium.allow_clipboard(served.base)
    first.press("F7", "F7", 118)  # select the whole note
    first.press("c", "KeyC", 67, ctrl=True)  # the app copies it (OSC 52), xterm.js hands it to the browser
    wait_for("the note on the browser's clipboard", lambda: first.call(
        "Runtime.evaluate", expression="navigator.clipboard.readText()", awaitPromise=True,
        returnByValue=True)["result"].get("value") == NOTE)
    first.press("s", "KeyS", 83, ctrl=True)
    first.wait_screen("the saved notice", lambda s: "Saved" in s)
    text = example_vault.resolve("星辰科技有限公司").path.read_text(encoding="utf-8")
    assert NOTE in text and "tester" in text.split(NOTE)[0].rsplit("##", 1)[1]  # logged as the server's user
    shot = base64.b64decode(first.call("Page.captureScreenshot", format="png")["data"])
    (tmp_path / "page.png").write_bytes(shot)
    assert shot.startswith(b"\x89PNG")

    first.type_text("p")  # reveal phones: in this session only
    first.wait_screen("the phone revealed", lambda s: "8000" in phone_line(s) and "***" not in phone_line(s))

    second, _ = chromium.open(served.url)
    screen = second.wait_screen("a second session's table and detail", table_and_detail)
    assert "***" in phone_line(screen)  # the other tab's reveal is not this one's
    assert len(children(served.process.pid)) == 2
    second.evaluate("window.__crmTerminal.focus()")
    blurred = second.background(*search_row)
    second.type_text("/")
    second.wait_screen("the search box to take focus", lambda _: second.background(*search_row) != blurred)
    second.press("V", "KeyV", 86, ctrl=True, shift=True, commands=("paste",))  # the browser pastes its clipboard
    second.wait_screen("the pasted note to find its customer",
                       lambda s: NOTE in s.splitlines()[1] and "星辰科技有限公司" in s and "北京云帆教育" not in s)
    Crm(example_vault.root)("log", "星辰", "--note", "命令行记录，陈总确认周三见面", "--by", "张伟")
    second.wait_screen("the change made outside to show live", lambda s: "命令行记录，陈总确认周三见面" in s)

    first.close()
    chromium.close_tab(first_target)
    wait_for("the closed tab's app to end", lambda: len(children(served.process.pid)) == 1)
    second.close()
    chromium.process.kill()  # a browser that dies without closing anything
    wait_for("the killed browser's app to end", lambda: not children(served.process.pid))
    assert served.process.poll() is None  # the server itself goes on
    assert http_status(served.base + "/") == 401
