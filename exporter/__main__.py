"""`python -m exporter` runs the exporter's command line."""

import sys

from exporter.cli import main

sys.exit(main())
