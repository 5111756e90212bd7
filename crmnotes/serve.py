"""``crm serve``: the terminal UI in a browser tab, through textual-serve.

Every browser session (one websocket) gets its own ``crm tui`` process, run
as the user who started the server, with its own phone-reveal switch, live
refresh and auto-sync setting; closing the tab ends that process.  The
server adds what textual-serve leaves to its host: a random token that every
request must carry (in the URL once, then in a cookie), a websocket that only
its own page may open, no directory listing, static files only from
textual-serve's own assets, and headers that keep the page out of frames and
the token out of Referer headers and caches.
"""

from __future__ import annotations

import asyncio
import errno
import hmac
import ipaddress
import os
import secrets
import shlex
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.server import Server, to_int

from .errors import CrmError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TOKEN_PARAM = "token"
SHUTDOWN_SECONDS = 10  # how long Ctrl-C waits for the open sessions' apps to quit
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost: whatever it resolves to, treat it as shared


def app_command(vault_root: Path) -> str:
    """The shell command textual-serve runs per session: ``crm tui`` on this vault, by this Python.

    ``exec`` makes the app the shell's own process, so the process textual-serve
    tells to quit is the app itself, not a shell waiting for it (and the app's
    parent is the server, which ``--served`` watches).
    """
    return "exec " + shlex.join([sys.executable, "-m", "crmnotes", "--vault", str(vault_root), "tui", "--served"])


class VaultServer(Server):
    """textual-serve's server with a token on every route and nothing but its own assets served."""

    def __init__(self, vault_root: Path, *, host: str, port: int, public_url: str | None = None,
                 token: str | None = None) -> None:
        super().__init__(app_command(vault_root), host=host, port=port, title=f"crmnotes · {vault_root.name}",
                         public_url=public_url)
        self.vault_root = vault_root
        self.fixed_url = public_url.rstrip("/") if public_url else None  # behind a proxy: the URL browsers use
        self.token = token or secrets.token_urlsafe(24)
        self.cookie = f"crmnotes_token_{port}"  # cookies ignore ports: two servers on one host keep theirs apart
        self.sessions: set[asyncio.Task[Any]] = set()  # one per open websocket, each driving one app process

    # ------------------------------------------------------------ URLs

    def url_for_browser(self) -> str:
        """The address to open (and share): the token is in it."""
        if self.fixed_url:
            base = self.fixed_url
        else:
            host = f"[{self.host}]" if ":" in self.host else self.host
            base = f"http://{host}:{self.port}"
        return f"{base}/?{TOKEN_PARAM}={self.token}"

    def _base_url(self, request: web.Request) -> str:
        """Where the page's own requests go: the public URL, else the host the browser asked for
        (so a page opened as localhost does not open its websocket on 127.0.0.1, which has no cookie)."""
        return self.fixed_url or f"{request.scheme}://{request.host}"

    # ------------------------------------------------------------ the aiohttp application

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._require_token])
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        app.add_routes([
            web.get("/", self.handle_index, name="index"),
            web.get("/ws", self._handle_websocket, name="websocket"),
            web.get("/download/{key}", self.handle_download, name="download"),  # what the app itself delivers
            web.static("/static", self.statics_path, show_index=False, follow_symlinks=False, name="static"),
        ])
        app.on_shutdown.append(self.on_shutdown)
        return app

    @web.middleware
    async def _require_token(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        from_url = request.query.get(TOKEN_PARAM)
        given = from_url if from_url is not None else request.cookies.get(self.cookie)
        if given is None:
            raise web.HTTPUnauthorized(text="This crmnotes server needs its access token: open the full address "
                                       "that `crm serve` printed.\n")
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            raise web.HTTPForbidden(text="Wrong access token: open the address that `crm serve` printed.\n")
        if from_url is not None and request.path == "/":
            # The token moves to a cookie and leaves the address bar (and the browser history).
            rest = request.rel_url.with_query([(k, v) for k, v in request.query.items() if k != TOKEN_PARAM])
            response: web.StreamResponse = web.Response(status=303, headers={"Location": str(rest)})
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict", path="/",
                                secure=self._base_url(request).startswith("https:"))
        else:
            response = await handler(request)
        if not response.prepared:  # a websocket is already under way: its headers are sent
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            if request.path.startswith("/static/"):
                del response.headers["Cache-Control"]  # textual-serve's own assets: the browser may keep them
        return response

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        """The page, with its websocket and assets on the same origin the browser used."""
        base = self._base_url(request)
        scheme, rest = base.split(":", 1)
        websocket = f"{'wss' if scheme == 'https' else 'ws'}:{rest}/ws"
        context: dict[str, Any] = {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": websocket,
            "config": {"static": {"url": f"{base}/static/"}},
            "application": {"name": self.title},
        }
        response = aiohttp_jinja2.render_template("app_index.html", request, context)
        # Nothing from elsewhere: the template's web-font stylesheet would tell a third party about every visit.
        response.headers["Content-Security-Policy"] = (
            f"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self' {websocket}; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
        return response

    async def _handle_websocket(self, request: web.Request) -> web.StreamResponse:
        """A session: only a page of this server may open one (a cookie alone is not enough)."""
        origin = request.headers.get("Origin")
        allowed = {request.host, urlsplit(self.fixed_url).netloc if self.fixed_url else request.host}
        if origin is not None and urlsplit(origin).netloc not in allowed:
            raise web.HTTPForbidden(text="This session must be opened from the crmnotes page itself.\n")
        task = asyncio.current_task()
        assert task is not None
        self.sessions.add(task)
        try:
            return await self.handle_websocket(request)
        finally:
            self.sessions.discard(task)

    async def on_shutdown(self, app: web.Application) -> None:
        """Ctrl-C: end every session (each tells its app to quit and waits for it), or the server would
        wait for browsers to close their tabs."""
        sessions = list(self.sessions)
        for task in sessions:
            task.cancel()
        if sessions:
            await asyncio.wait(sessions, timeout=SHUTDOWN_SECONDS)

    def announce(self) -> None:
        """Said once the port is bound, not before: the address printed is one that answers."""
        print(f"crmnotes: serving {self.vault_root} to the browser at\n\n    {self.url_for_browser()}\n\n"
              "Anyone with this address can read and change the vault. Ctrl-C stops.", flush=True)

    def serve(self, debug: bool = False) -> None:
        """textual-serve's ``serve``, announcing the address only after binding."""
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        for stop in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(stop, self.request_exit)
        try:
            web.run_app(self._make_app(), host=self.host, port=self.port, handle_signals=False, loop=loop,
                        print=lambda _banner: self.announce())
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            hint = ("Pick another port with --port (or stop what is using it)." if exc.errno == errno.EADDRINUSE
                    else "--host must be an address of this machine (127.0.0.1, the default, or 0.0.0.0 for all).")
            raise CrmError(f"cannot listen on {self.host}:{self.port}: {reason}.", hint) from None
        finally:
            loop.close()


def warning_for(host: str) -> str | None:
    """What to tell the user before serving on ``host``, if anything."""
    if is_loopback(host):
        return None
    return (f"warning: serving on {host}, reachable from other machines: anyone who gets the address can read and "
            "change the vault, and the traffic is not encrypted. On a shared network put it behind a reverse "
            "proxy with TLS and a password (README: In a browser).")


def serve(vault_root: Path, *, host: str, port: int, public_url: str | None = None) -> None:
    """Serve the TUI of ``vault_root`` until Ctrl-C."""
    if warning := warning_for(host):
        print(warning, file=sys.stderr, flush=True)
    VaultServer(vault_root, host=host, port=port, public_url=public_url).serve()
