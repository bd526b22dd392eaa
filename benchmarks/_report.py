"""Shared helpers for benchmarks: a best-of timer and the one JSON line per figure."""

from __future__ import annotations

import json
import time
from collections.abc import Callable


def per_call_seconds(fn: Callable[[], object], calls: int = 2000, rounds: int = 5) -> float:
    """The fastest of several rounds, per call: the least disturbed by the rest of the machine."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def report(bench: str, value: float, unit: str, baseline: float, target: float) -> None:
    """Print one figure as a JSON line; `ratio` is value / baseline, `ok` is ratio <= target."""
    ratio = value / baseline
    line = {
        "bench": bench,
        "value": round(value, 9),
        "unit": unit,
        "baseline": round(baseline, 9),
        "ratio": round(ratio, 3),
        "target": target,
        "ok": ratio <= target,
    }
    print(json.dumps(line), flush=True)


def best_of_interleaved(
    baseline: Callable[[], float], value: Callable[[], float], rounds: int
) -> tuple[float, float]:
    """The best per-call time of each, alternating rounds so both see the same machine."""
    best_base = best_value = float("inf")
    for _ in range(rounds):
        best_base = min(best_base, baseline())
        best_value = min(best_value, value())
    return best_base, best_value
