"""The shapes of progress callbacks, in one place: library code reports, the CLI draws (rich)."""

from __future__ import annotations

from collections.abc import Callable

# (done, total) within one piece of work: texts embedded, batches finished, training steps.
StepProgress = Callable[[int, int], None]
# (label, done, total): a build stage or snapshot step; the CLI gives each label its own bar with an ETA.
StageProgress = Callable[[str, int, int], None]
