"""fpblur.training.data.scrape: real headless Chromium on a lazy-loading page served from 127.0.0.1, plus the fetch rules."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
import requests

from fpblur.training.data import fixtures, scrape
from fpblur.training.data.server import serve

needs_chromium = pytest.mark.skipif(
    not Path("/usr/bin/chromium").is_file(),
    reason="/usr/bin/chromium not installed (apt-get install chromium chromium-driver)",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    page = fixtures.make_lazy_page(tmp_path_factory.mktemp("site"))
    with serve(page.root) as server:
        yield page, server


@pytest.fixture(scope="module")
def driver():
    if not Path("/usr/bin/chromium").is_file():
        pytest.skip("/usr/bin/chromium not installed (apt-get install chromium chromium-driver)")
    with scrape.browser() as d:
        yield d


def _paths(urls):
    return {requests.utils.urlparse(u).path for u in urls}


@needs_chromium
def test_collects_every_lazy_image_by_scrolling(site, driver, no_network):
    page, server = site
    urls = scrape.collect_image_urls(driver, server.url + page.page, pause=0.3)
    assert _paths(urls) == set(page.all_urls)  # all batches appended on scroll were seen
    assert all(u.startswith(server.url) for u in urls)  # relative src/srcset/data-src resolved
    assert not any(u.startswith("data:") for u in urls)
    assert driver.execute_script("return document.querySelectorAll('#feed img').length") == 11


@needs_chromium
def test_scrape_downloads_dedups_rejects_and_writes_manifest(site, driver, tmp_path, no_network):
    page, server = site
    cfg = scrape.ScrapeConfig(rate_limit_s=0.0, scroll_pause=0.3)
    res = scrape.scrape([server.url + page.page], tmp_path / "out", cfg, driver=driver)
    m = res.manifest
    assert _paths(m["url"]) == set(page.unique)
    assert list(m.columns) == scrape.MANIFEST_COLUMNS
    assert (m["license"] == "").all() and (m["page"] == server.url + page.page).all()
    for row in m.itertuples():
        assert (tmp_path / "out" / row.file).stat().st_size == row.size
        assert (row.width, row.height) == (320, 240) and len(row.sha256) == 64 and len(row.phash) == 16
    rej = {requests.utils.urlparse(r.url).path: r for r in res.rejected.itertuples()}
    assert rej["/gallery/img/copy_of_2.jpg"].reason == "duplicate (sha256)"
    assert rej["/gallery/img/photo_3_large.jpg"].reason == "duplicate (phash)"
    assert rej["/gallery/img/fake.jpg"].reason.startswith("not a decodable image")
    assert rej["/gallery/about.html"].reason == "content-type text/html"
    assert rej["/private/secret.jpg"].reason == "robots.txt disallows"
    # robots.txt respected: the scraper never requested it (the browser rendering the page may have)
    assert ("/robots.txt", scrape.USER_AGENT) in server.agents
    assert not any(path.startswith("/private/") and agent == scrape.USER_AGENT for path, agent in server.agents)
    on_disk = pd.read_csv(res.manifest_csv, dtype=str, keep_default_na=False)
    assert len(on_disk) == len(page.unique)

    # a second run appends: nothing is fetched again and no row is added
    server.agents.clear()
    again = scrape.scrape([server.url + page.page], tmp_path / "out", cfg, driver=driver)
    assert len(again.manifest) == len(page.unique)
    assert not any(path.startswith("/gallery/img/") and agent == scrape.USER_AGENT for path, agent in server.agents)


def test_fetch_image_checks(site, no_network):
    page, server = site
    with requests.Session() as s:
        ok = scrape.fetch_image(s, f"{server.url}/gallery/img/photo_0.jpg")
        assert ok.reason == "" and (ok.width, ok.height, ok.format) == (320, 240, "JPEG")
        assert scrape.fetch_image(s, f"{server.url}/gallery/img/photo_0.jpg", max_bytes=1000).reason.startswith(
            "too large"
        )
        assert scrape.fetch_image(s, f"{server.url}/gallery/img/photo_0.jpg", min_side=500).reason.startswith(
            "too small"
        )
        assert scrape.fetch_image(s, f"{server.url}/gallery/img/nothing.jpg").reason == "HTTP 404"
        assert scrape.fetch_image(s, f"{server.url}/gallery/index.html").reason == "content-type text/html"
        assert scrape.fetch_image(s, f"{server.url}/gallery/img/fake.jpg").reason.startswith("not a decodable image")
        server.truncate["/gallery/img/photo_1.jpg"] = 1  # first transfer breaks off: retried
        server.log.clear()
        assert scrape.fetch_image(s, f"{server.url}/gallery/img/photo_1.jpg", backoff=0).reason == ""
        assert len(server.log) == 2
        dead = scrape.fetch_image(s, "http://127.0.0.1:9/x.jpg", retries=1, backoff=0, timeout=2)
        assert dead.data is None and dead.reason.startswith("failed after 2 attempts")


def test_robots_and_rate_limit(site, no_network):
    page, server = site
    with requests.Session() as s:
        robots = scrape.Robots(s)
        assert robots.allowed(f"{server.url}/gallery/img/photo_0.jpg")
        assert not robots.allowed(f"{server.url}/private/secret.jpg")
        assert scrape.Robots(s).allowed("http://127.0.0.1:9/anything") is False  # robots.txt unreachable: be careful
    limiter = scrape.RateLimiter(0.2)
    t0 = time.monotonic()
    for _ in range(3):
        limiter.wait("http://127.0.0.1:1/a")
    assert time.monotonic() - t0 >= 0.39
    t1 = time.monotonic()
    limiter.wait("http://127.0.0.2:1/a")  # another host: no wait
    assert time.monotonic() - t1 < 0.1


def test_browser_options_use_debian_paths_and_fresh_profile(tmp_path):
    opts = scrape.chromium_options(scrape.BrowserConfig(), str(tmp_path / "profile"))
    assert opts.binary_location == "/usr/bin/chromium"
    for flag in scrape.CHROMIUM_FLAGS:
        assert flag in opts.arguments
    assert f"--user-data-dir={tmp_path / 'profile'}" in opts.arguments
    with pytest.raises(scrape.BrowserUnavailable, match="chromedriver"):
        scrape._driver_service(scrape.BrowserConfig(driver=str(tmp_path / "no-driver")))
    with pytest.raises(scrape.BrowserUnavailable, match="Chromium"):
        with scrape.browser(scrape.BrowserConfig(binary=str(tmp_path / "no-chromium"))):
            pass


def test_own_session_is_closed_when_scraping_fails(tmp_path, monkeypatch):
    sessions = []

    class Session(requests.Session):
        def __init__(self):
            super().__init__()
            self.closed = False
            sessions.append(self)

        def close(self):
            self.closed = True
            super().close()

    class BrokenDriver:
        def get(self, url):
            raise RuntimeError("browser crashed")

    monkeypatch.setattr(scrape.requests, "Session", Session)
    cfg = scrape.ScrapeConfig(respect_robots=False, rate_limit_s=0.0)
    with pytest.raises(RuntimeError, match="browser crashed"):
        scrape.scrape(["http://127.0.0.1:9/page"], tmp_path / "out", cfg, driver=BrokenDriver())
    assert len(sessions) == 1 and sessions[0].closed


def test_only_exhausted_retries_are_retried_on_a_later_run(site, no_network):
    page, server = site
    with requests.Session() as s:  # what fetch_image reports for a connection that never works, and for a 404
        dead = scrape.fetch_image(s, "http://127.0.0.1:9/x.jpg", retries=0, timeout=2).reason
        gone = scrape.fetch_image(s, f"{server.url}/gallery/img/nothing.jpg").reason
    assert scrape._retryable(dead) and not scrape._retryable(gone)
    for final in (
        "HTTP 403",
        "content-type text/html",
        "too small (10×10)",
        "not a decodable image (OSError)",
        "duplicate (phash)",
    ):
        assert not scrape._retryable(final)
