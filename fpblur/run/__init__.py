"""Runners: anonymize a list of images, one video (threaded pipeline) or a batch of videos."""
