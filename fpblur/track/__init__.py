"""Tracking across video frames: the tracker (hold, look-ahead), camera-motion compensation and the frame
schedule (which detectors run on which frame)."""
