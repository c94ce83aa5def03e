#!/usr/bin/env python
"""Entry point kept for users of the original project: same flags as ``fpblur batch``.

    python merged_blur.py --faces F.pt --plates P.pt --in ./videos --out ./blurred

Every image and video under --in is anonymized into --out (structure mirrored); --faces/--plates default to
the built-in CenterFace and YOLOv8n plate models.  See ``fpblur batch --help`` for all options.
"""

import sys

from fpblur.cli import main

if __name__ == "__main__":
    sys.exit(main(["batch", *sys.argv[1:]]))
