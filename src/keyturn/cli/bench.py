"""`keyturn bench`: list the benchmarks in benchmarks/ or run one by name.

Each benchmark module has a `main()` that prints one JSON line per figure, with a ratio
against a raw primitive measured in the same run.
"""

from __future__ import annotations

import ast
import runpy
from pathlib import Path
from typing import Annotated

import typer

from keyturn.cli.context import console
from keyturn.errors import UserError


def benchmarks_dir() -> Path:
    """The repository's benchmarks/ folder (next to src/), else ./benchmarks."""
    beside_source = Path(__file__).resolve().parents[3] / "benchmarks"
    return beside_source if beside_source.is_dir() else Path.cwd() / "benchmarks"


def available() -> dict[str, str]:
    """Benchmark name → the first paragraph of its module docstring, on one line."""
    found: dict[str, str] = {}
    for path in sorted(benchmarks_dir().glob("*.py")):
        if path.name.startswith("_"):
            continue
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        found[path.stem] = " ".join(doc.split("\n\n")[0].split())
    return found


def bench(
    name: Annotated[str | None, typer.Argument(help="Benchmark to run; omit to list.")] = None,
) -> None:
    """List the benchmarks, or run one and print its JSON lines."""
    names = available()
    if name is None:
        if not names:
            raise UserError(f"no benchmarks found in {benchmarks_dir()}")
        for bench_name, summary in names.items():
            console.print(f"[bold]{bench_name}[/]  {summary}", highlight=False)
        return
    if name not in names:
        raise UserError(f"no benchmark named {name!r}; choose from: {', '.join(names) or 'none'}")
    module = runpy.run_path(str(benchmarks_dir() / f"{name}.py"), run_name="keyturn_bench")
    module["main"]()
