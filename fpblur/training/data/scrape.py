"""Image scraper: headless Chromium (Selenium) collects image URLs from lazy-loading pages; requests downloads.

* The browser is Debian's ``chromium`` driven by ``chromium-driver`` at explicit paths, so Selenium never tries
  to download a driver; ``webdriver-manager`` is only an optional fallback (``allow_driver_download=True``).
* :func:`collect_image_urls` scrolls one viewport at a time until the page stops growing and gathers
  ``img`` ``src``/``currentSrc``/``srcset``/``data-src``… and ``<picture><source srcset>`` URLs.
* :func:`fetch_image` downloads one URL with timeouts, a size cap, a content-type and a decode check and
  retries; :class:`Robots` applies robots.txt (and its crawl-delay) per host; :class:`RateLimiter` spaces
  requests to one host.
* :func:`scrape` ties it together, de-duplicates by sha256 and perceptual hash, and writes ``manifest.csv``
  (url, page, file, sha256, phash, size, width, height, format, license — to fill in) and ``rejected.csv``.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import time
import urllib.robotparser
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import requests
from PIL import Image

from fpblur.core.files import atomic_output
from fpblur.training.data.hashing import DedupIndex, phash, sha256_bytes

USER_AGENT = "fpblur-data-collector/0.1"
MANIFEST_COLUMNS = [
    "url",
    "page",
    "file",
    "sha256",
    "phash",
    "size",
    "width",
    "height",
    "format",
    "license",
    "fetched_at",
]
REJECT_COLUMNS = ["url", "page", "reason", "duplicate_of"]
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@dataclass
class BrowserConfig:
    """Where headless Chromium and its driver are and how the browser runs.

    Attributes:
        binary: the Chromium executable (Debian's ``chromium``).
        driver: the chromedriver executable (``chromium-driver``).
        window: window size ``(width, height)`` in pixels (one scroll step is one viewport).
        page_load_timeout: seconds before a page load fails.
        allow_driver_download: fall back to ``webdriver-manager`` (needs internet) when ``driver`` is missing.
        extra_flags: more Chromium command-line flags.
    """

    binary: str = "/usr/bin/chromium"
    driver: str = "/usr/bin/chromedriver"
    window: tuple[int, int] = (1280, 900)
    page_load_timeout: float = 30.0
    allow_driver_download: bool = False  # webdriver-manager fallback when the driver is missing (needs internet)
    extra_flags: tuple[str, ...] = ()


class BrowserUnavailable(RuntimeError):
    """Chromium or its driver is missing; the message says what to install."""


def chromium_options(cfg: BrowserConfig, user_data_dir: str):
    """Selenium Chrome options for ``cfg``: :data:`CHROMIUM_FLAGS` (headless, no sandbox, no background
    networking…), the profile folder ``user_data_dir``, the window size and ``cfg.extra_flags``.
    """
    from selenium.webdriver.chrome.options import Options  # optional: [train] extra

    opts = Options()
    opts.binary_location = cfg.binary
    for flag in (
        *CHROMIUM_FLAGS,
        f"--user-data-dir={user_data_dir}",
        f"--window-size={cfg.window[0]},{cfg.window[1]}",
        *cfg.extra_flags,
    ):
        opts.add_argument(flag)
    return opts


def _driver_service(cfg: BrowserConfig):
    from selenium.webdriver.chrome.service import Service  # optional: [train] extra

    if Path(cfg.driver).is_file():
        return Service(executable_path=cfg.driver)
    if cfg.allow_driver_download:
        try:
            # optional: webdriver-manager (in no extra; only for allow_driver_download=True)
            from webdriver_manager.chrome import ChromeDriverManager
            from webdriver_manager.core.os_manager import ChromeType  # optional: webdriver-manager
        except ImportError:
            raise BrowserUnavailable(f"{cfg.driver}: no chromedriver, and webdriver-manager is not installed") from None
        return Service(executable_path=ChromeDriverManager(chrome_type=ChromeType.CHROMIUM).install())
    raise BrowserUnavailable(f"{cfg.driver}: no chromedriver (apt-get install chromium chromium-driver)")


@contextlib.contextmanager
def browser(cfg: BrowserConfig | None = None) -> Iterator[object]:
    """A headless Chromium WebDriver (Selenium) with a fresh profile folder, closed (and the profile deleted) on
    exit.

    Args:
        cfg: the browser configuration (default :class:`BrowserConfig`).

    Yields:
        The ``selenium.webdriver.Chrome`` driver.

    Raises:
        BrowserUnavailable: no Chromium binary, or no chromedriver (and no permitted ``webdriver-manager``
            fallback); the message says what to install.
    """
    cfg = cfg or BrowserConfig()
    if not Path(cfg.binary).is_file():
        raise BrowserUnavailable(f"{cfg.binary}: no Chromium binary (apt-get install chromium chromium-driver)")
    from selenium import webdriver  # optional: [train] extra

    profile = tempfile.mkdtemp(prefix="fpblur-chromium-")
    driver = None
    try:
        driver = webdriver.Chrome(service=_driver_service(cfg), options=chromium_options(cfg, profile))
        driver.set_page_load_timeout(cfg.page_load_timeout)
        yield driver
    finally:
        if driver is not None:
            with contextlib.suppress(Exception):
                driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


_COLLECT_JS = """
const out = [];
const add = u => { if (!u) return; u = String(u).trim(); if (!u || u.startsWith('data:') || u.startsWith('blob:')) return;
  try { out.push(new URL(u, document.baseURI).href); } catch (e) {} };
const set = s => { if (s) s.split(',').forEach(p => add(p.trim().split(/\\s+/)[0])); };
document.querySelectorAll('img').forEach(img => {
  add(img.currentSrc); add(img.getAttribute('src')); set(img.getAttribute('srcset')); set(img.getAttribute('data-srcset'));
  for (const a of ['data-src', 'data-lazy-src', 'data-original', 'data-url']) add(img.getAttribute(a));
});
document.querySelectorAll('picture source').forEach(s => { set(s.getAttribute('srcset')); set(s.getAttribute('data-srcset')); });
return out;
"""
_METRICS_JS = "return [document.documentElement.scrollHeight, window.scrollY, window.innerHeight];"


def collect_image_urls(
    driver, page_url: str, *, pause: float = 0.4, settle_rounds: int = 3, max_steps: int = 300
) -> list[str]:
    """Open ``page_url``, scroll one viewport at a time until the page stops growing; image URLs in page order.

    The page counts as finished when the bottom is reached and the height stays the same for
    ``settle_rounds`` checks ``pause`` seconds apart (lazy loaders get time to append more).  URLs come from
    ``img`` ``currentSrc``/``src``/``srcset``/``data-src``-style attributes and ``<picture><source srcset>``,
    resolved against the page; ``data:`` and ``blob:`` URLs are skipped.

    Args:
        driver: a Selenium WebDriver (see :func:`browser`).
        page_url: the page to open.
        pause: seconds between scroll steps.
        settle_rounds: unchanged-height checks at the bottom before stopping.
        max_steps: upper bound on scroll steps.

    Returns:
        Absolute URLs, each once, in the order first seen.
    """
    driver.get(page_url)
    seen: dict[str, None] = {}
    last_height, stable = -1, 0
    for _ in range(max_steps):
        seen.update(dict.fromkeys(driver.execute_script(_COLLECT_JS)))
        height, y, inner = driver.execute_script(_METRICS_JS)
        if y + inner >= height - 2:
            stable = stable + 1 if height == last_height else 0
            if stable >= settle_rounds:
                break
        last_height = height
        driver.execute_script("window.scrollBy(0, window.innerHeight);")
        time.sleep(pause)
    seen.update(dict.fromkeys(driver.execute_script(_COLLECT_JS)))
    return list(seen)


class RateLimiter:
    """At most one request per ``interval`` seconds to each host (``netloc``)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}

    def wait(self, url: str, interval: float | None = None) -> None:
        """Sleep until a request to ``url``'s host is allowed, then record it.

        Args:
            url: the URL about to be fetched.
            interval: a longer gap for this host (e.g. robots.txt's crawl-delay), in seconds; the larger one wins.
        """
        host = urlsplit(url).netloc
        gap = max(self.interval, interval or 0)
        now = time.monotonic()
        due = self._last.get(host, -1e18) + gap
        if due > now:
            time.sleep(due - now)
        self._last[host] = time.monotonic()


