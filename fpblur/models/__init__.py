"""Pretrained models: the registry (where each file comes from, its licence and sha256), caches, sample images,
and the switches that keep Ultralytics offline."""
