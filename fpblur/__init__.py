"""fpblur: find faces and licence plates in images and videos and anonymize them."""

from fpblur.core.detections import Detections

__version__ = "0.1.0"
__all__ = ["Detections", "Anonymizer", "__version__"]


def __getattr__(name: str):
    # Lazy: importing fpblur must stay cheap (no onnxruntime / torch until a detector is built).
    if name == "Anonymizer":
        from fpblur.redact.anonymizer import Anonymizer

        return Anonymizer
    raise AttributeError(name)
