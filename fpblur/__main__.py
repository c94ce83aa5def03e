import sys

from fpblur.cli import main

sys.exit(main())
