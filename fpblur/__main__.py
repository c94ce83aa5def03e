"""``python -m fpblur``: the ``fpblur`` command line (:func:`fpblur.cli.main`)."""

import sys

from fpblur.cli import main

sys.exit(main())
