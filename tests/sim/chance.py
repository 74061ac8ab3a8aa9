"""Random faults for the simulators' storms (issue 13), shared by both simulators.

A fault rule with "probability": p fires on that share of the requests it matches; one with
"burst": {"every": s, "for": t} fires only during the first t seconds of every s-second
period, counted from when the faults were set (429 bursts of a rate limiter). Both may be
combined. The draws come from one generator per simulator, seeded with the fault_seed knob,
so a storm can be replayed (request order between threads aside). Standard library only.
"""

import random
import threading
import time


def is_chance(spec):
    """A rule that fires by chance or by the clock rather than in list order."""
    return "probability" in spec or "burst" in spec


def check(spec):
    """Raises ValueError when the rule's probability or burst is malformed."""
    p = spec.get("probability")
    if p is not None and (isinstance(p, bool) or not isinstance(p, (int, float))
                          or not 0 <= p <= 1):
        raise ValueError("fault probability must be a number from 0 to 1")
    burst = spec.get("burst")
    if burst is not None:
        if not isinstance(burst, dict) or set(burst) != {"every", "for"}:
            raise ValueError('fault burst must be {"every": seconds, "for": seconds}')
        every, length = burst["every"], burst["for"]
        for value in (every, length):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError("fault burst seconds must be numbers >= 0")
        if every <= 0 or length > every:
            raise ValueError("fault burst needs every > 0 and for <= every")


class Chance:
    """The seeded generator and the burst clock of one simulator."""

    def __init__(self, seed=None):
        self.lock = threading.Lock()
        self.restart(seed)

    def restart(self, seed=None):
        """A new storm: the generator is seeded again and burst periods start now."""
        with self.lock:
            self.rng = random.Random(seed)
            self.epoch = time.monotonic()

    def fires(self, spec):
        """Whether a chance rule hits this request (one draw per matching request)."""
        burst = spec.get("burst")
        if burst and (time.monotonic() - self.epoch) % burst["every"] >= burst["for"]:
            return False
        p = spec.get("probability")
        if p is None:
            return True
        with self.lock:
            return self.rng.random() < p
