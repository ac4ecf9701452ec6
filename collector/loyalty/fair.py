"""Sharing the loyalty answerers out between devices, so one device's flood cannot starve
the others (docs/loyalty.md, "Fair shares").

Pure: no I/O, no clock of its own (every call is given `now`, monotonic seconds). A
request is kept as whatever the caller hands in (`T`), under the device's key (its
request topic). On arrival a device pays one token of its bucket (`rate` a second, up to
`burst`); without one the request is over the rate. At most `per_device` wait per device
(a new one pushes the device's oldest out) and `total` in all (a new one pushes out the
oldest of the longest queue, so a crowd of devices shares the bound too). `take` serves
the devices in turn, one request each, and drops unanswered what waited over `max_wait`:
the till gave up on it (1.5 s), an answer is worth nothing. What is not answered is
answered "too many requests" while the device's refusal bucket (the same rate and burst)
lasts, then dropped in silence: refusals cost a publish each, and a flood must not turn
them into a flood of its own.

Written here rather than taken from a library: the rate limiters on PyPI (aiolimiter,
limits, …) limit a caller by making it wait, and asyncio's queues are one FIFO; neither
bounds per key, serves keys in turn or drops by age.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from collector.config import RequestsSection

T = TypeVar("T")


@dataclass
class Bucket:
    """A token bucket: `tokens` as they were at `at`, filling at `rate` up to `burst`."""

    tokens: float
    at: float

    def take(self, now: float, rate: float, burst: int) -> bool:
        self.tokens = min(float(burst), self.tokens + max(now - self.at, 0.0) * rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def full(self, now: float, rate: float, burst: int) -> bool:
        return self.tokens + max(now - self.at, 0.0) * rate >= burst


@dataclass
class Drops:
    """What happened to a device's requests that were not answered, since it was last
    reported (or, for `FairQueue.counts`, ever)."""

    over_rate: int = 0  # came without a token
    queue_full: int = 0  # pushed out by a newer one of the same device
    total_full: int = 0  # pushed out to keep the total bound
    stale: int = 0  # waited over max_wait: dropped unanswered
    refused: int = 0  # of over_rate, queue_full and total_full: answered "too many requests"

    def any(self) -> bool:
        return bool(self.over_rate or self.queue_full or self.total_full or self.stale)

    def add(self, other: Drops) -> None:
        self.over_rate += other.over_rate
        self.queue_full += other.queue_full
        self.total_full += other.total_full
        self.stale += other.stale
        self.refused += other.refused


@dataclass
class Counts(Drops):
    """Everything since the start: offered and answered too, and the most that ever
    waited, per device and in all (tests and the bench read these)."""

    offered: int = 0
    taken: int = 0  # handed to an answerer
    most_waiting: int = 0  # the high-water mark of all the queues together
    most_waiting_device: int = 0  # of any one device's queue


@dataclass
class Device(Generic[T]):
    bucket: Bucket
    refusals: Bucket
    waiting: deque[tuple[float, T]] = field(default_factory=deque)
    drops: Drops = field(default_factory=Drops)
    in_turn: bool = False  # in FairQueue._turns (kept there until its turn comes)


@dataclass(frozen=True)
class Report:
    """A device's drops over the last interval, for the log."""

    device: str
    drops: Drops


