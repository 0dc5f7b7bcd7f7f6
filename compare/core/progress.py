"""The shapes of progress callbacks, in one place: library code reports, the CLI draws (rich);
and StepClock, the CPU seconds of a long stage's steps, so a build's manifest says which step grows."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# (done, total) within one piece of work: texts embedded, batches finished, training steps.
StepProgress = Callable[[int, int], None]
# (label, done, total): a build stage or snapshot step; the CLI gives each label its own bar with an ETA.
StageProgress = Callable[[str, int, int], None]


@dataclass
class StepClock:
    """CPU seconds of this process (all its threads) spent in each named step, summed over repeats.

    A stage's total says that it grows faster than the corpus, not where: benchmarks/scale.py reads
    these from the build manifest to give each step its own exponent. Work an engine hands to other
    processes (Ray workers) is not counted, only the driver's."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.process_time()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.process_time() - started

    def rounded(self) -> dict[str, float]:
        return {name: round(value, 3) for name, value in self.seconds.items()}