class Robots:
    """robots.txt per origin (urllib.robotparser), fetched once with the scraper's session and timeout.

    Missing robots.txt (4xx): everything allowed; 401/403, 5xx or unreachable: nothing allowed.
    """

    def __init__(self, session: requests.Session, user_agent: str = USER_AGENT, timeout: float = 10.0) -> None:
        self.session, self.user_agent, self.timeout = session, user_agent, timeout
        self._cache: dict[str, urllib.robotparser.RobotFileParser] = {}

    def parser(self, url: str) -> urllib.robotparser.RobotFileParser:
        """The parsed robots.txt of ``url``'s origin, fetched on first use and cached (missing, forbidden and
        unreachable files: see the class docstring)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._cache:
            rp = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
            try:
                r = self.session.get(origin + "/robots.txt", timeout=self.timeout)
                if r.status_code in (401, 403) or r.status_code >= 500:
                    rp.disallow_all = True
                elif r.status_code >= 400:
                    rp.allow_all = True
                else:
                    rp.parse(r.text.splitlines())
            except requests.RequestException:
                rp.disallow_all = True
            rp.modified()
            self._cache[origin] = rp
        return self._cache[origin]

    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets the scraper's user agent fetch ``url``."""
        return self.parser(url).can_fetch(self.user_agent, url)

    def crawl_delay(self, url: str) -> float | None:
        """robots.txt's ``Crawl-delay`` for the user agent at ``url``'s origin, in seconds (None when not set)."""
        d = self.parser(url).crawl_delay(self.user_agent)
        return float(d) if d is not None else None


