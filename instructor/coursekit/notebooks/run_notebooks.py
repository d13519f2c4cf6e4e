"""`coursekit run-notebooks`: execute the reference notebooks headless and summarise them.

Each notebook runs in a fresh kernel whose cwd is the notebook's folder, with CS231N_DATASET defaulting to
fashion_mnist (offline) and MPLBACKEND=Agg. The executed copy and an HTML rendering are written under
--out (each atomically, also for a failed notebook, so its error can be read). Lines the notebooks print
as `RESULT <name>: <value>` are collected into the summary table. Exit status 1 if any notebook failed.
"""

import os
import re
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbconvert import HTMLExporter

from ..fsutil import atomic_write_text
from ..reference import Reference

ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
# `RESULT <name>: <value>`; a value may be several figures ("baseline 0.512, batchnorm 0.730").
RESULT_RE = re.compile(r"^RESULT ([^:\n]+):[ \t]*(.+?)[ \t]*$", re.MULTILINE)


def results_of(nb):
    """[(name, value)] of every RESULT line printed by the notebook's cells, in order."""
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                found += RESULT_RE.findall(output.get("text", ""))
    return found


def run_one(path, out_dir, timeout, env):
    nb = nbformat.read(str(path), as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.monotonic()
    error = ""
    try:
        client.execute(env=env)
    except CellTimeoutError as exc:
        error = f"cell timed out after {timeout} s: {str(exc).strip().splitlines()[0]}"
    except CellExecutionError as exc:
        lines = [line for line in ANSI_RE.sub("", str(exc)).strip().splitlines() if line.strip()]
        error = lines[-1] if lines else "a cell raised an error"
    except DeadKernelError as exc:
        error = f"the kernel died ({exc}); out of memory?"
    minutes = (time.monotonic() - start) / 60
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / path.name, nbformat.writes(nb) + "\n")
    html, _ = HTMLExporter().from_notebook_node(nb)
    atomic_write_text(out_dir / (path.stem + ".html"), html)
    return {"notebook": path.name, "ok": not error, "error": error, "minutes": minutes, "results": results_of(nb)}


def format_table(rows):
    header = ("notebook", "status", "minutes", "results")
    lines = []
    for row in rows:
        status = "ok" if row["ok"] else "FAILED"
        results = ", ".join(f"{name} {value}" for name, value in row["results"]) or "-"
        lines.append((row["notebook"], status, f"{row['minutes']:.1f}", results))
    widths = [max(len(str(x[i])) for x in [header, *lines]) for i in range(3)]
    out = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths)) + "  " + header[3]]
    for line in lines:
        out.append("  ".join(str(c).ljust(w) for c, w in zip(line, widths)) + "  " + line[3])
    for row in rows:
        if not row["ok"]:
            out.append(f"{row['notebook']}: {row['error']}")
    return "\n".join(out)


def main(*, root=None, config=None, out="build/notebooks", only=None, timeout=1800):
    ref = Reference(root, config)
    paths = [ref.root / rel for rel in ref.all_notebooks()]
    if only:
        wanted = {name if name.endswith(".ipynb") else name + ".ipynb" for name in only}
        unknown = wanted - {p.name for p in paths}
        if unknown:
            raise ValueError(f"no notebook named {sorted(unknown)}; known: {', '.join(p.name for p in paths)}")
        paths = [p for p in paths if p.name in wanted]
    env = dict(os.environ)
    env.setdefault("CS231N_DATASET", "fashion_mnist")
    env["MPLBACKEND"] = "Agg"
    # A reference cell that fails must fail the run, not only print its one-line ✗ (cs231n.checks).
    env["CS231N_STRICT_CHECKS"] = "1"
    out_dir = Path(out)
    rows = []
    for path in paths:
        row = run_one(path, out_dir / path.parent.name, timeout, env)
        print(f"{row['notebook']}: {'ok' if row['ok'] else 'FAILED'} in {row['minutes']:.1f} min", flush=True)
        rows.append(row)
    table = format_table(rows)
    atomic_write_text(out_dir / "summary.txt", table + "\n")
    print(table)
    return 0 if all(r["ok"] for r in rows) else 1
