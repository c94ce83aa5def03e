"""fpblur: find faces and licence plates in images and videos and anonymize them.

The public API at the top: :class:`~fpblur.core.detections.Detections` (what detectors return) and
:class:`~fpblur.redact.anonymizer.Anonymizer` (detectors + padding + an anonymization mode).
"""

from fpblur.core.detections import Detections
from fpblur.redact.anonymizer import Anonymizer

__version__ = "0.1.0"
__all__ = ["Detections", "Anonymizer", "__version__"]
