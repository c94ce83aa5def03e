"""Redaction: the pixel modes (blur, pixelate, solid, ellipse, boxes) and the :class:`Anonymizer` that joins
detectors, padding and a mode."""
