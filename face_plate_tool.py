"""Desktop app for users of the original Face_Plate_Blur project: ``python face_plate_tool.py [IMAGE|VIDEO]``.

Same as ``fpblur app`` (same flags; a friendly message when Tk or a display is missing); the code lives in
:mod:`fpblur.ui.app`.
"""

import sys

from fpblur.cli import main

if __name__ == "__main__":
    sys.exit(main(["app", *sys.argv[1:]]))
