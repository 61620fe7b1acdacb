"""Headless Chromium as a test oracle: how does a real browser lay out our HTML email?

Each run gets a fresh user profile and works on a copy of the page, into which a small
script is injected that measures the layout after load and writes the numbers, as JSON,
into a hidden `<pre id="measure">`; `--dump-dom` prints the DOM and we read them back.

Headless Chromium will not lay a window out narrower than 500px, whatever `--window-size`
says, so the copy is shown in an iframe exactly `width` pixels wide (its own viewport:
`innerWidth` inside it is `width`) at the top left of a host page. The injected script posts
its numbers to the host, which writes them into the host's `<pre id="measure">`; screenshots
are `width` pixels wide, so they show just the iframe.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

TIMEOUT_SECONDS = 60
WINDOW_HEIGHT = 1200

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--virtual-time-budget=2000",
)

# Runs after load: the page's width against the window's, and the box of every element with
# a data-row (one per prospect). Hidden, so the JSON line itself cannot widen the page.
_MEASURE = """
<pre id="measure" style="display:none"></pre>
<script>
window.addEventListener("load", function () {
  function box(element) {
    var r = element.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom,
            width: r.width, height: r.height};
  }
  var blocks = Array.prototype.map.call(document.querySelectorAll("[data-row]"), function (el) {
    var b = box(el);
    b.row = el.getAttribute("data-row");
    b.text = el.textContent;
    b.scrollWidth = el.scrollWidth;
    b.clientWidth = el.clientWidth;
    return b;
  });
  var marked = Array.prototype.map.call(
    document.querySelectorAll("[data-chart], [data-bar], [data-table]"), function (el) {
      var b = box(el);
      b.chart = el.getAttribute("data-chart");
      b.bar = el.getAttribute("data-bar");
      b.table = el.getAttribute("data-table");
      b.text = el.textContent;
      b.scrollWidth = el.scrollWidth;
      b.clientWidth = el.clientWidth;
      return b;
    });
  var maxRight = 0;
  Array.prototype.forEach.call(document.body.querySelectorAll("*"), function (el) {
    if (el.id !== "measure" && el.tagName !== "SCRIPT") {
      maxRight = Math.max(maxRight, el.getBoundingClientRect().right);
    }
  });
  var measured = JSON.stringify({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    clientWidth: document.documentElement.clientWidth,
    maxRight: maxRight,
    scripts: document.getElementsByTagName("script").length,
    images: document.getElementsByTagName("img").length,
    blocks: blocks,
    marked: marked
  });
  document.getElementById("measure").textContent = measured;
  if (window.parent !== window) {
    window.parent.postMessage(measured, "*");
  }
});
</script>
"""

_HOST = """<!DOCTYPE html>
<html><head><meta charset="utf-8">
<script>
window.addEventListener("message", function (event) {
  document.getElementById("measure").textContent = event.data;
});
</script>
</head>
<body style="margin:0;background:#ffffff;">
<iframe srcdoc="{page}" style="display:block;border:0;margin:0;width:{width}px;height:{height}px;">
</iframe>
<pre id="measure" style="display:none"></pre>
</body></html>
"""

_MEASURED = re.compile(r'<pre id="measure"[^>]*>(.*?)</pre>', re.DOTALL)


class ChromiumError(RuntimeError):
    """Chromium could not be found, failed, or did not report its measurements."""


def chromium_path() -> str | None:
    """The Chromium executable (Debian's `chromium`), or None when it is not installed."""
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def render_page(html_path: Path, width: int) -> dict[str, Any]:
    """Lay out the page at `html_path` in a `width`-pixel-wide window; return what the
    injected script measured: scrollWidth, innerWidth, clientWidth, maxRight (the rightmost
    edge of any element), scripts and images (element counts), blocks (one box per
    `data-row` element, with its `row` and `text`), and marked (one box per element with a
    data-chart, data-bar or data-table, with those attributes and its `text`)."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as tmp:
        host = _host_page(html_path, width, Path(tmp))
        dom = _run(Path(tmp), width, "--dump-dom", host.as_uri())
    found = _MEASURED.search(dom)
    if found is None or not found.group(1).strip():
        raise ChromiumError(f"Chromium dumped no measurements; the DOM began:\n{dom[:2000]}")
    result: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return result


def screenshot(html_path: Path, width: int, out_png: Path) -> Path:
    """A PNG of the page at `html_path` in a `width` x 1200 window, written to `out_png`."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as tmp:
        host = _host_page(html_path, width, Path(tmp))
        _run(
            Path(tmp),
            width,
            "--hide-scrollbars",
            f"--screenshot={out_png.resolve()}",
            host.as_uri(),
        )
    if not out_png.exists():
        raise ChromiumError(f"Chromium reported success but wrote no {out_png}")
    return out_png


def _host_page(html_path: Path, width: int, tmp: Path) -> Path:
    """The host page in `tmp`: a copy of `html_path`, measuring script injected, in an iframe
    `width` pixels wide."""
    page = html_path.read_text(encoding="utf-8")
    at = page.lower().rfind("</body>")
    measured = page[:at] + _MEASURE + page[at:] if at >= 0 else page + _MEASURE
    host = tmp / "host.html"
    host.write_text(
        _HOST.replace("{page}", html.escape(measured, quote=True))
        .replace("{width}", str(width))
        .replace("{height}", str(WINDOW_HEIGHT)),
        encoding="utf-8",
    )
    return host


def _run(tmp: Path, width: int, *arguments: str) -> str:
    """Run Chromium with a fresh profile under `tmp`; return its stdout."""
    chromium = chromium_path()
    if chromium is None:
        raise ChromiumError("Chromium is not installed (apt-get install chromium)")
    profile = tmp / "profile"
    profile.mkdir()
    command = [
        chromium,
        *_FLAGS,
        f"--user-data-dir={profile}",
        f"--window-size={width},{WINDOW_HEIGHT}",
        *arguments,
    ]
    # Its own session, so a hung run's helper processes go down with it.
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            raise ChromiumError(
                f"Chromium took more than {TIMEOUT_SECONDS}s; its stderr:\n{stderr}"
            ) from None
    if process.returncode != 0:
        raise ChromiumError(f"Chromium exited with {process.returncode}; its stderr:\n{stderr}")
    return stdout
