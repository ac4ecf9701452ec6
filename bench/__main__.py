import sys

if sys.argv[1:2] == ["display"]:  # `python -m bench display [--quick]`: the screens
    from bench.display import main as display_main

    raise SystemExit(display_main(sys.argv[2:]))

if sys.argv[1:2] == ["reporting"]:  # `python -m bench reporting [--quick] [--broker plain,tls]`
    from bench.reporting import main as reporting_main

    raise SystemExit(reporting_main(sys.argv[2:]))

if sys.argv[1:2] == ["loyalty-rt"]:  # `python -m bench loyalty-rt [--quick] [--broker plain,tls]`
    from bench.loyalty_roundtrip import main as loyalty_rt_main

    raise SystemExit(loyalty_rt_main(sys.argv[2:]))

if sys.argv[1:2] == ["fuzz"]:  # `python -m bench fuzz [--minutes N]`: every MQTT handler
    from bench.fuzz import main as fuzz_main

    raise SystemExit(fuzz_main(sys.argv[2:]))

if sys.argv[1:2] == ["rss"]:  # `python -m bench rss [--scans N]`: RSS over hours of sales
    from bench.rss import main as rss_main

    raise SystemExit(rss_main(sys.argv[2:]))

from bench.till import main

raise SystemExit(main(sys.argv[1:]))
