"""Desktop app for users of the original Face_Plate_Blur project: ``python face_plate_tool.py [IMAGE|VIDEO]``.

Same as ``fpblur app``; the code lives in :mod:`fpblur.app`.
"""

import sys

from fpblur.app import main

if __name__ == "__main__":
    sys.exit(main())
