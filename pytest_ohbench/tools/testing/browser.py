"""Headless Chromium driven over the DevTools protocol: open a page, click, read, screenshot.

For tests and benchmarks of report.html "as a person would": real mouse events at an
element's position (not element.click()), the page's own script reacting, a PNG of what is
drawn. Chromium listens on a random 127.0.0.1 port (`--remote-debugging-port=0`, read back
from DevToolsActivePort); the websocket client is aiohttp's.

    with Browser() as browser:
        browser.open(Path("report.html"))
        browser.click("#ohbench-matrix th:nth-child(3)")
        rows = browser.evaluate("document.querySelectorAll('#ohbench-matrix tbody tr:not([hidden])').length")
        png = browser.screenshot()
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-extensions",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
    "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--remote-allow-origins=*",
]


class BrowserError(RuntimeError):
    """Chromium is missing, did not start, or a DevTools call failed."""


class Browser:
    """One headless Chromium with one page, driven synchronously (an event loop of its own)."""

    def __init__(self, executable: str | None = None, width: int = 1400, height: int = 1000, timeout: float = 60.0) -> None:
        found = executable or shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if found is None:
            raise BrowserError("no chromium executable found")
        self.executable, self.width, self.height, self.timeout = found, width, height, timeout
        self.loop = asyncio.new_event_loop()
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []
        self.process: subprocess.Popen[bytes] | None = None
        self.profile: tempfile.TemporaryDirectory[str] | None = None
        self.session: aiohttp.ClientSession | None = None
        self.socket: aiohttp.ClientWebSocketResponse | None = None

    def __enter__(self) -> Browser:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        self.profile = tempfile.TemporaryDirectory(prefix="ohbench-chromium-")
        command = [self.executable, *FLAGS, f"--user-data-dir={self.profile.name}", f"--window-size={self.width},{self.height}", "about:blank"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self.profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while not port_file.is_file() or not port_file.read_text().strip():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise BrowserError(f"chromium did not start ({self.executable})")
            time.sleep(0.05)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            pages = [t for t in json.load(response) if t.get("type") == "page"]
        if not pages:
            self.close()
            raise BrowserError("chromium has no page to drive")
        self.loop.run_until_complete(self._connect(pages[0]["webSocketDebuggerUrl"]))
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height, deviceScaleFactor=1, mobile=False)

    async def _connect(self, url: str) -> None:
        self.session = aiohttp.ClientSession()
        self.socket = await self.session.ws_connect(url, max_msg_size=0)

    async def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        assert self.socket is not None
        number = next(self.ids)
        await self.socket.send_str(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = await asyncio.wait_for(self.socket.receive(), self.timeout)
            if message.type != aiohttp.WSMsgType.TEXT:
                raise BrowserError(f"{method}: the DevTools connection closed ({message.type})")
            data = json.loads(message.data)
            if data.get("id") == number:
                if "error" in data:
                    raise BrowserError(f"{method}: {data['error'].get('message')}")
                result: dict[str, Any] = data.get("result", {})
                return result
            if "method" in data:
                self.events.append(data)

    async def _wait_event(self, name: str) -> dict[str, Any]:
        assert self.socket is not None
        for index, event in enumerate(self.events):
            if event["method"] == name:
                return self.events.pop(index)
        while True:
            message = await asyncio.wait_for(self.socket.receive(), self.timeout)
            if message.type != aiohttp.WSMsgType.TEXT:
                raise BrowserError(f"waiting for {name}: the DevTools connection closed")
            data = json.loads(message.data)
            if data.get("method") == name:
                return data
            if "method" in data:
                self.events.append(data)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One DevTools command; its result."""
        return self.loop.run_until_complete(self._call(method, params))

    def open(self, page: Path | str) -> float:
        """Navigate to a file or URL and wait for its load event; the seconds it took."""
        url = page.resolve().as_uri() if isinstance(page, Path) else page
        self.events.clear()
        started = time.perf_counter()
        self.call("Page.navigate", url=url)
        self.loop.run_until_complete(self._wait_event("Page.loadEventFired"))
        return time.perf_counter() - started

    def evaluate(self, expression: str) -> Any:
        """A JavaScript expression's value (JSON-able), evaluated in the page."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {result['exceptionDetails'].get('exception', {}).get('description', 'error')}")
        return result.get("result", {}).get("value")

    def click(self, selector: str) -> None:
        """Scroll the element into view and click its centre with real mouse events."""
        box = self.evaluate(
            f"(function(){{var e=document.querySelector({json.dumps(selector)});if(!e)return null;"
            "e.scrollIntoView({block:'center'});var r=e.getBoundingClientRect();"
            "return {x:r.left+r.width/2,y:r.top+r.height/2,w:r.width,h:r.height};})()"
        )
        if not box or not box["w"] or not box["h"]:
            raise BrowserError(f"nothing visible to click at {selector!r}")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box["x"], y=box["y"], button="left", clickCount=1)

    def screenshot(self, selector: str | None = None, full_page: bool = False) -> bytes:
        """A PNG of the viewport, of the whole page, or of one element."""
        params: dict[str, Any] = {"format": "png"}
        if selector is not None:
            box = self.evaluate(
                f"(function(){{var e=document.querySelector({json.dumps(selector)});if(!e)return null;e.scrollIntoView();"
                "var r=e.getBoundingClientRect();return {x:r.left+window.scrollX,y:r.top+window.scrollY,width:r.width,height:r.height};})()"
            )
            if not box:
                raise BrowserError(f"nothing at {selector!r} to screenshot")
            params["clip"] = {**box, "scale": 1}
            params["captureBeyondViewport"] = True
        elif full_page:
            size = self.evaluate("({width:document.documentElement.scrollWidth,height:document.documentElement.scrollHeight})")
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
            params["captureBeyondViewport"] = True
        return base64.b64decode(self.call("Page.captureScreenshot", **params)["data"])

    def close(self) -> None:
        """Close the connection and stop the chromium this object started."""
        if self.socket is not None or self.session is not None:
            async def shut() -> None:
                if self.socket is not None:
                    await self.socket.close()
                if self.session is not None:
                    await self.session.close()
            try:
                self.loop.run_until_complete(shut())
            except Exception:
                pass
            self.socket = self.session = None
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self.profile is not None:
            # Chromium's helper processes may still write to the profile for a moment after the
            # main one exits ("Directory not empty"): try again briefly, then leave the rest.
            for _ in range(10):
                try:
                    self.profile.cleanup()  # (also detaches its finalizer)
                    break
                except OSError:
                    time.sleep(0.2)
            shutil.rmtree(self.profile.name, ignore_errors=True)
            self.profile = None
        if not self.loop.is_closed():
            self.loop.close()
