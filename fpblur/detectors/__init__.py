"""Detector backends.  Every detector maps a BGR image to :class:`fpblur.Detections`."""

from fpblur.detectors.base import Detector
from fpblur.detectors.factory import DetectorSpec, build_detector

__all__ = ["Detector", "DetectorSpec", "build_detector"]
