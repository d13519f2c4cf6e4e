"""The memory of the container the grader runs in, read from its cgroup (v2 or v1), and the check that it is
enough for the assignment (grading.toml [assignments.X] min_memory_mb, min_memory_mb_notebooks).

Rule: a container too small to grade an assignment is told before grading, with the memory to set, instead of
the kernel killing the grader halfway (Gradescope then shows "Killed" and no results). The limit is the
smallest `memory.max` (v2) or the `hierarchical_memory_limit` (v1) of the grader's cgroup and its parents:
the one the kernel enforces.
"""

import contextlib
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
UNLIMITED = 2**60  # v1 reports "no limit" as a page-rounded 2**63 - 1


def _own_paths(proc_cgroup):
    out = {}
    with contextlib.suppress(OSError), open(proc_cgroup) as fh:
        for line in fh:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                out[controller] = path
    return out


def _v2_limit(root, path):
    limits = []
    folder = root / path.lstrip("/")
    while True:
        with contextlib.suppress(OSError, ValueError):
            text = (folder / "memory.max").read_text().strip()
            if text != "max":
                limits.append(int(text))
        if folder == root or root not in folder.parents:
            break
        folder = folder.parent
    return min(limits) if limits else None


def _v1_limit(root, path):
    # Inside a container the cgroup path of /proc/self/cgroup may be the host's; the mount shows the own one.
    for folder in (root / "memory" / path.lstrip("/"), root / "memory"):
        with contextlib.suppress(OSError, ValueError):
            for line in (folder / "memory.stat").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "hierarchical_memory_limit":
                    return int(value) if int(value) < UNLIMITED else None
    return None


def memory_limit_mb(root=CGROUP_ROOT, proc_cgroup="/proc/self/cgroup"):
    """The memory limit of this process's cgroup in MB, or None when there is none (or none can be read)."""
    root = Path(root)
    own = _own_paths(proc_cgroup)
    limit = None
    if "" in own and (root / "cgroup.controllers").is_file():
        limit = _v2_limit(root, own[""])
    if limit is None and "memory" in own:
        limit = _v1_limit(root, own["memory"])
    return None if limit is None or limit >= UNLIMITED else limit // 2**20


def too_small(cfg, assignment, notebooks, limit_mb=None):
    """A message for the student and the instructor when the container's memory is below what `assignment`
    needs (with `notebooks`: re-executing them), else ''."""
    need = cfg.min_memory_mb.get(assignment, (0, 0))[1 if notebooks else 0]
    limit_mb = memory_limit_mb() if limit_mb is None else limit_mb
    if not need or limit_mb is None or limit_mb >= need:
        return ""
    what = f"{assignment} with --notebooks" if notebooks else assignment
    return (f"not graded: the autograder's container has {limit_mb} MB of memory and grading {what} needs "
            f"{need} MB. Nothing is wrong with this submission. Instructor: set the memory to {need} MB or more "
            "(Gradescope: Autograder Settings), then Regrade All Submissions.")

