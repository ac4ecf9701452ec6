"""`python -m bench [COMMAND] [OPTIONS]`: the benchmarks (docs/benchmarks.md). Commands:

  (none)       the till: sale commit, scan to basket, time to READY, RSS (bench/till.py)
  reporting    MQTT to the collector: ingest, drain, latency [--quick] [--only …]
               [--broker plain,tls] (bench/reporting.py)
  loyalty-rt   card to balance with 100 tills [--quick] [--broker plain,tls]
               [--modes steady,burst] (bench/loyalty_roundtrip.py)
  trust        trust on the wire in one run: loyalty p99 and ingest, plain against TLS,
               with the targets [--seconds S] [--n N] [--unsigned-p99 MS] (bench/trust.py)
  display      the screens [--quick] (bench/display.py)
  fuzz         every MQTT handler [--minutes N] [--pg] (bench/fuzz.py)
  rss          RSS over hours of sales [--scans N] (bench/rss.py)

`python -m bench COMMAND --help` says more about each (not the till's, which takes none).
"""

import sys

if sys.argv[1:2] in (["-h"], ["--help"], ["help"]):
    print(__doc__)
    raise SystemExit(0)

if sys.argv[1:2] == ["display"]:  # `python -m bench display [--quick]`: the screens
    from bench.display import main as display_main

    raise SystemExit(display_main(sys.argv[2:]))

if sys.argv[1:2] == ["reporting"]:  # `python -m bench reporting [--quick] [--broker plain,tls]`
    from bench.reporting import main as reporting_main

    raise SystemExit(reporting_main(sys.argv[2:]))

if sys.argv[1:2] == ["loyalty-rt"]:  # `python -m bench loyalty-rt [--quick] [--broker plain,tls]`
    from bench.loyalty_roundtrip import main as loyalty_rt_main

    raise SystemExit(loyalty_rt_main(sys.argv[2:]))

if sys.argv[1:2] == ["trust"]:  # `python -m bench trust [--seconds S] [--n N]`: plain against TLS
    from bench.trust import main as trust_main

    raise SystemExit(trust_main(sys.argv[2:]))

if sys.argv[1:2] == ["fuzz"]:  # `python -m bench fuzz [--minutes N]`: every MQTT handler
    from bench.fuzz import main as fuzz_main

    raise SystemExit(fuzz_main(sys.argv[2:]))

if sys.argv[1:2] == ["rss"]:  # `python -m bench rss [--scans N]`: RSS over hours of sales
    from bench.rss import main as rss_main

    raise SystemExit(rss_main(sys.argv[2:]))

from bench.till import main

raise SystemExit(main(sys.argv[1:]))
