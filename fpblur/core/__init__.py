"""Core values: the :class:`~fpblur.core.detections.Detections` type, box maths, labels, files and digests.

The bottom layer: imports nothing else from fpblur."""
