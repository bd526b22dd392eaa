"""`keyturn simulate`: a whole building in simulated time, checked against the oracle.

It prints a summary (JSON with --json) and exits non-zero when the locks and the oracle
disagree, a lock that had synced past a resident's move-out still let them in, or an event is
neither in the cloud nor inside a recorded log gap.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from keyturn.cli.context import console, err_console
from keyturn.errors import UserError
from keyturn.sim.run import SimConfig, simulate


def _scratch_root() -> str | None:
    """Locks fsync every entry; a memory-backed folder keeps a long run quick where one exists."""
    shm = Path("/dev/shm")  # noqa: S108 - only a parent for mkdtemp, which is private
    return str(shm) if shm.is_dir() else None


def simulate_command(
    doors: Annotated[int, typer.Option(min=4, max=500, help="Doors, 3 of them shared.")] = 10,
    residents: Annotated[int, typer.Option(min=1, max=5000, help="Residents.")] = 40,
    days: Annotated[int, typer.Option(min=1, max=365, help="Simulated days.")] = 3,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed repeats a run.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    keep: Annotated[
        Path | None, typer.Option(help="Keep the cloud database and locks in this new folder.")
    ] = None,
) -> None:
    """Simulate a building and compare every lock decision with the reference oracle."""
    config = SimConfig(doors=doors, residents=residents, days=days, seed=seed)
    started = time.monotonic()
    if keep is not None:
        if keep.exists() and any(keep.iterdir()):
            raise UserError(f"--keep: {keep} is not empty")
        keep.mkdir(parents=True, exist_ok=True)
        summary = _run(config, keep, as_json)
    else:
        with tempfile.TemporaryDirectory(prefix="keyturn-sim-", dir=_scratch_root()) as scratch:
            summary = _run(config, Path(scratch), as_json)
    summary["seconds"] = round(time.monotonic() - started, 1)
    if as_json:
        print(json.dumps(summary))
    else:
        _print(summary)
    if (
        summary["oracle_disagreements"]
        or summary["granted_after_move_out_sync"]
        or summary["unaccounted_events"]
    ):
        raise typer.Exit(1)


def _run(config: SimConfig, workdir: Path, quiet: bool) -> dict[str, Any]:
    if quiet or not err_console.is_terminal:
        return simulate(config, workdir)
    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} actions"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("simulate", total=None)
        return simulate(
            config, workdir, lambda done, total: bar.update(task, completed=done, total=total)
        )


def _print(summary: dict[str, Any]) -> None:
    table = Table(title="Keyturn simulation", show_header=False)
    for key, value in summary.items():
        if key == "disagreement_examples":
            continue
        table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
    console.print(table)
    for example in summary["disagreement_examples"]:
        console.print(f"[red]disagreement[/] {example}")
