"""Dataset tooling: WIDER FACE → YOLO, plate image collection (scraper, dashcam frames), VOC → YOLO, label QA.

Modules (import them directly; nothing heavy is imported here):

* :mod:`fpblur.data.download` — resumable, checksummed, retrying HTTP downloads with progress bars.
* :mod:`fpblur.data.wider` — WIDER FACE download, annotation parsing, YOLO export, statistics.
* :mod:`fpblur.data.scrape` — headless-Chromium image scraper (lazy pages, robots.txt, de-duplication).
* :mod:`fpblur.data.frames` — frame extraction from videos (interval / scene change, near-duplicate drop).
* :mod:`fpblur.data.voc` — Pascal VOC XML → YOLO labels with a conversion report.
* :mod:`fpblur.data.qa` — label QA over a YOLO dataset and ``fix`` into a new folder.
* :mod:`fpblur.data.split` — deterministic train/val split grouped by source.
* :mod:`fpblur.data.yolo` — YOLO label/dataset helpers; :mod:`fpblur.data.hashing` — sha256 / perceptual hashes.
* :mod:`fpblur.data.fixtures` — tiny generated data for the notebooks' smoke mode and the tests;
  :mod:`fpblur.data.server` — a static HTTP server on 127.0.0.1 with byte ranges (smoke mode, tests).
"""