@dataclass
class Fetched:
    """The outcome of :func:`fetch_image`: the image bytes (None when rejected) and why not (``reason``, ``""``
    when accepted), the response's content type and the decoded ``width``/``height`` (pixels) and PIL ``format``.
    """

    url: str
    data: bytes | None
    reason: str = ""  # why it was rejected ("" when ok)
    content_type: str = ""
    width: int = 0
    height: int = 0
    format: str = ""


def fetch_image(
    session: requests.Session,
    url: str,
    *,
    timeout: float = 15.0,
    max_bytes: int = 15_000_000,
    min_side: int = 32,
    retries: int = 2,
    backoff: float = 0.5,
    referer: str | None = None,
) -> Fetched:
    """Download ``url`` and check it is a decodable image of at least ``min_side`` pixels; never raises.

    Network errors, HTTP 408/429 and 5xx are retried (``backoff × 2**(attempt-1)`` seconds apart); other 4xx,
    a non-``image/*`` content type, more than ``max_bytes`` bytes, undecodable data (PIL ``verify`` and ``load``)
    and a side under ``min_side`` are rejected at once.

    Args:
        session: the ``requests`` session (its headers, e.g. User-Agent, apply).
        url: the image URL.
        timeout: seconds per connection/read.
        max_bytes: size cap in bytes (announced or received).
        min_side: smallest accepted width/height in pixels.
        retries: extra attempts for transient failures.
        backoff: base delay in seconds.
        referer: sent as the ``Referer`` header (the page the image is on).

    Returns:
        A :class:`Fetched`: ``data`` set when accepted, else ``reason`` (``"failed after N attempts (...)"`` once
        the retries of a transient failure are used up).
    """
    headers = {"Referer": referer} if referer else {}
    reason = "not tried"
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            with session.get(url, stream=True, timeout=timeout, headers=headers) as r:
                if r.status_code in (408, 429) or r.status_code >= 500:
                    reason = f"HTTP {r.status_code}"
                    continue
                if r.status_code >= 400:
                    return Fetched(url, None, f"HTTP {r.status_code}")
                ctype = r.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if not ctype.startswith("image/"):
                    return Fetched(url, None, f"content-type {ctype or 'missing'}", ctype)
                length = r.headers.get("Content-Length")
                if length is not None and length.isdigit() and int(length) > max_bytes:
                    return Fetched(url, None, f"too large ({length} bytes > {max_bytes})", ctype)
                buf = bytearray()
                for block in r.iter_content(1 << 16):
                    buf += block
                    if len(buf) > max_bytes:
                        return Fetched(url, None, f"too large (> {max_bytes} bytes)", ctype)
            break
        except requests.RequestException as exc:
            reason = type(exc).__name__
    else:
        return Fetched(url, None, f"failed after {retries + 1} attempts ({reason})")
    data = bytes(buf)
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.verify()
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            width, height, fmt = im.width, im.height, im.format or ""
    except Exception as exc:  # PIL raises many types for undecodable data
        return Fetched(url, None, f"not a decodable image ({type(exc).__name__})", ctype)
    if min(width, height) < min_side:
        return Fetched(url, None, f"too small ({width}×{height})", ctype, width, height, fmt)
    return Fetched(url, data, "", ctype, width, height, fmt)


