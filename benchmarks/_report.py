"""Shared helpers for benchmarks: a best-of timer and the one JSON line per figure."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

K = TypeVar("K")


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


def best_of_each(timers: Mapping[K, Callable[[], float]], rounds: int) -> dict[K, float]:
    """The best time of each timer, taking turns every round so all see the same machine."""
    best = dict.fromkeys(timers, float("inf"))
    for _ in range(rounds):
        for name, timer in timers.items():
            best[name] = min(best[name], timer())
    return best


def best_of_interleaved(
    baseline: Callable[[], float], value: Callable[[], float], rounds: int
) -> tuple[float, float]:
    """The best per-call time of each, alternating rounds so both see the same machine."""
    best = best_of_each({"baseline": baseline, "value": value}, rounds)
    return best["baseline"], best["value"]
