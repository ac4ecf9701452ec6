"""How many wrong PINs a till takes: counted per staff id and per till, a growing wait,
then a lock on the id that only a supervisor clears. Pure: the caller passes `now`.

A 4-digit PIN has 10,000 values and scrypt makes each guess cost tens of ms, not
minutes: without a limit 821 guesses took 37 s at the till. So:

- Each id counts its wrong PINs. After `tries` of them every further try waits, 1 s,
  then 2, 4, 8 … (at most `wait_max`), and after `lockout` the id is locked until a
  supervisor unlocks it. Its right PIN starts its count over.
- The till counts every wrong PIN typed at it, for any id (an id not on the roster
  too), so going through the roster's ids gains nothing: after `till_tries` every try
  at this till, for any id, waits in the same way. That is a wait, never a lock, so a
  supervisor still gets in once it has passed; a supervisor's right PIN starts the
  till's count over, and so do 15 quiet minutes after the wait.
- A try refused for a wait or a lock is refused before the PIN is looked at: no
  scrypt runs, and it does not count (a second touch of "Log in" costs nothing).

`now` is monotonic seconds (the controller's `time.monotonic()`), which start again
at boot; what survives a restart (`to_doc`, `restore`) is the counts and the locks,
and every wait starts again from the restart, so a power cycle shortens nothing.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from appliance.sales.staff import Rejected

# The till's count is forgotten this long after its last wait has passed with no new
# wrong PIN: the odd slip of a morning's logins should not add up into waits.
TILL_QUIET = 900.0


@dataclass(frozen=True)
class PinPolicy:
    """The limits (appliance.config's `[till]` section gives them)."""

    tries: int = 3  # wrong PINs for one id before each further try waits
    lockout: int = 10  # wrong PINs for one id that lock it until a supervisor unlocks it
    till_tries: int = 10  # wrong PINs at this till, any ids, before each further try waits
    wait_max: float = 300.0  # the longest wait, seconds (the wait doubles from 1 s)

    def wait(self, failures: int, free: int) -> float:
        """Seconds the next try waits after `failures` wrong PINs, `free` of them free."""
        if failures < free:
            return 0.0
        return min(2.0 ** min(failures - free, 30), self.wait_max)


class PinRefused(Rejected):
    """A PIN try refused: a wrong PIN that was counted, or a try refused unchecked while
    a wait or a lock holds. `staff` is the id when it is on the roster."""

    def __init__(
        self,
        op: str,
        reason: str,
        *,
        staff: str | None,
        counted: bool,
        locked: bool = False,
        failures: int = 0,
        till_failures: int = 0,
        retry_in: float | None = None,
    ) -> None:
        super().__init__(op, reason)
        self.staff = staff
        self.counted = counted  # a wrong PIN (or an unknown id) that was counted now
        self.locked = locked  # the id is locked (now, or was already)
        self.failures = failures  # the id's wrong PINs so far
        self.till_failures = till_failures  # the till's wrong PINs so far
        self.retry_in = retry_in  # seconds until the next try is looked at; None: no wait

    def said_at(self, clock: str) -> str:
        """The reason with the time the wait ends on the shop's clock (`10:42:13`)."""
        if self.retry_in is None:
            return self.reason
        wait = f"try again in {duration(self.retry_in)}"
        return self.reason.replace(wait, f"{wait} (at {clock})", 1)


def duration(seconds: float) -> str:
    """`8 s`, `2 min 5 s`: a wait as the till says it (rounded up to the second)."""
    s = max(1, math.ceil(seconds))
    if s < 60:
        return f"{s} s"
    return f"{s // 60} min {s % 60} s" if s % 60 else f"{s // 60} min"


@dataclass
class _Count:
    failures: int = 0
    last: float = 0.0  # when the last one was counted (monotonic seconds)
    locked: bool = False


class PinGuard:
    """The wrong-PIN counts of one till and what they allow now."""

    def __init__(self, policy: PinPolicy | None = None) -> None:
        self.policy = policy or PinPolicy()
        self._staff: dict[str, _Count] = {}  # only ids on the roster: bounded by it
        self._till = _Count()

    # -- what a try may do ------------------------------------------------------------------
    def _till_count(self, now: float) -> _Count:
        till, p = self._till, self.policy
        if till.failures and now >= till.last + p.wait(till.failures, p.till_tries) + TILL_QUIET:
            self._till = till = _Count()
        return till

    def _waits(self, staff: str | None, now: float) -> tuple[float, float]:
        """What is left of the id's wait and of the till's."""
        p = self.policy
        count = self._staff.get(staff) if staff is not None else None
        own = 0.0 if count is None else count.last + p.wait(count.failures, p.tries) - now
        till = self._till_count(now)
        at_till = till.last + p.wait(till.failures, p.till_tries) - now if till.failures else 0.0
        return max(own, 0.0), max(at_till, 0.0)

    def check(self, op: str, staff: str | None, now: float) -> None:
        """Raise `PinRefused` when a try for `staff` (None: an id not on the roster) may
        not be looked at now: the id is locked, or its wait or the till's is running."""
        count = self._staff.get(staff) if staff is not None else None
        if count is not None and count.locked:
            raise PinRefused(
                op,
                f"{staff} is locked after {count.failures} wrong PINs; a supervisor must unlock it",
                staff=staff,
                counted=False,
                locked=True,
                failures=count.failures,
                till_failures=self._till.failures,
            )
        own, at_till = self._waits(staff, now)
        if own <= 0 and at_till <= 0:
            return
        where = f"for {staff}" if own >= at_till else "at this till"
        wait = max(own, at_till)
        raise PinRefused(
            op,
            f"too many wrong PINs {where}; try again in {duration(wait)}",
            staff=staff,
            counted=False,
            failures=0 if count is None else count.failures,
            till_failures=self._till.failures,
            retry_in=wait,
        )

    def failed(self, op: str, staff: str | None, now: float, why: str) -> PinRefused:
        """Count a wrong PIN for `staff` (None: an id not on the roster) at this till;
        the refusal to raise, `why` followed by what the count means now."""
        p = self.policy
        till = self._till_count(now)
        till.failures, till.last = till.failures + 1, now
        count = None
        if staff is not None:
            count = self._staff.setdefault(staff, _Count())
            count.failures, count.last = count.failures + 1, now
        if count is not None and count.failures >= p.lockout:
            count.locked = True
            return PinRefused(
                op,
                f"{why}: {staff} is now locked after {count.failures} wrong PINs; "
                "a supervisor must unlock it",
                staff=staff,
                counted=True,
                locked=True,
                failures=count.failures,
                till_failures=till.failures,
            )
        own, at_till = self._waits(staff, now)
        wait = max(own, at_till)
        then = f"try again in {duration(wait)}" if wait > 0 else "try again"
        left = "" if count is None else f" ({p.lockout - count.failures} more lock {staff})"
        return PinRefused(
            op,
            f"{why}; {then}{left}",
            staff=staff,
            counted=True,
            failures=0 if count is None else count.failures,
            till_failures=till.failures,
            retry_in=wait or None,
        )

    def succeeded(self, staff: str, supervisor: bool) -> None:
        """`staff` typed their right PIN: their count starts over (and a supervisor's
        starts the till's over too)."""
        self._staff.pop(staff, None)
        if supervisor:
            self._till = _Count()

    def unlock(self, staff: str) -> bool:
        """A supervisor clears `staff`'s count and lock; False when there was none."""
        return self._staff.pop(staff, None) is not None

    def failures(self, staff: str) -> int:
        count = self._staff.get(staff)
        return 0 if count is None else count.failures

    def locked(self) -> frozenset[str]:
        """The ids locked until a supervisor unlocks them."""
        return frozenset(s for s, c in self._staff.items() if c.locked)

    # -- across a restart ----------------------------------------------------------------------
    def to_doc(self) -> dict[str, Any]:
        """The counts and locks (not the times: monotonic seconds mean nothing after a boot)."""
        return {
            "staff": {
                s: {"failures": c.failures, "locked": c.locked}
                for s, c in sorted(self._staff.items())
            },
            "till": self._till.failures,
        }

    def restore(self, doc: Mapping[str, Any], known: Collection[str], now: float) -> list[str]:
        """Take the counts and locks of `to_doc` back, for the ids in `known` (the roster);
        every wait starts again at `now`. Returns what was left out, and why."""
        skipped: list[str] = []
        staff = doc.get("staff", {})
        for sid, entry in staff.items() if isinstance(staff, dict) else ():
            failures = entry.get("failures") if isinstance(entry, dict) else None
            if sid not in known:
                skipped.append(f"{str(sid)[:40]!r} is not on the roster")
            elif isinstance(failures, int) and not isinstance(failures, bool) and failures > 0:
                self._staff[sid] = _Count(failures, now, entry.get("locked") is True)
            else:
                skipped.append(f"{sid}: failures {str(failures)[:20]!r} is not a count")
        till = doc.get("till", 0)
        if isinstance(till, int) and not isinstance(till, bool) and till > 0:
            self._till = _Count(till, now)
        return skipped
