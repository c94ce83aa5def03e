"""Sample inputs: photos shipped with fpblur plus a generated car with a licence plate.

Nothing here is downloaded: ``zidane.jpg`` and ``bus.jpg`` (byte-identical copies of the ``ultralytics`` wheel's
``ultralytics/assets``, AGPL-3.0) and ``grace_hopper.jpg`` (matplotlib's sample data) are package data of fpblur
in ``fpblur/models/assets/`` (licences in the README there), read with importlib.resources; the car is drawn
with OpenCV (the default plate model detects its plate).
"""

from __future__ import annotations

import os
import shutil
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from fpblur.core.files import atomic_output
from fpblur.models.registry import cache_dir

PHOTOS = ("zidane.jpg", "bus.jpg")  # the sample folder's photos
ASSETS = ("zidane.jpg", "bus.jpg", "grace_hopper.jpg")  # every photo shipped in fpblur/models/assets


def synthetic_car(
    text: str = "FPB 1234", size: tuple[int, int] = (640, 480), seed: int = 0, plate_width: int = 200
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A simple drawn car seen from behind with a readable plate (the default plate model detects it).

    Args:
        text: the plate's text.
        size: ``(width, height)`` of the image in pixels; the drawing scales with it.
        seed: seed of the random background colour.
        plate_width: the plate's width in pixels at 640 px image width (height: a quarter of it).

    Returns:
        ``(image, plate_box)``: an H×W×3 uint8 BGR image and the plate's ``(x1, y1, x2, y2)`` in its pixels
        (integers).
    """
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
    cv2.putText(
        img,
        text,
        (x + int(12 * scale), y + ph - int(13 * scale)),
        cv2.FONT_HERSHEY_DUPLEX,
        scale,
        (15, 15, 15),
        max(1, int(2 * scale)),
        cv2.LINE_AA,
    )
    return img, (x, y, x + pw, y + ph)


def photo_path(name: str) -> Path:
    """Path of a photo shipped with fpblur, e.g. ``photo_path("zidane.jpg")``.

    Args:
        name: one of :data:`ASSETS`.

    Returns:
        The installed file's path.

    Raises:
        ValueError: ``name`` is not one of :data:`ASSETS`.
        FileNotFoundError: the file is missing from the installed package.
    """
    if name not in ASSETS:
        raise ValueError(f"unknown sample photo {name!r}; shipped: {', '.join(ASSETS)}")
    path = Path(str(resources.files("fpblur.models").joinpath("assets").joinpath(name)))
    if not path.is_file():
        raise FileNotFoundError(f"{path}: sample photo missing from the fpblur package (reinstall fpblur)")
    return path


def sample_folder(dest: str | os.PathLike | None = None) -> Path:
    """A folder with ``zidane.jpg``, ``bus.jpg`` and ``car_plate.png`` (:func:`synthetic_car`), made offline.

    Files already there are kept; missing ones are written atomically.

    Args:
        dest: the folder (created if needed); None: ``<fpblur cache>/samples``.

    Returns:
        The folder.

    Raises:
        OSError: the folder or a file cannot be written.
        FileNotFoundError: a shipped photo is missing from the installed package.
    """
    folder = Path(dest) if dest else cache_dir() / "samples"
    folder.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        target = folder / name
        if not target.exists():
            with atomic_output(target) as tmp:
                shutil.copyfile(photo_path(name), tmp)
    car = folder / "car_plate.png"
    if not car.exists():
        img, _ = synthetic_car()
        with atomic_output(car) as tmp:
            if not cv2.imwrite(str(tmp), img):
                raise OSError(f"{car}: could not write the sample image")
    return folder
