"""`python -m coursekit.course.bench_grading`: how fast the grader is, per submission and for a batch.

Prints, for each assignment, the time to build the kit a grade starts from, the time of `coursekit grade` on
the reference submission building its own kit and starting from the prebuilt one (`--base`, as grade-batch
and the Gradescope autograder do), without and with notebook re-execution; then the wall time of
`coursekit grade-batch` on a generated cohort (default: 50 assignment2 submissions, 2 jobs), interrupted
after some are graded and resumed, with checks that the resumed run regraded none of the finished ones and
that every submission scored exactly its solved TODOs. Figures only: the machine may be shared, so the load
average is printed with them.

`make_batch` writes the cohort: submissions cut from the release with a varied share of the TODOs solved
(the first one fully solved, the second untouched), plus a file that is not a zip and one with a syntax
error, as zips named like collectSubmission.sh's. A solved notebook TODO comes with the model the reference
notebook saved, when the reference notebooks have been run (make notebooks); else it scores nothing.

Wall times on a shared machine move with its load, so each line names the load average it ran under. (CPU
seconds are not printed: the sandboxed workers' time is not reaped back to this process, so they would
understate the cost.)
"""

import argparse
import csv
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..authoring.release import short_name, write_solved
from ..fsutil import write_zip
from ..grading.grade import build_base
from ..grading.options import GradeOptions
from ..reference import Reference
from .gradescope import missing_models

TARGET_SECONDS = 60  # issue 13: assignment2 without notebooks, per submission, on 2 cores