@dataclass
class ScrapeConfig:
    """Options of :func:`scrape`: request ``user_agent``, ``timeout`` (s), ``max_bytes``, ``min_side`` (px) and
    ``retries`` (see :func:`fetch_image`); ``rate_limit_s`` seconds between requests to one host (robots.txt's
    crawl-delay wins when longer); ``respect_robots``; ``phash_threshold`` (bits) for near duplicates; the scrolling
    of :func:`collect_image_urls` (``scroll_pause`` s, ``settle_rounds``, ``max_scroll_steps``); the ``browser``.
    """

    user_agent: str = USER_AGENT
    timeout: float = 15.0
    max_bytes: int = 15_000_000
    min_side: int = 32
    retries: int = 2
    rate_limit_s: float = 1.0  # per host; robots.txt crawl-delay wins when longer
    respect_robots: bool = True
    phash_threshold: int = 6
    scroll_pause: float = 0.4
    settle_rounds: int = 3
    max_scroll_steps: int = 300
    browser: BrowserConfig = field(default_factory=BrowserConfig)


@dataclass
class ScrapeResult:
    """What :func:`scrape` wrote: the whole manifest (:data:`MANIFEST_COLUMNS`) and rejection list
    (:data:`REJECT_COLUMNS`) as DataFrames, and the paths of their CSV files.
    """

    manifest: pd.DataFrame
    rejected: pd.DataFrame
    manifest_csv: Path
    rejected_csv: Path


def _retryable(reason: str) -> bool:
    """Rejections worth another try on a later run: :func:`fetch_image` retries network errors, 408, 429 and
    5xx itself and reports them, once its attempts are used up, as ``failed after N attempts (...)``; every
    other reason (4xx, content type, size, undecodable) is final."""
    return reason.startswith("failed after")


_EXT = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp", "TIFF": ".tif"}


