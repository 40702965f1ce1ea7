"""Open a page in a real headless Chromium and report what a person would see.

A tiny Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (file descriptors 3
and 4, NUL-separated JSON messages), so the tests need only the Debian ``chromium`` package:
no websocket library, no browser download. ``load(url)`` navigates, waits for the load event,
and returns the console messages, uncaught exceptions and failed requests it saw, what the
page's script-free DOM holds (tables, images and whether each image decoded with a visible
size) and a full-page PNG screenshot. One browser serves a process's pages, each in a browser
context of its own (see ``_browser``).
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

#: Where Debian installs the browser itself (``/usr/bin/chromium`` is a shell launcher).
CANDIDATES = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser", "google-chrome")

PAGE_FACTS = """JSON.stringify({
  tables: Array.from(document.querySelectorAll('table')).map(t => t.rows.length),
  images: Array.from(document.images).map(i => {
    const r = i.getBoundingClientRect();
    return {alt: i.alt, complete: i.complete, natural: i.naturalWidth,
            width: r.width, height: r.height};
  }),
  videos: document.querySelectorAll('video').length,
  text: document.body.innerText,
  external: Array.from(document.querySelectorAll('[src],[href]'))
    .map(e => e.getAttribute('src') || e.getAttribute('href'))
    .filter(u => !u.startsWith('data:') && !u.startsWith('#')),
})"""


def binary() -> str | None:
    """The Chromium executable, or None when it is not installed."""
    for c in CANDIDATES:
        found = shutil.which(c) if not c.startswith("/") else (c if os.access(c, os.X_OK) else None)
        if found:
            return found
    return None


class _Pipe:
    def __init__(self, exe: str, profile: str):
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()

        def wire() -> None:  # in the child: the pipe ends become fds 3 (commands) and 4
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-extensions", "--disable-dev-shm-usage", "--no-first-run",
             "--remote-debugging-pipe",
             f"--user-data-dir={profile}", "about:blank"],
            preexec_fn=wire, close_fds=False, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf, self._id, self.events = b"", 0, []

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 60) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        reply = self.wait(lambda m, i=self._id: m.get("id") == i, timeout)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def wait(self, pred: Any, timeout: float = 60) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while True:
            while b"\0" in self._buf:
                raw, self._buf = self._buf.split(b"\0", 1)
                m = json.loads(raw)
                if pred(m):
                    return m
                self.events.append(m)
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer")
            ready, _, _ = select.select([self._r], [], [], left)
            if ready:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise EOFError("chromium closed the pipe")
                self._buf += chunk

    def close(self) -> None:
        with contextlib.suppress(Exception):  # it may already be gone
            self.call("Browser.close", timeout=10)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        os.close(self._r)


_shared: tuple[_Pipe, tempfile.TemporaryDirectory] | None = None


def _browser() -> _Pipe:
    """This process's headless Chromium, started by the first page and closed at exit. Each
    page is a browser context of its own (a fresh profile: no cookies, storage, history or
    cache of another page), as isolated as a browser of its own without half a second of
    start-up per page."""
    global _shared
    if _shared is not None and _shared[0].proc.poll() is None:
        return _shared[0]
    _close_browser()  # one that died
    exe = binary()
    if exe is None:
        raise FileNotFoundError("no chromium binary")
    profile = tempfile.TemporaryDirectory(prefix="pointgan-chromium-")
    _shared = (_Pipe(exe, profile.name), profile)
    return _shared[0]


@atexit.register
def _close_browser() -> None:
    global _shared
    if _shared is not None:
        pipe, profile = _shared
        _shared = None
        pipe.close()
        profile.cleanup()


class Page:
    """One tab of a headless Chromium kept open, in a browser context of its own: ``goto``,
    ``eval``, ``click``, ``screenshot`` and the errors seen so far, for tests that act on a
    page (use as a context manager)."""

    def __init__(self, width: int = 1200, height: int = 900, javascript: bool = True):
        self.pipe = _browser()
        self.session = ""
        self.context = self.pipe.call("Target.createBrowserContext")["browserContextId"]
        try:
            target = self.pipe.call("Target.createTarget", {
                "url": "about:blank", "browserContextId": self.context})["targetId"]
            s = self.pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})
            self.session = s["sessionId"]
            for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
                self.call(domain)
            self.call("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1,
                       "mobile": False})
            self.javascript = javascript
            if not javascript:
                self.call("Emulation.setScriptExecutionDisabled", {"value": True})
        except BaseException:
            self.close()
            raise

    def call(self, method: str, params: dict | None = None) -> dict[str, Any]:
        return self.pipe.call(method, params, self.session)

    def goto(self, url: str) -> None:
        """Navigate and wait for the load event (a change of the fragment alone loads nothing:
        then wait until the page has handled it)."""
        nav = self.call("Page.navigate", {"url": url})
        if nav.get("loaderId"):
            self.pipe.wait(lambda m: m.get("method") == "Page.loadEventFired"
                           and m.get("sessionId") == self.session)
        self.settle()

    def settle(self) -> None:
        """Wait until the page has run what an input queued (events, then a frame)."""
        if not self.javascript:
            return
        self.eval("new Promise(r => setTimeout(() => requestAnimationFrame(() => "
                  "setTimeout(r, 0)), 0))")

    def eval(self, expression: str) -> Any:
        """The JSON-able value of ``expression`` in the page (awaited if it is a promise)."""
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def click(self, selector: str, modifiers: int = 0) -> None:
        """A real mouse click (pressed and released) at the centre of the element;
        ``modifiers``: keys held (DevTools bits: 1 Alt, 2 Ctrl, 4 Meta, 8 Shift)."""
        box = self.eval(f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            e.scrollIntoView({{block: "center"}}); const r = e.getBoundingClientRect();
            return [r.x + r.width / 2, r.y + r.height / 2]; }})()""")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1],
                                                   "button": "left", "clickCount": 1,
                                                   "modifiers": modifiers})
        self.settle()

    def screenshot(self, full: bool = False) -> bytes:
        shot = self.call("Page.captureScreenshot", {"format": "png",
                                                    "captureBeyondViewport": full})
        return base64.b64decode(shot["data"])

    def errors(self) -> list[dict[str, Any]]:
        """Console errors and warnings, uncaught exceptions and failed loads seen so far."""
        self.eval("0")  # a round trip: every event sent before its answer is collected
        return [e for e in self.pipe.events
                if e.get("sessionId") == self.session and _is_error(e)]

    def close(self) -> None:
        """Dispose of this page's browser context (its tab, storage and cache) and forget its
        events; the browser stays for the next page."""
        with contextlib.suppress(Exception):  # the browser may be gone
            self.pipe.call("Target.disposeBrowserContext", {"browserContextId": self.context},
                           timeout=10)
        self.pipe.events = [e for e in self.pipe.events
                            if e.get("sessionId") not in (None, self.session)]

    def __enter__(self) -> Page:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def explorer_shown(page: Page) -> float:
    """Wait until the report page's explorer says it has drawn (``data-shown-ms``) and return
    that time in milliseconds: the figure the page tests and ``bench_report`` hold."""
    page.eval("new Promise(r => { const f = () => document.getElementById('explorer')"
              ".dataset.shownMs ? r() : setTimeout(f, 10); f(); })")
    return float(page.eval("document.getElementById('explorer').dataset.shownMs"))


def load(url: str, width: int = 1200, height: int = 900,
         javascript: bool = True) -> dict[str, Any]:
    """``{"errors": [...], "facts": {...}, "screenshot": png bytes}`` for the page at ``url``."""
    with Page(width, height, javascript) as page:
        page.goto(url)
        facts = page.eval(PAGE_FACTS)
        shot = page.screenshot(full=True)
        errors = page.errors()
    return {"errors": errors, "facts": json.loads(facts), "screenshot": shot}


def _is_error(event: dict[str, Any]) -> bool:
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.exceptionThrown":
        return True
    if method == "Runtime.consoleAPICalled":
        return params.get("type") in ("error", "warning", "assert")
    if method == "Log.entryAdded":
        return params.get("entry", {}).get("level") in ("error", "warning")
    return False


def file_url(path: Path) -> str:
    return Path(path).resolve().as_uri()
