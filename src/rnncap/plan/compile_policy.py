"""Whether a training run torch.compiles its step: `search.compile` true | false | "auto".

Compiling costs seconds up front for every new shape of the step (a run pays it again for
a batch of another shape and after each halving rung) and pays back (eager - compiled) on
every step after. `auto`, the default, compiles a run only where that pays: MEASURED below
is the one table of the facts it reads, one row per (cell, device, width), as printed by
`python benchmarks/throughput.py --compile-gain` (raw logs in docs/benchmarks/): the
eager and the compiled training step (T = 20, batch 128 per member, E = 8, 1 thread) and
the compile overhead in a fresh inductor cache. Their break-even is the number of steps
one compiled graph must train for; `auto` compiles when the steps every graph of the run
serves (`steps_per_graph`) reach the break-even of the row nearest the run's width. A
(cell, device) without a row is never compiled by `auto`: so far cuda, whose committed
logs (docs/benchmarks/throughput-cuda-*.txt) hold no compile measurement.

A run's spec holds the resolved true/false (plan/jobs.py resolves it against the config's
device, so a config that leaves the default plans the same specs as before `auto`
existed wherever `auto` says false); the run logs the decision and why (train/run.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

SETTINGS = (True, False, "auto")


@dataclass(frozen=True)
class Measured:
    """One shape's training step, eager and compiled (ms), and its compile overhead (s)."""

    eager_ms: float
    compiled_ms: float
    compile_s: float

    @property
    def break_even_steps(self) -> float:
        """Steps after which compiling has paid for itself; inf where it does not speed the step up."""
        gain_s = (self.eager_ms - self.compiled_ms) / 1e3
        return self.compile_s / gain_s if gain_s > 0 else math.inf


# (cell, device, width) -> Measured: `benchmarks/throughput.py --compile-gain` prints these rows
# (docs/benchmarks/throughput-cpu-compile-2026-12-03.txt).
MEASURED: dict[tuple[str, str, int], Measured] = {
    ("rnn", "cpu", 16): Measured(3.53, 2.61, 48.0),
    ("rnn", "cpu", 64): Measured(28.23, 24.15, 89.0),
    ("irnn", "cpu", 16): Measured(3.08, 2.60, 46.5),
    ("irnn", "cpu", 64): Measured(14.47, 12.95, 27.5),
    ("ugrnn", "cpu", 16): Measured(18.92, 6.91, 83.1),
    ("ugrnn", "cpu", 64): Measured(43.35, 27.04, 71.4),
    ("gru", "cpu", 16): Measured(18.41, 8.35, 74.0),
    ("gru", "cpu", 64): Measured(115.96, 79.57, 79.1),
    ("lstm", "cpu", 16): Measured(12.61, 10.51, 58.2),
    ("lstm", "cpu", 64): Measured(74.28, 74.11, 33.4),
    ("plus", "cpu", 16): Measured(67.45, 31.41, 133.4),
    ("plus", "cpu", 64): Measured(294.35, 199.55, 128.8),
}


@dataclass(frozen=True)
class Decision:
    compile: bool
    reason: str


def check(value: Any, where: str = "search.compile") -> bool | str:
    """The setting itself; a one-line error naming `where` for anything but true, false, "auto"."""
    if not any(value is s or (isinstance(s, str) and value == s) for s in SETTINGS):
        raise ValueError(f'{where}: expected true, false or "auto", got {value!r}')
    return value


def steps_per_graph(search: Mapping[str, Any]) -> int:
    """The fewest training steps any compiled graph of a run serves: a batch trains at least
    search.steps[0] steps; with halving, members leave at rungs min_steps * eta**i, and the
    smaller ensemble is a new shape, compiled again (rungs are at least min_steps apart)."""
    low = int(search["steps"][0])
    halving = search.get("halving")
    return min(low, int(halving["min_steps"])) if halving else low


def _row(cell: str, device: str, width: int) -> tuple[int, Measured] | None:
    widths = [w for c, d, w in MEASURED if c == cell and d == device]
    if not widths:
        return None
    w = min(widths, key=lambda v: (abs(math.log(v / max(width, 1))), v))
    return w, MEASURED[cell, device, w]


def auto(cell: str, device: str, width: int, steps: int) -> Decision:
    """What `auto` decides for a run of `cell` on `device` whose graphs each train >= `steps` steps."""
    device = device.split(":")[0]
    found = _row(cell, device, width)
    if found is None:
        return Decision(False, f"no compile measurement for {cell} on {device} (rnncap.plan.compile_policy)")
    w, m = found
    at = f"{cell} on {device}, width {w}: {m.eager_ms:.1f} ms eager, {m.compiled_ms:.1f} ms compiled"
    if math.isinf(m.break_even_steps):
        return Decision(False, f"compiling does not speed the step up ({at})")
    be = m.break_even_steps
    why = (f"{m.compile_s:.0f} s to compile pays off after {be:.0f} steps per graph ({at}); "
           f"this run's graphs train >= {steps} steps")
    return Decision(steps >= be, why)


def decide(setting: Any, cell: str, device: str, width: int, steps: int) -> Decision:
    """The decision for a setting: true and false as given (with what `auto` would say), "auto" per the table."""
    setting = check(setting)
    a = auto(cell, device, width, steps)
    if setting == "auto":
        return Decision(a.compile, f"auto: {a.reason}")
    return Decision(bool(setting), f"search.compile is {str(setting).lower()} (auto would say "
                                   f"{'compile' if a.compile else 'eager'}: {a.reason})")


def resolve(search: Mapping[str, Any], cell: str, device: str, width: int) -> Decision:
    """The decision for a run from its search block (the schema fills `compile`; absent = auto)."""
    return decide(search.get("compile", "auto"), cell, device, width, steps_per_graph(search))
