"""`coursekit grade --notebooks`: re-run the submitted notebooks with nbval in the sandbox.

Informational only: the outcome is a note in results.json and earns no points (notebook points come from the
models their graded cells saved: models.py). The run is time-capped and sees the datasets read-only.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path


def rerun_notebooks(run, sub_root, notebook_names, python, limits, reference_name):
    """nbval over the submitted notebooks in the sandbox; (result line, ok) — informational only."""
    names = [n for n in notebook_names if (sub_root / n).is_file()]
    if not names:
        return "no notebooks to re-run", False
    work = run.dir / "nb"
    shutil.copytree(run.dir / "sub", work, dirs_exist_ok=True)
    for name in names:
        shutil.copyfile(sub_root / name, work / name)
    if run.uid is not None:
        for path, dirs, files in os.walk(work):
            for name in [*dirs, *files]:
                os.chown(os.path.join(path, name), run.uid, run.uid, follow_symlinks=False)
        os.chown(work, run.uid, run.uid)
    argv = [python, "-I", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "nbval.plugin",
            "--nbval-lax", "--nbval-current-env", f"--nbval-cell-timeout={limits.notebook_cell_timeout}",
            "--rootdir", str(work), *names]
    env = run.env({"CS231N_DATASET": os.environ.get("CS231N_DATASET", "fashion_mnist"), "CS231N_STRICT_CHECKS": "1"})
    readable = [d for d in dataset_dirs(reference_name) if not str(d).startswith("/usr/")]
    if readable:
        env["CS231N_DATA_DIR"] = str(readable[0])
    proc = run.spawn(argv, cwd=str(work), env=env, ro_extra=readable, rw_extra=[work], stdout_to_stderr=True,
                     timeout_cpu=limits.notebook_timeout)
    try:
        proc.wait(timeout=limits.notebook_timeout)
    except subprocess.TimeoutExpired:
        run.stop(proc)
        return f"notebooks re-run: stopped after {limits.notebook_timeout} s", False
    tail = proc.stderr_tail.text()
    if proc.returncode == 71 and "coursekit.sandbox.jail:" in tail:
        return f"notebooks re-run: the sandbox could not start ({tail.strip().splitlines()[-1]})", False
    summary = re.findall(r"^=*\s*(\d+ (?:passed|failed).*?) in [\d.]+s", tail, flags=re.M)
    line = summary[-1] if summary else f"exit code {proc.returncode}"
    return f"notebooks re-run with nbval (no points): {line}", proc.returncode == 0


def dataset_dirs(reference_name):
    """The folders the reference's data_utils finds the datasets in (a notebook re-run must read them)."""
    data_utils = __import__(f"{reference_name}.data_utils", fromlist=["_"])
    dirs = []
    for dataset in ("fashion_mnist", "cifar10", "mnist"):
        try:
            found = data_utils._find_dir(dataset)
        except (FileNotFoundError, ValueError):
            continue
        if found and Path(found).is_dir():
            dirs.append(Path(found).resolve())
    return dirs
