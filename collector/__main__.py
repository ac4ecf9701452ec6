"""`python -m collector` is the `collector` command."""

import sys

from collector.cli import main

if __name__ == "__main__":  # importing it (a multiprocessing child, a tool) runs nothing
    sys.exit(main())
