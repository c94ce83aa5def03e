"""Dataset tooling: WIDER FACE → YOLO, plate image collection (scraper, dashcam frames), VOC → YOLO, label QA.

Modules (import them directly; nothing heavy is imported here):

* :mod:`fpblur.training.data.download` — resumable, checksummed, retrying HTTP downloads with progress bars.
* :mod:`fpblur.training.data.wider` — WIDER FACE download, annotation parsing, YOLO export, statistics.
* :mod:`fpblur.training.data.scrape` — headless-Chromium image scraper (lazy pages, robots.txt, de-duplication).
* :mod:`fpblur.training.data.frames` — frame extraction from videos (interval / scene change, near-duplicate drop).
* :mod:`fpblur.training.data.voc` — Pascal VOC XML → YOLO labels with a conversion report.
* :mod:`fpblur.training.data.qa` — label QA over a YOLO dataset and ``fix`` into a new folder.
* :mod:`fpblur.training.data.split` — deterministic train/val split grouped by source.
* :mod:`fpblur.training.data.yolo` — YOLO label/dataset helpers; :mod:`fpblur.training.data.hashing` — sha256 / perceptual hashes.
* :mod:`fpblur.training.data.fixtures` — tiny generated data for the notebooks' smoke mode and the tests;
  :mod:`fpblur.training.data.server` — a static HTTP server on 127.0.0.1 with byte ranges (smoke mode, tests).
"""
