"""Configuration: named profiles and the detector spec, and the one resolver every entry point calls.

Imports only :mod:`fpblur.core` and :mod:`fpblur.models`."""
