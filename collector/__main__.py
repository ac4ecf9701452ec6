"""`python -m collector` is the `collector` command."""

import sys

from collector.cli import main

if __name__ == "__main__":  # not again in a worker process (collector.links)
    sys.exit(main())
