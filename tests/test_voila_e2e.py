"""End to end: notebook 06 served by Voilà on 127.0.0.1, driven in headless Chromium with Selenium."""

from __future__ import annotations

import contextlib
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
        # the same run as code, with the mode chosen (not a fixed one)
        code = _panel(driver)["code"]
        assert 'mode="pixelate"' in code and 'sample_folder() / "zidane.jpg"' in code, code
        assert 'targets=("face", "plate")' in code and '"face": {"conf": 0.2, "iou": 0.3}' in code, code
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
        code = _panel(driver)["code"]
        assert 'mode="boxes"' in code and 'write_image("car_plate_boxes.png", out)' in code, code
        # a file uploaded through the browser's file input
        import cv2
        from clips import panning_clip

        photo = tmp_path / "crop.png"
        cv2.imwrite(str(photo), cv2.imread(str(ultralytics_assets / "zidane.jpg"))[:, 300:1000])
        texts = shots.drive_demo(driver, None, upload=photo, mode="blur")
        assert texts["counts"] == "2 faces, 0 plates" and "Download crop_blur.png" in texts["download"], texts
        # "Save" with the proposed path writes where git does not look (the kernel runs in notebooks/)
        _check_save_is_git_ignored(driver)
        # a video run: while it works, nothing of the previous (image) result is on screen
        clip = tmp_path / "pan.mp4"
        panning_clip(cv2.imread(str(ultralytics_assets / "zidane.jpg")), clip, frames=150)
        during, texts = _run_video_upload(driver, clip)
        assert during == {
            "counts": "",
            "download": "",
            "savePath": "",
            "after": False,
            "progress": True,
            "message": "working…",
        }, during
        assert texts["counts"].startswith("2 faces") and "Download pan_blur.mp4" in texts["download"], texts
        assert texts["savePath"].endswith("/fpblur-out/pan_blur.mp4"), texts
        assert 'anonymize_video("pan.mp4", "pan_blur.mp4", anonymizer, anonymizer.config.video)' in texts["code"]
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


_PANEL_JS = """
const text = s => { const e = document.querySelector(s); return e ? e.innerText.trim() : null; };
const after = document.querySelector('img.fpblur-after');
const progress = document.querySelector('.fpblur-progress');
return {
  counts: text('.fpblur-counts') ?? '',
  download: text('.fpblur-download'),
  savePath: document.querySelector('.fpblur-save-path input').value,
  after: {shown: !!after && after.offsetParent !== null, width: after ? after.naturalWidth : 0},
  progress: !!progress && getComputedStyle(progress).visibility === 'visible',
  message: text('.fpblur-message'),
  code: text('.fpblur-code'),
};
"""


def _panel(driver) -> dict:
    """What the demo's panel shows, read in one go: counts, download link, save path, the After picture,
    whether the progress bar is visible, the message, and the code snippet."""
    return driver.execute_script(_PANEL_JS)


def _run_video_upload(driver, clip: Path, timeout: float = 300.0) -> tuple[dict, dict]:
    """Upload ``clip``, click Anonymize and return the panel as seen while the run works, and once it is done."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.find_element(By.CSS_SELECTOR, "input.fpblur-attached-file-input").send_keys(str(clip))
    WebDriverWait(driver, 120).until(lambda d: _panel(d)["message"].startswith("pan.mp4:"))  # shown: first frame
    driver.find_element(By.CSS_SELECTOR, "button.fpblur-run").click()
    seen: list[dict] = []

    def observed(d) -> bool:
        panel = _panel(d)
        if panel["message"].startswith("done in") or "⚠" in panel["message"]:
            raise AssertionError(f"the run ended before it could be observed: {panel}")
        if panel["message"] == "working…":
            seen.append(panel)
        return bool(seen)

    WebDriverWait(driver, 120, poll_frequency=0.05).until(observed)
    during = {k: v for k, v in seen[0].items() if k != "code"}
    during["after"] = during["after"]["shown"]  # the After picture is hidden (its last pixels do not matter)
    WebDriverWait(driver, timeout).until(lambda d: _panel(d)["message"].startswith("done in"))
    return during, _panel(driver)


def _check_save_is_git_ignored(driver) -> None:
    import shutil
    import subprocess

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    proposed = Path(_panel(driver)["savePath"])
    assert proposed.is_absolute(), proposed
    driver.find_element(By.CSS_SELECTOR, "button.fpblur-save").click()
    WebDriverWait(driver, 60).until(lambda d: _panel(d)["message"].startswith("saved "))
    saved = Path(_panel(driver)["message"].removeprefix("saved "))
    try:
        assert saved == proposed and saved.is_file(), (saved, proposed)
        if saved.resolve().is_relative_to(ROOT.resolve()) and shutil.which("git"):
            ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", str(saved)]).returncode == 0
            assert ignored, f"Save wrote {saved}, which git does not ignore"
    finally:
        saved.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # the folder too, when the test made it
            saved.parent.rmdir()
