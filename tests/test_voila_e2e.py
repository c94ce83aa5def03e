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
        texts = shots.drive_demo(driver, url, sample_label="zidane.jpg", mode="pixelate")
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
