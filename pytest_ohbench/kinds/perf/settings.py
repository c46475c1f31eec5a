"""suite.yaml's `perf:` section: how perf tasks are measured and judged (docs/perf.md)."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_ohbench.core.suite import SuiteConfig

SECTION = "perf"


@dataclasses.dataclass
class PerfSettings:
    """How perf tasks are measured and judged (see docs/perf.md)."""

    criterion: str = "gso"  # gso | swefficiency | sweperf
    target: float | None = None  # the criterion's bar (gso: fraction of the human's speed)
    repeats: int = 7  # timed rounds per state: the fewest the paired guard can find significant at alpha 0.01
    warmups: int = 1  # untimed rounds first
    extra_repeats: int = 5  # rounds added while the verdict is not settled (0: never) ...
    max_repeats: int = 20  # ... up to this many timed rounds
    alpha: float = 0.01  # the significance guard's level
    estimator: str = "min"  # min | median | mean | paired: how the repeats make one figure
    clock: str = "cpu"  # cpu (user + system seconds) | wall (elapsed; a script's `Execution time:` figure)
    python: str = "python3"  # the interpreter that runs the efficiency tests
    cpuset: str = "auto"  # CPUs the state containers share: auto (one per xdist worker), none, or e.g. "1"
    reveal_reference: bool = False  # name the human's commit in the prompt

    def __post_init__(self) -> None:
        criteria, estimators = ("gso", "swefficiency", "sweperf"), ("min", "median", "mean", "paired")
        if self.criterion not in criteria:
            raise ValueError(f"perf.criterion: must be one of {', '.join(criteria)}, got {self.criterion!r}")
        if self.estimator not in estimators:
            raise ValueError(f"perf.estimator: must be one of {', '.join(estimators)}, got {self.estimator!r}")
        if self.clock not in ("cpu", "wall"):
            raise ValueError(f"perf.clock: must be cpu or wall, got {self.clock!r}")
        if not isinstance(self.repeats, int) or self.repeats < 2:
            raise ValueError(f"perf.repeats: must be a whole number >= 2, got {self.repeats!r}")
        if not isinstance(self.extra_repeats, int) or self.extra_repeats < 0:
            raise ValueError(f"perf.extra_repeats: must be a whole number >= 0, got {self.extra_repeats!r}")
        if not isinstance(self.max_repeats, int) or self.max_repeats < self.repeats:
            raise ValueError(f"perf.max_repeats: must be a whole number >= repeats, got {self.max_repeats!r}")
        if not isinstance(self.warmups, int) or self.warmups < 0:
            raise ValueError(f"perf.warmups: must be a whole number >= 0, got {self.warmups!r}")
        if not isinstance(self.alpha, (int, float)) or not 0 < self.alpha < 1:
            raise ValueError(f"perf.alpha: must be between 0 and 1, got {self.alpha!r}")
        if self.target is not None and not isinstance(self.target, (int, float)):
            raise ValueError(f"perf.target: must be a number, got {self.target!r}")
        # The paired guard's smallest one-sided p of n rounds is 2**-n: fewer rounds than
        # this could never show any speedup to be significant.
        needed = math.ceil(math.log2(1 / self.alpha) + 1e-9)
        most = self.max_repeats if self.extra_repeats else self.repeats
        if most < needed:
            raise ValueError(
                f"perf: at most {most} rounds can never pass the significance guard at alpha {self.alpha:g} "
                f"(the smallest p of n paired rounds is 2^-n): need {needed} (repeats, or extra_repeats and max_repeats)"
            )
        self.cpuset = str(self.cpuset)

    def overridden(self, changes: dict[str, object]) -> "PerfSettings":
        """These settings with the command line's --ohbench-perf-* values; more rounds asked
        for than the cap raise the cap."""
        changes = dict(changes)
        if "repeats" in changes:
            changes["max_repeats"] = max(self.max_repeats, int(changes["repeats"]))  # type: ignore[call-overload]
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def perf_settings(suite: "SuiteConfig") -> PerfSettings:
    """The suite's `perf:` section (with --ohbench-perf-* applied by the plugin)."""
    settings: PerfSettings = suite.section(SECTION)
    return settings
