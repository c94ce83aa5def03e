"""End to end: notebook 06 served by Voilà on 127.0.0.1, driven in headless Chromium with Selenium."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_harness():
    """``scripts/make_screenshots.py``: the Voilà/Chromium/Xvfb helpers shared with the screenshot script."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_screenshots

    return make_screenshots


shots = _load_harness()
pytest.importorskip("voila", reason="voila is not installed")
pytestmark = pytest.mark.skipif(bool(shots.chromium_available()), reason=str(shots.chromium_available()))


@pytest.mark.slow
def test_voila_demo_in_chromium(tmp_path, ultralytics_assets):
    with shots.voila_server(shots.NOTEBOOK, tmp_path) as url, shots.chromium(tmp_path) as driver:
        assert url.startswith("http://127.0.0.1:")
        # on load, before any click: the chosen sample is shown and no picture is a broken-image icon
        driver.get(url)
        _wait_for_pictures(driver)
        before = _pictures(driver)
        assert before["img.fpblur-before"]["width"] > 0, before
        assert not _broken(before), before
        # choosing another sample shows it at once, still without a click
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select

        select = Select(driver.find_element(By.CSS_SELECTOR, ".fpblur-sample select"))
        select.select_by_visible_text(next(o.text for o in select.options if o.text.startswith("car_plate.png")))
        _wait_for_pictures(driver, width=640)
        assert not _broken(_pictures(driver)), _pictures(driver)
        texts = shots.drive_demo(driver, None, sample_label="zidane.jpg", mode="pixelate")
        assert texts["counts"] == "2 faces, 0 plates", texts
        assert texts["status"].startswith("done in"), texts
        assert "Download zidane_pixelate.jpg" in texts["download"], texts
        # the after-image is the anonymized photo, as large as the before-image
        sizes = driver.execute_script(
            "return ['img.fpblur-before', 'img.fpblur-after'].map(s => document.querySelector(s).naturalWidth);"
        )
        assert sizes[0] == sizes[1] == 720
        shot = shots.screenshot_demo(driver, tmp_path / "widget_demo.png")
        page = tmp_path / "page.png"
        driver.save_screenshot(str(page))
        # the same page stays usable: another sample and mode, no reload
        texts = shots.drive_demo(driver, None, sample_label="car_plate.png", mode="boxes")
        assert texts["counts"] == "0 faces, 1 plate", texts
        assert "Download car_plate_boxes.png" in texts["download"], texts
        # a file uploaded through the browser's file input
        import cv2

        photo = tmp_path / "crop.png"
        cv2.imwrite(str(photo), cv2.imread(str(ultralytics_assets / "zidane.jpg"))[:, 300:1000])
        texts = shots.drive_demo(driver, None, upload=photo, mode="blur")
        assert texts["counts"] == "2 faces, 0 plates" and "Download crop_blur.png" in texts["download"], texts
    assert shot.stat().st_size > 10_000 and page.stat().st_size > 10_000


_PICTURES_JS = """
return Object.fromEntries(['img.fpblur-before', 'img.fpblur-after'].map(s => {
  const i = document.querySelector(s);
  return [s, i ? {shown: i.offsetParent !== null, complete: i.complete, width: i.naturalWidth} : null];
}));
"""


def _pictures(driver) -> dict:
    """Per picture of the demo: whether it is shown, loaded, and its natural width in pixels."""
    return driver.execute_script(_PICTURES_JS)


def _broken(pictures: dict) -> list[str]:
    """The pictures a browser shows as a broken-image icon: shown and loaded, but with no pixels."""
    return [s for s, p in pictures.items() if p and p["shown"] and p["complete"] and p["width"] == 0]


def _wait_for_pictures(driver, width: int | None = None, timeout: float = 120.0) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(d) -> bool:
        before = _pictures(d)["img.fpblur-before"]
        return bool(before and before["complete"] and before["width"] > 0 and width in (None, before["width"]))

    WebDriverWait(driver, timeout).until(ready)
