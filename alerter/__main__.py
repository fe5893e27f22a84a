"""`python -m alerter` runs the alerter's command line."""

import sys

from alerter.cli import main

sys.exit(main())
