"""`python -m collector` is the `collector` command."""

import sys

from collector.cli import main

sys.exit(main())
