"""Video anonymization: PyAV I/O (:mod:`fpblur.video.io`) and the streaming pipeline
(:mod:`fpblur.video.pipeline`).  Import from the submodules; this package imports nothing heavy."""

from __future__ import annotations

__all__ = ["anonymize_video", "VideoSettings", "VideoReport", "VideoError"]


def __getattr__(name: str):
    if name in __all__:
        from fpblur.video import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)
