"""Media I/O: reading and writing images (orientation, metadata) and videos (PyAV), synthetic test clips."""
