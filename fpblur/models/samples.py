"""Sample inputs: the photos the ultralytics wheel ships plus a generated car with a licence plate.

Nothing here is downloaded: ``zidane.jpg`` and ``bus.jpg`` are package data of ``ultralytics``, and the car
is drawn with OpenCV (the default plate model detects its plate).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np

PHOTOS = ("zidane.jpg", "bus.jpg")


def synthetic_car(text: str = "FPB 1234", size: tuple[int, int] = (640, 480), seed: int = 0,
                  plate_width: int = 200) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A simple drawn car seen from behind with a readable plate; returns ``(image_bgr, plate_box)``."""
    w, h = size
    rng = np.random.default_rng(seed)
    img = np.empty((h, w, 3), np.uint8)
    img[:] = tuple(int(v) for v in rng.integers(60, 120, size=3))
    sx, sy = w / 640, h / 480
    def pt(x, y):
        return int(x * sx), int(y * sy)
    cv2.rectangle(img, pt(120, 160), pt(520, 420), (40, 40, 160), -1)
    cv2.rectangle(img, pt(170, 100), pt(470, 200), (30, 30, 120), -1)
    for cx in (190, 450):
        cv2.circle(img, pt(cx, 420), int(45 * sy), (20, 20, 20), -1)
    for x in (150, 420):
        cv2.rectangle(img, pt(x, 230), pt(x + 70, 270), (200, 230, 255), -1)
    pw, ph = int(plate_width * sx), int(plate_width / 4 * sx)
    x, y = (w - pw) // 2, int(320 * sy)
    cv2.rectangle(img, (x, y), (x + pw, y + ph), (235, 235, 235), -1)
    cv2.rectangle(img, (x, y), (x + pw, y + ph), (10, 10, 10), 2)
    scale = pw / 200
    cv2.putText(img, text, (x + int(12 * scale), y + ph - int(13 * scale)), cv2.FONT_HERSHEY_DUPLEX, scale,
                (15, 15, 15), max(1, int(2 * scale)), cv2.LINE_AA)
    return img, (x, y, x + pw, y + ph)


def ultralytics_photo(name: str) -> Path:
    from fpblur.models.offline import import_ultralytics

    import_ultralytics()
    from ultralytics.utils import ASSETS

    return Path(ASSETS) / name


def sample_folder(dest: str | os.PathLike | None = None) -> Path:
    """A folder with zidane.jpg, bus.jpg and car_plate.png (created on first use in fpblur's cache)."""
    from fpblur.core.files import atomic_output
    from fpblur.models.registry import cache_dir

    folder = Path(dest) if dest else cache_dir() / "samples"
    folder.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        target = folder / name
        if not target.exists():
            with atomic_output(target) as tmp:
                shutil.copyfile(ultralytics_photo(name), tmp)
    car = folder / "car_plate.png"
    if not car.exists():
        img, _ = synthetic_car()
        with atomic_output(car) as tmp:
            if not cv2.imwrite(str(tmp), img):
                raise OSError(f"{car}: could not write the sample image")
    return folder
