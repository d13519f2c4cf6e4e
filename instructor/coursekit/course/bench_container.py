"""Time and peak memory of grading each assignment's reference submission in a container-sized cgroup
(Gradescope's default: 768 MB, 0.5 CPU), with and without --notebooks. Run as root where cgroups are
writable (v1 memory and cpu hierarchies, or v2):

    python -m coursekit.course.bench_container [--memory-mb 768] [--cpus 0.5] [--assignment A]... [--notebooks no|yes|both]

Prints one Markdown row per run: seconds, peak memory (the cgroup's, so every worker and reference process
the grade starts counts; it includes page cache, which the kernel reclaims at the limit, so a peak equal to
the limit is not a failure), the peak of the processes' own memory (anonymous memory, sampled every 0.2 s),
whether the kernel killed anything for memory, and the score. The reference
submission holds the models the reference notebooks saved (ASSIGNMENT/*.npz of the tree). The kit each grade
starts from is built beforehand, outside the cgroup, as Gradescope's setup.sh does. The grade runs in
the strongest isolation this machine has (namespaces here; Gradescope's is uid). A benchmark: it asserts
nothing, and its figures depend on the machine's load.
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..authoring.release import write_solved
from ..grading.grade import build_base
from ..grading.options import GradeOptions
from ..grading.results import Results
from ..reference import Reference
from ..sandbox import cgroups

ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


class Box:
    """A memory and CPU cgroup (v2, or the v1 memory and cpu hierarchies) that a child joins at exec."""

    def __init__(self, memory_mb, cpus):
        name = f"coursekit-bench-{os.getpid()}-{time.monotonic_ns()}"
        limit = memory_mb * 2**20
        quota = int(cpus * PERIOD_US)
        if (ROOT / "cgroup.controllers").is_file():
            self.dirs = [ROOT / name]
            self.dirs[0].mkdir()
            (self.dirs[0] / "memory.max").write_text(str(limit))
            with contextlib.suppress(OSError):
                (self.dirs[0] / "memory.swap.max").write_text("0")
            (self.dirs[0] / "cpu.max").write_text(f"{quota} {PERIOD_US}")
            self.v2 = True
            return
        self.v2 = False
        self.dirs = [ROOT / "memory" / name, ROOT / "cpu" / name]
        for folder in self.dirs:
            folder.mkdir()
        (self.dirs[0] / "memory.limit_in_bytes").write_text(str(limit))
        (self.dirs[1] / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (self.dirs[1] / "cpu.cfs_quota_us").write_text(str(quota))

    def join(self):
        for folder in self.dirs:
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def peak_mb(self):
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        try:
            return int((self.dirs[0] / name).read_text()) / 2**20
        except (OSError, ValueError):
            return float("nan")

    def anon_mb(self):
        """The processes' own memory now (v1 total_rss, v2 anon): what cannot be reclaimed but by a kill."""
        key = "anon" if self.v2 else "total_rss"
        try:
            for line in (self.dirs[0] / "memory.stat").read_text().splitlines():
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value) / 2**20
        except (OSError, ValueError):
            pass
        return 0.0

    def oom_kills(self):
        """OOM kills in the box and the cgroups the grade makes inside it (v2's memory.events counts them; v1
        counts each in the child cgroup that held the victim, and the grader removes those when it ends: sample
        while it runs)."""
        if self.v2:
            files = [self.dirs[0] / "memory.events"]
        else:
            files = [self.dirs[0] / "memory.oom_control", *self.dirs[0].glob("*/memory.oom_control")]
        kills = 0
        for path in files:
            with contextlib.suppress(OSError, ValueError):
                for line in path.read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        kills += int(value)
        return kills

    def remove(self):
        cgroups.remove_dirs(self.dirs, tries=100, pause=0.1)


def measure(ref, assignment, notebooks, memory_mb, cpus, workdir):
    """{seconds, peak_mb, oom_kills, exit, score, max} of one grade of the reference submission in a Box."""
    sub, base = Path(workdir) / f"{assignment}-submission", Path(workdir) / f"{assignment}-base" / "kit"
    if not sub.exists():
        write_solved(ref, assignment, sub, models=ref.root / assignment)
        build_base(ref, assignment, base)
    results = Path(workdir) / f"{assignment}-{int(notebooks)}.json"
    options = GradeOptions(submission=sub, results=results, root=ref.root, assignment=assignment, base=base,
                           notebooks=notebooks)
    argv = [sys.executable, "-m", "coursekit", *options.argv()]
    box = Box(memory_mb, cpus)
    try:
        start = time.monotonic()
        with (Path(workdir) / "stderr.txt").open("w+") as log:
            proc = subprocess.Popen(argv, preexec_fn=box.join, stdout=subprocess.DEVNULL, stderr=log, text=True)
            anon, kills = 0.0, 0
            while proc.poll() is None:
                anon, kills = max(anon, box.anon_mb()), max(kills, box.oom_kills())
                time.sleep(0.2)
            log.seek(0)
            stderr = log.read()
        seconds = time.monotonic() - start
        peak, kills = box.peak_mb(), max(kills, box.oom_kills())
    finally:
        box.remove()
    try:
        graded = Results.from_gradescope(json.loads(results.read_text()))
        score, top = graded.score, graded.max_score
        lines = graded.output.splitlines()
        note = next((line for line in lines if line.startswith("notebooks re-run")), lines[0])
    except (OSError, ValueError, KeyError):
        score, top, note = 0.0, 0.0, stderr.strip().splitlines()[-1:] or ["no results.json"]
    return {"seconds": seconds, "peak_mb": peak, "anon_mb": anon, "oom_kills": kills, "exit": proc.returncode, "score": score,
            "max": top, "note": note if isinstance(note, str) else note[0]}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m coursekit.course.bench_container", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", help="reference tree (default: found from the current folder)")
    parser.add_argument("--assignment", action="append", help="only this assignment (repeatable; default: all)")
    parser.add_argument("--memory-mb", type=int, default=768, help="the container's memory (default: 768)")
    parser.add_argument("--cpus", type=float, default=0.5, help="the container's CPUs (default: 0.5)")
    parser.add_argument("--notebooks", choices=["no", "yes", "both"], default="both",
                        help="grade without --notebooks, with it, or both (default: both)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("run as root: the benchmark makes cgroups")
    ref = Reference(args.root)
    settings = {"no": [False], "yes": [True], "both": [False, True]}[args.notebooks]
    print(f"| assignment | --notebooks | seconds | peak MB | peak own MB | OOM kills | exit | score | "
          f"({args.memory_mb} MB, {args.cpus:g} CPU)\n| --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)
    with tempfile.TemporaryDirectory(prefix="coursekit-bench-container-") as tmp:
        for notebooks in settings:
            for assignment in args.assignment or list(ref.config.assignments):
                m = measure(ref, assignment, notebooks, args.memory_mb, args.cpus, tmp)
                print(f"| {assignment} | {'yes' if notebooks else 'no'} | {m['seconds']:.0f} | {m['peak_mb']:.0f} | "
                      f"{m['anon_mb']:.0f} | {m['oom_kills']} | {m['exit']} | {m['score']:g}/{m['max']:g} | {m['note']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
