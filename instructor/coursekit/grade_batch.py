"""`coursekit grade-batch FOLDER`: grade every submission in a folder, in parallel, into one CSV of scores.

Each submission is graded by its own `coursekit grade` process (sharing one prebuilt base kit per
assignment), so a submission that breaks its grader cannot take the batch down; its row says so.
"""

import csv
import io
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .fsutil import atomic_write_text
from .grade import build_base, detect_assignment
from .reference import Reference


def _grade_one(submission, assignment, base, results, common, notebooks):
    argv = [sys.executable, "-m", "coursekit", "grade", str(submission), "--results", str(results),
            "--assignment", assignment, "--base", str(base)]
    argv += [arg for key in ("root", "config") if common[key] for arg in (f"--{key}", str(common[key]))]
    if notebooks:
        argv.append("--notebooks")
    proc = subprocess.run(argv, capture_output=True, text=True)
    try:
        return json.loads(Path(results).read_text(encoding="utf-8")), ""
    except (OSError, ValueError):
        return None, f"grader exit {proc.returncode}: {proc.stderr.strip()[-300:]}"


def main(*, folder, out="build/grades", csv_path=None, jobs=2, assignment=None, notebooks=True, root=None, config=None):
    ref = Reference(root, config)
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"submissions folder {folder} does not exist")
    submissions = sorted(p for p in folder.iterdir() if p.suffix == ".zip" or p.is_dir())
    if not submissions:
        raise FileNotFoundError(f"no submission (.zip or folder) in {folder}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    common = {"root": ref.root, "config": config}
    assignments = {}
    for sub in submissions:
        try:
            assignments[sub] = assignment or detect_assignment(ref.config, sub)
        except ValueError as exc:
            assignments[sub] = None
            print(f"{sub.name}: {exc}", file=sys.stderr)
    rows = []
    with tempfile.TemporaryDirectory(prefix="coursekit-batch-") as tmp:
        bases = {}
        for name in sorted({a for a in assignments.values() if a}):
            bases[name] = Path(tmp) / name / "kit"
            build_base(ref, name, bases[name])
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {
                sub: pool.submit(_grade_one, sub, assignments[sub], bases[assignments[sub]], out / f"{sub.stem}.json",
                                 common, notebooks)
                for sub in submissions
                if assignments[sub]
            }
            todo_ids = [t.id for t in ref.config.todos]
            for sub in submissions:
                row = {"submission": sub.name, "assignment": assignments[sub] or "", "score": 0, "max_score": 0, "error": ""}
                if sub not in futures:
                    row["error"] = "unknown assignment"
                else:
                    results, error = futures[sub].result()
                    row["error"] = error
                    if results:
                        row["score"] = results["score"]
                        row["max_score"] = sum(t["max_score"] for t in results["tests"])
                        row.update({t["name"]: t["score"] for t in results["tests"]})
                rows.append(row)
    fields = ["submission", "assignment", "score", "max_score", "error"] + [t for t in todo_ids if any(t in r for r in rows)]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, restval="")
    writer.writeheader()
    writer.writerows(rows)
    target = Path(csv_path) if csv_path else out / "scores.csv"
    atomic_write_text(target, buf.getvalue())
    for row in rows:
        print(f"{row['submission']}: {row['score']:g} / {row['max_score']:g} {row['error']}")
    print(f"scores -> {target}")
    return 0
