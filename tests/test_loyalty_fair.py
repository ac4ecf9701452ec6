"""The fair share of the loyalty answerers (collector.loyalty.fair), pure, on a clock the
test moves: devices served in turn, a device over its rate refused then dropped, queues
bounded per device and in all, stale requests dropped unanswered, drops reported once,
idle devices forgotten; and, for any mix of offers and takes, nothing lost or answered
twice, per-device order kept and every bound held."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.config import RequestsSection
from collector.loyalty.fair import FairQueue


def queue(**overrides: float) -> FairQueue[str]:
    return FairQueue(RequestsSection(**overrides))  # type: ignore[arg-type]


def drain(q: FairQueue[str], now: float) -> list[str]:
    out = []
    while (item := q.take(now)) is not None:
        out.append(item)
    return out


def test_devices_are_served_in_turn_whatever_each_sent() -> None:
    q = queue()
    for n in range(6):
        q.offer("flood", f"f{n}", 0.0)
    q.offer("a", "a0", 0.0)
    q.offer("a", "a1", 0.0)
    q.offer("b", "b0", 0.0)
    assert drain(q, 0.1) == ["f0", "a0", "b0", "f1", "a1", "f2", "f3", "f4", "f5"]
    assert q.waiting == 0 and q.counts.taken == 9


def test_a_device_over_its_rate_is_refused_then_dropped_and_refills() -> None:
    q = queue(rate=2.0, burst=4)
    refused = [r for n in range(10) for r in q.offer("t", f"r{n}", 0.0)]
    # 4 admitted (the burst), 4 refused (the refusal burst), the last 2 dropped in silence.
    assert q.waiting_for("t") == 4
    assert refused == ["r4", "r5", "r6", "r7"]
    assert (q.counts.over_rate, q.counts.refused) == (6, 4)
    assert drain(q, 0.0) == ["r0", "r1", "r2", "r3"]
    # Half a second later one more token (rate 2/s), and one more refusal.
    assert q.offer("t", "x0", 0.5) == []
    assert q.offer("t", "x1", 0.5) == ["x1"]
    assert q.offer("t", "x2", 0.5) == []
    assert drain(q, 0.5) == ["x0"]
    # Another device is not held to the first one's rate.
    assert q.offer("u", "u0", 0.5) == [] and drain(q, 0.5) == ["u0"]


def test_a_full_device_queue_pushes_its_oldest_out() -> None:
    q = queue(per_device=3, burst=100, rate=1.0)
    refused = [r for n in range(8) for r in q.offer("t", f"r{n}", 0.0)]
    assert refused == ["r0", "r1", "r2", "r3", "r4"]  # pushed out, each told
    assert q.counts.queue_full == 5 and q.counts.most_waiting_device == 3
    assert drain(q, 0.0) == ["r5", "r6", "r7"]


def test_the_total_bound_pushes_out_the_oldest_of_the_longest_queue() -> None:
    q = queue(per_device=4, total=6)
    for n in range(4):
        q.offer("big", f"big{n}", 0.0)
    q.offer("a", "a0", 0.0)
    q.offer("b", "b0", 0.0)
    assert q.waiting == 6
    assert q.offer("c", "c0", 0.0) == ["big0"]
    assert q.offer("d", "d0", 0.0) == ["big1"]
    assert q.waiting == 6 and q.counts.total_full == 2 and q.counts.most_waiting == 6
    # big has 2 now, still the longest: its oldest (big2) goes.
    q.offer("e", "e0", 0.0)
    assert sorted(drain(q, 0.0)) == sorted(["big3", "a0", "b0", "c0", "d0", "e0"])


def test_a_request_that_waited_over_max_wait_is_dropped_unanswered() -> None:
    q = queue(max_wait=2.0)
    q.offer("t", "old", 0.0)
    q.offer("t", "new", 1.0)
    q.offer("u", "u-old", 0.0)
    assert drain(q, 2.5) == ["new"]
    assert q.counts.stale == 2 and q.waiting == 0
    reports = {r.device: r.drops for r in q.report(2.5)}
    assert (reports["t"].stale, reports["u"].stale) == (1, 1)


def test_drops_are_reported_once_per_report_and_idle_devices_forgotten() -> None:
    q = queue(rate=1.0, burst=1)
    q.offer("t", "r0", 0.0)
    q.offer("t", "r1", 0.0)  # over the rate
    drain(q, 0.0)
    [only] = list(q.report(0.0))
    assert (only.device, only.drops.over_rate, only.drops.refused) == ("t", 1, 1)
    assert list(q.report(0.1)) == []  # reported already; its buckets still fill
    assert q.tracked == 1
    assert list(q.report(5.0)) == [] and q.tracked == 0  # full again: forgotten


def test_a_crowd_of_device_ids_stays_within_bounds() -> None:
    q = queue(total=64, per_device=4)
    for n in range(20_000):
        q.offer(f"id-{n}", f"r{n}", n * 1e-5)
        assert q.waiting <= 64
    assert q.tracked <= 4 * 64 + 64
    assert q.counts.total_full == 20_000 - 64
    assert len(drain(q, 0.2)) == 64


OPS = st.lists(
    st.tuples(
        st.sampled_from(["offer", "take", "report"]),
        st.integers(0, 4),  # the device
        st.floats(0, 0.5),  # seconds since the previous operation
    ),
    max_size=300,
)


@settings(max_examples=150, deadline=None)
@given(OPS)
def test_nothing_is_lost_or_answered_twice_and_every_bound_holds(
    ops: list[tuple[str, int, float]],
) -> None:
    cfg = RequestsSection(per_device=3, total=7, rate=4.0, burst=3, max_wait=1.0)
    q: FairQueue[str] = FairQueue(cfg)
    now, sent, taken, refused = 0.0, 0, [], []
    for op, device, dt in ops:
        now += dt
        if op == "offer":
            refused += q.offer(f"d{device}", f"d{device}:{sent}", now)
            sent += 1
        elif op == "take" and (item := q.take(now)) is not None:
            taken.append(item)
        elif op == "report":
            list(q.report(now))
        assert q.waiting <= cfg.total
        assert all(q.waiting_for(f"d{d}") <= cfg.per_device for d in range(5))
    c = q.counts
    dropped = c.over_rate + c.queue_full + c.total_full + c.stale
    assert c.offered == sent == len(taken) + dropped + q.waiting
    assert len(set(taken) | set(refused)) == len(taken) + len(refused) == c.taken + c.refused
    for d in range(5):  # each device's requests are answered in the order they came
        mine = [int(t.split(":")[1]) for t in taken if t.startswith(f"d{d}:")]
        assert mine == sorted(mine)
    assert c.most_waiting <= cfg.total and c.most_waiting_device <= cfg.per_device
