import sys

from bench.till import main

raise SystemExit(main(sys.argv[1:]))