def scrape(
    pages: Iterable[str],
    out_dir: str | os.PathLike,
    cfg: ScrapeConfig | None = None,
    *,
    driver=None,
    session: requests.Session | None = None,
    log: Callable[[str], None] | None = None,
) -> ScrapeResult:
    """Collect and download the images of ``pages`` into ``out_dir/images``; appends to an existing manifest.

    Images are stored as ``images/<first 16 hex digits of sha256><ext>``.  Images already in
    ``out_dir/manifest.csv`` (by URL, sha256 or perceptual hash — pHash via ``imagehash``) are not stored again,
    and URLs in ``rejected.csv`` are not fetched again unless they failed for a transient reason.  Both CSV
    files are rewritten atomically at the end.

    Args:
        pages: page URLs to scroll through.
        out_dir: the output folder (created).
        cfg: the options (default :class:`ScrapeConfig`).
        driver: a WebDriver to use (default: a headless Chromium opened with :func:`browser` and closed after).
        session: a ``requests`` session (default: a new one, closed after); its User-Agent is set.
        log: called with one line per page (how many image URLs it has).

    Returns:
        The :class:`ScrapeResult`.

    Raises:
        BrowserUnavailable: no driver was given and Chromium or its driver is missing.
    """
    cfg = cfg or ScrapeConfig()
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    say = log or (lambda m: None)
    manifest_csv, rejected_csv = out / "manifest.csv", out / "rejected.csv"
    old = (
        pd.read_csv(manifest_csv, dtype=str, keep_default_na=False)
        if manifest_csv.is_file()
        else pd.DataFrame(columns=MANIFEST_COLUMNS)
    )
    rows: list[dict] = old.to_dict("records")
    rejected: list[dict] = []
    index = DedupIndex(cfg.phash_threshold)
    for r in rows:
        index.add(r["file"], r["sha256"] or None, r["phash"] or None)
    old_rejected = (
        pd.read_csv(rejected_csv, dtype=str, keep_default_na=False)
        if rejected_csv.is_file()
        else pd.DataFrame(columns=REJECT_COLUMNS)
    )
    retry = old_rejected["reason"].map(_retryable).astype(bool)
    old_rejected = old_rejected[~retry]  # transient failures are tried again and re-reported
    done_urls = {r["url"] for r in rows} | set(old_rejected["url"])
    own_session = session is None
    session = session or requests.Session()
    session.headers["User-Agent"] = cfg.user_agent
    robots = Robots(session, cfg.user_agent, cfg.timeout)
    limiter = RateLimiter(cfg.rate_limit_s)
    try:
        with contextlib.ExitStack() as stack:
            if driver is None:
                driver = stack.enter_context(browser(cfg.browser))
            for page in pages:
                if cfg.respect_robots and not robots.allowed(page):
                    rejected.append(
                        {"url": page, "page": page, "reason": "robots.txt disallows the page", "duplicate_of": ""}
                    )
                    continue
                urls = collect_image_urls(
                    driver,
                    page,
                    pause=cfg.scroll_pause,
                    settle_rounds=cfg.settle_rounds,
                    max_steps=cfg.max_scroll_steps,
                )
                say(f"{page}: {len(urls)} image URLs")
                for url in urls:
                    if url in done_urls:
                        continue
                    done_urls.add(url)
                    if urlsplit(url).scheme not in ("http", "https"):
                        rejected.append({"url": url, "page": page, "reason": "not an http(s) URL", "duplicate_of": ""})
                        continue
                    if cfg.respect_robots and not robots.allowed(url):
                        rejected.append(
                            {"url": url, "page": page, "reason": "robots.txt disallows", "duplicate_of": ""}
                        )
                        continue
                    limiter.wait(url, robots.crawl_delay(url) if cfg.respect_robots else None)
                    got = fetch_image(
                        session,
                        url,
                        timeout=cfg.timeout,
                        max_bytes=cfg.max_bytes,
                        min_side=cfg.min_side,
                        retries=cfg.retries,
                        referer=page,
                    )
                    if got.data is None:
                        rejected.append({"url": url, "page": page, "reason": got.reason, "duplicate_of": ""})
                        continue
                    sha, ph = sha256_bytes(got.data), phash(got.data)
                    dup = index.match(sha, ph)
                    if dup is not None:
                        rejected.append(
                            {"url": url, "page": page, "reason": f"duplicate ({dup[0]})", "duplicate_of": dup[1]}
                        )
                        continue
                    name = f"images/{sha[:16]}{_EXT.get(got.format, '.img')}"
                    with atomic_output(out / name) as tmp:
                        tmp.write_bytes(got.data)
                    index.add(name, sha, ph)
                    rows.append(
                        {
                            "url": url,
                            "page": page,
                            "file": name,
                            "sha256": sha,
                            "phash": ph,
                            "size": len(got.data),
                            "width": got.width,
                            "height": got.height,
                            "format": got.format,
                            "license": "",
                            "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        }
                    )
    finally:
        if own_session:
            session.close()
    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    rejected_df = pd.concat([old_rejected, pd.DataFrame(rejected, columns=REJECT_COLUMNS)], ignore_index=True)
    with atomic_output(manifest_csv) as tmp:
        manifest.to_csv(tmp, index=False)
    with atomic_output(rejected_csv) as tmp:
        rejected_df.to_csv(tmp, index=False)
    return ScrapeResult(manifest, rejected_df, manifest_csv, rejected_csv)