def make_batch(ref, assignment, dest, count=50, seed=0, broken=True):
    """Write `count` submission zips into `dest`; return {zip name: set of solved TODO ids, or None if broken}."""
    if count < 2:
        raise ValueError(f"a batch needs at least 2 submissions (fully solved and untouched), not {count}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    todo_ids = [t.id for t in ref.config.todos_for(assignment)]
    rng = random.Random(seed)
    plan = {}
    for i in range(count):
        name = f"{short_name(assignment)}_student{i:03d}.zip"
        if broken and count >= 4 and i == count - 1:
            (dest / name).write_bytes(b"this is not a zip file\n")
            plan[name] = None
            continue
        share = 1.0 if i == 0 else 0.0 if i == 1 else rng.random()
        solved = {t for t in todo_ids if rng.random() < share}
        with tempfile.TemporaryDirectory(prefix="coursekit-batch-sub-") as tmp:
            folder = write_solved(ref, assignment, Path(tmp) / "sub", solved=solved)
            if broken and count >= 4 and i == count - 2:
                victim = sorted(folder.rglob("*.py"))[0]
                victim.write_text("def broken(:\n" + victim.read_text())
                solved = None
            write_zip(dest / name, folder)
        plan[name] = solved
    return plan


def _coursekit(argv):
    return [sys.executable, "-m", "coursekit", *argv]


def _load():
    return f"load {os.getloadavg()[0]:.1f}"


def time_kit(ref, assignment, work):
    """(kit folder, wall s) of building the kit a grade starts from (grade.build_base)."""
    kit = Path(work) / f"{assignment}-kit" / "kit"
    shutil.rmtree(kit.parent, ignore_errors=True)
    start = time.monotonic()
    build_base(ref, assignment, kit)
    return kit, time.monotonic() - start


def time_grade(ref, assignment, notebooks, work, repeat, base=None):
    """[wall s] of `coursekit grade` on the reference submission of `assignment`, and its score line.
    With `base` (a prebuilt kit, as grade-batch and the Gradescope autograder pass) no extension is built."""
    sub = Path(work) / f"{assignment}-reference"
    if not sub.is_dir():
        write_solved(ref, assignment, sub, models=ref.root / assignment)
    missing = missing_models(ref, assignment)
    times = []
    for _ in range(repeat):
        results = Path(work) / f"{assignment}-{notebooks}.json"
        start = time.monotonic()
        options = GradeOptions(submission=sub, results=results, assignment=assignment, root=ref.root,
                               notebooks=notebooks, base=base)
        proc = subprocess.run(_coursekit(options.argv()), capture_output=True, text=True)
        times.append(time.monotonic() - start)
        if proc.returncode != 0:
            raise RuntimeError(f"coursekit grade failed on the reference of {assignment}:\n{proc.stderr[-2000:]}")
    score = (proc.stdout.splitlines() or [""])[0].split(": ", 1)[-1].split(" -> ")[0]
    return times, score + (f" (no reference models: {', '.join(missing)})" if missing else "")


def _finished(out):
    return {p.name: p.stat().st_mtime_ns for p in Path(out).glob("*.json")}


def time_batch(ref, assignment, work, count, jobs, interrupt_after, seed):
    """Grade a generated batch, kill it after `interrupt_after` results, resume; return the figures."""
    subs = Path(work) / "submissions"
    out = Path(work) / "grades"
    start = time.monotonic()
    plan = make_batch(ref, assignment, subs, count=count, seed=seed)
    generated = time.monotonic() - start
    argv = _coursekit(["grade-batch", str(subs), "--out", str(out), "--root", str(ref.root), "--jobs", str(jobs),
                       "--assignment", assignment])
    start = time.monotonic()
    first = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while first.poll() is None and len(_finished(out)) < interrupt_after:
        time.sleep(0.2)
    if interrupt_after > 0:
        first.send_signal(signal.SIGKILL)
    first.wait()
    first_wall = time.monotonic() - start
    before = _finished(out)
    start = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    resume_wall = time.monotonic() - start
    after = _finished(out)
    regraded = [name for name, mtime in before.items() if after.get(name) != mtime]
    return {"generated": generated, "first": first_wall, "killed_after": len(before), "resume": resume_wall,
            "graded": len(after), "regraded": regraded, "out": out,
            "checked": sum(s is not None for s in plan.values()),
            "mismatches": check_scores(ref, assignment, plan, out / "scores.csv")}


def _column(todo, columns):
    """The scores.csv column of a TODO: its id, or the grader's friendly 'name (path)'."""
    for column in columns:
        if column == todo.id or (column.startswith(f"{todo.name} (") and todo.path in column):
            return column
    return None


def check_scores(ref, assignment, plan, scores_csv):
    """Submissions whose per-TODO scores differ from the plan (full points exactly where a TODO was solved;
    a notebook TODO counts as solved only with the reference model); 'not a zip' and 'syntax error' are
    not checked."""
    with open(scores_csv, newline="") as fh:
        rows = {r["submission"]: r for r in csv.DictReader(fh)}
    todos = ref.config.todos_for(assignment)
    missing = set(missing_models(ref, assignment))
    without_model = {t.id for t in todos if t.is_notebook and (Path(t.path).parent / t.model).as_posix() in missing}
    wrong = []
    for name, solved in plan.items():
        if solved is None:
            continue
        row = rows.get(name, {})
        for todo in todos:
            want = todo.points if todo.id in solved and todo.id not in without_model else 0.0
            column = _column(todo, row)
            if column is None or float(row[column] or 0) != want:
                wrong.append(f"{name}: {todo.id} scored {row.get(column, 'nothing')}, expected {want:g}")
    return wrong


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m coursekit.course.bench_grading", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", help="reference tree (default: found from the current folder)")
    parser.add_argument("--assignment", action="append", dest="assignments",
                        help="per-submission timing of this assignment (repeatable; default: all)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="grades per measurement without notebooks (default: 3; 0: only the batch)")
    parser.add_argument("--no-notebook-runs", action="store_true", help="skip the (slow) timing with notebooks")
    parser.add_argument("--batch-assignment", default="assignment2", help="assignment of the batch (default: assignment2)")
    parser.add_argument("--count", type=int, default=50, help="submissions in the batch (default: 50; 0: no batch)")
    parser.add_argument("--jobs", type=int, default=2, help="grade-batch --jobs (default: 2)")
    parser.add_argument("--interrupt-after", type=int, default=10,
                        help="kill the batch after this many results, then resume it (default: 10; 0: no interruption)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", help="keep the submissions and grades here (default: a temporary folder)")
    args = parser.parse_args(argv)
    ref = Reference(args.root)
    work = Path(args.work or tempfile.mkdtemp(prefix="coursekit-bench-grading-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; work folder {work}")
    print("per submission: `coursekit grade` of the reference; 'own kit' builds the release and its extension")
    print("first (as a single grade does), '--base' starts from a kit built once (as grade-batch and Gradescope do)")
    print(f"{'assignment':12} {'notebooks':9} {'kit':8} {'wall s':>7}  runs; machine load; reference score")
    for assignment in (args.assignments or list(ref.config.assignments)) if args.repeat > 0 else ():
        kit, wall = time_kit(ref, assignment, work)
        print(f"{assignment:12} {'':9} {'build':8} {wall:7.1f}  once per batch or Gradescope image; {_load()}")
        settings = [(False, None), (False, kit)] + ([] if args.no_notebook_runs else [(True, kit)])
        for notebooks, base in settings:
            repeat = 1 if notebooks or base is None else args.repeat
            times, score = time_grade(ref, assignment, notebooks, work, repeat, base=base)
            wall = statistics.median(times)
            shown = ", ".join(f"{t:.1f}" for t in times)
            label = "--base" if base else "own kit"
            print(f"{assignment:12} {'yes' if notebooks else 'no':9} {label:8} {wall:7.1f}  ({shown}); {_load()}; {score}",
                  flush=True)
            if assignment == "assignment2" and not notebooks:
                verdict = "met" if wall <= TARGET_SECONDS else "NOT met"
                print(f"  target: assignment2 without notebooks <= {TARGET_SECONDS} s per submission (wall): {verdict}")
    if args.count:
        fig = time_batch(ref, args.batch_assignment, work / "batch", args.count, args.jobs, args.interrupt_after,
                         args.seed)
        total = fig["first"] + fig["resume"]
        print(f"batch: {args.count} {args.batch_assignment} submissions (generated in {fig['generated']:.0f} s), "
              f"--jobs {args.jobs}, load average {os.getloadavg()[0]:.1f}")
        print(f"  killed after {fig['first']:.0f} s with {fig['killed_after']} graded; resumed in {fig['resume']:.0f} s; "
              f"wall time {total:.0f} s ({total / args.count:.1f} s per submission); {_load()}")
        print(f"  {fig['graded']} results, regraded after the restart: {len(fig['regraded'])} "
              f"{fig['regraded'] if fig['regraded'] else ''}".rstrip())
        verdict = f"all {fig['checked']} gradable submissions" if not fig["mismatches"] else "NO"
        print(f"  per-TODO scores as planned (full points exactly for the solved TODOs): {verdict}")
        for line in fig["mismatches"][:10]:
            print(f"    {line}")
        print(f"  scores: {fig['out'] / 'scores.csv'}; report: {fig['out'] / 'report/index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