class FairQueue(Generic[T]):
    """Per-device bounded queues served round-robin, each behind a token bucket (see the
    module's docstring). `offer` returns the requests to answer "too many requests";
    `take` the next one to answer, or None."""

    def __init__(self, settings: RequestsSection) -> None:
        self.settings = settings
        self.counts = Counts()
        self._devices: dict[str, Device[T]] = {}
        # Devices in serving order, each at most once: every one with requests waiting,
        # and some whose last one was pushed out (take() passes over them).
        self._turns: deque[str] = deque()
        self._waiting = 0
        # Devices by how many they have waiting (1 … per_device), to find the longest
        # queue in at most per_device steps when the total bound is reached.
        self._by_length: list[dict[str, None]] = [{} for _ in range(settings.per_device + 1)]

    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def tracked(self) -> int:
        """Devices remembered (their buckets and drops)."""
        return len(self._devices)

    def waiting_for(self, key: str) -> int:
        device = self._devices.get(key)
        return len(device.waiting) if device else 0

    def offer(self, key: str, item: T, now: float) -> list[T]:
        """A request from device `key` arrived: queue it if the device has a token. The
        requests it displaced (or itself) that should get a "too many requests" answer
        are returned; the rest of what it displaced is dropped."""
        s = self.settings
        self.counts.offered += 1
        device = self._devices.get(key)
        if device is None:
            if len(self._devices) >= 4 * s.total:
                self._forget_idle(now, everyone=True)
            device = Device(Bucket(float(s.burst), now), Bucket(float(s.burst), now))
            self._devices[key] = device
        refuse: list[T] = []
        if not device.bucket.take(now, s.rate, s.burst):
            device.drops.over_rate += 1
            self.counts.over_rate += 1
            self._refuse(device, item, now, refuse)
            return refuse
        if len(device.waiting) >= s.per_device:
            _, old = self._pop_oldest(key, device)
            device.drops.queue_full += 1
            self.counts.queue_full += 1
            self._refuse(device, old, now, refuse)
        elif self._waiting >= s.total:
            longest = self._longest()
            victim = self._devices[longest]
            _, old = self._pop_oldest(longest, victim)
            victim.drops.total_full += 1
            self.counts.total_full += 1
            self._refuse(victim, old, now, refuse)
        self._push(key, device, now, item)
        return refuse

    def take(self, now: float) -> T | None:
        """The next request to answer: the oldest of the device whose turn it is. What
        waited over max_wait on the way is dropped unanswered."""
        while self._turns:
            key = self._turns.popleft()
            device = self._devices[key]
            device.in_turn = False
            while device.waiting:
                arrived, item = self._pop_oldest(key, device)
                if now - arrived > self.settings.max_wait:
                    device.drops.stale += 1
                    self.counts.stale += 1
                    continue
                if device.waiting:
                    self._turns.append(key)
                    device.in_turn = True
                self.counts.taken += 1
                return item
        return None

    def report(self, now: float) -> Iterator[Report]:
        """The devices that had drops since the last report (each then starts over), and
        the devices no longer worth remembering are forgotten. Called once per
        `log_interval`, so each device is logged at most once per interval."""
        for key, device in self._devices.items():
            if device.drops.any():
                yield Report(key, device.drops)
                device.drops = Drops()
        self._forget_idle(now)

    # -- inside ------------------------------------------------------------------------
    def _refuse(self, device: Device[T], item: T, now: float, refuse: list[T]) -> None:
        s = self.settings
        if device.refusals.take(now, s.rate, s.burst):
            device.drops.refused += 1
            self.counts.refused += 1
            refuse.append(item)

    def _push(self, key: str, device: Device[T], now: float, item: T) -> None:
        n = len(device.waiting)
        if not device.in_turn:
            self._turns.append(key)
            device.in_turn = True
        if n:
            del self._by_length[n][key]
        device.waiting.append((now, item))
        self._by_length[n + 1][key] = None
        self._waiting += 1
        c = self.counts
        c.most_waiting = max(c.most_waiting, self._waiting)
        c.most_waiting_device = max(c.most_waiting_device, n + 1)

    def _pop_oldest(self, key: str, device: Device[T]) -> tuple[float, T]:
        n = len(device.waiting)
        entry = device.waiting.popleft()
        del self._by_length[n][key]
        if n > 1:
            self._by_length[n - 1][key] = None
        self._waiting -= 1
        return entry

    def _longest(self) -> str:
        for n in range(self.settings.per_device, 0, -1):
            if self._by_length[n]:
                return next(iter(self._by_length[n]))
        raise AssertionError("the total bound is reached with nothing waiting")

    def _forget_idle(self, now: float, everyone: bool = False) -> None:
        """Forget the devices with nothing waiting and nothing to report whose buckets
        are full again (a fresh device is the same); `everyone`: forget every device
        with nothing waiting (a crowd of new ids: the memory bound comes first)."""
        s = self.settings
        idle = [
            key
            for key, d in self._devices.items()
            if not d.waiting
            and (
                everyone
                or (
                    not d.drops.any()
                    and d.bucket.full(now, s.rate, s.burst)
                    and d.refusals.full(now, s.rate, s.burst)
                )
            )
        ]
        for key in idle:
            del self._devices[key]
        if idle:
            self._turns = deque(key for key in self._turns if key in self._devices)
