"""Regrading after a change mid-term: what each TODO's grade depends on, what changed since a results.json was
written, and the diff of scores per student.

Rule: a grade is redone for exactly the TODOs whose *fingerprint* changed, and no other. A TODO's fingerprint
names everything its score depends on that the instructor can change:

- `points` (grading.toml): a change rescores the recorded checks, nothing runs again;
- `checks`: the source of the hidden checks of that TODO, with the module-level code of their files and the
  shared helper files (`_*.py`): a helper change regrades every TODO whose checks sit beside it. A check whose
  TODO is not a string literal counts as shared code of its file;
- `reference`: the reference's source of the TODO's function or method (what the checks compare with);
- `threshold` (notebook TODOs): min_accuracy, split and model file.

The fingerprint is recorded with each TODO's result (results.py); grade-batch compares it with the current
one. Fingerprints are read from the sources with `ast`, never by importing them. A TODO regraded alone is
checked with the recorded pass or fail of the others (code_checks.CodeChecks.check), as in a full grade.

Not in a fingerprint: the reference of *other* TODOs that this TODO's reference calls (the reference answers
those calls while it is checked), the given files and the grader itself. After such a change, regrade whole
(`grade-batch --only NAME`, or a fresh --out folder).
"""

import ast
import csv
import hashlib
import io
import json
from pathlib import Path

from ..fsutil import atomic_write_text
from .results import Results

PARTS = {"checks": "its hidden checks changed", "reference": "its reference code changed",
         "threshold": "its accuracy threshold changed"}


def _sha(text):
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _check_todo(node):
    """The TODO id of a function decorated with @check("id", ...) (or hidden.check), else None."""
    for dec in getattr(node, "decorator_list", []):
        if isinstance(dec, ast.Call) and getattr(dec.func, "id", getattr(dec.func, "attr", "")) == "check":
            first = dec.args[0] if dec.args else None
            return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
    return None


def check_sources(folder):
    """{TODO id: the text its checks depend on} for the hidden-check folder `folder`."""
    folder = Path(folder)
    helpers = "".join(f"# {p.name}\n{p.read_text(encoding='utf-8')}" for p in sorted(folder.glob("_*.py")))
    by_todo = {}
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines(keepends=True)
        shared = list(lines)
        mine = {}
        for node in ast.parse(text, str(path)).body:
            todo = _check_todo(node)
            if todo is None:
                continue
            start = min([d.lineno for d in node.decorator_list] + [node.lineno]) - 1
            mine.setdefault(todo, []).append("".join(lines[start : node.end_lineno]))
            shared[start : node.end_lineno] = [""] * (node.end_lineno - start)
        for todo, sources in mine.items():
            by_todo.setdefault(todo, []).append(f"# {path.name}\n{''.join(shared)}\n{''.join(sources)}")
    return {todo: helpers + "".join(parts) for todo, parts in by_todo.items()}


def reference_source(root, todo):
    """The reference's source of the code TODO `todo` (its whole file when the definition is not found)."""
    path = Path(root) / todo.path
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    scope = ast.parse(text) if text else None
    for part in todo.name.split("."):
        found = [n for n in getattr(scope, "body", []) if isinstance(n, ast.FunctionDef | ast.ClassDef) and n.name == part]
        if not found:
            return text
        scope = found[0]
    return ast.get_source_segment(text, scope) or text


def fingerprints(ref, assignment):
    """{TODO id: {part: value}} of `assignment`'s TODOs as the reference tree now stands."""
    cfg = ref.config
    checks = check_sources(ref.root / cfg.hidden_tests)
    out = {}
    for todo in cfg.todos_for(assignment):
        if todo.is_notebook:
            parts = {"threshold": _sha(json.dumps([todo.min_accuracy, todo.split, todo.model], sort_keys=True))}
        else:
            parts = {"checks": _sha(checks.get(todo.id, "")), "reference": _sha(reference_source(ref.root, todo))}
        out[todo.id] = {"points": todo.points, **parts}
    return out


def changes(previous, current):
    """{TODO id: reason} of the TODOs whose recorded fingerprint differs from `current` ({id: fingerprint})."""
    recorded = {t.id: t for t in previous.todos}
    out = {}
    for todo_id, now in current.items():
        old = recorded.get(todo_id)
        if old is None or not old.fingerprint:
            out[todo_id] = "not graded before" if old is None else "graded before fingerprints were recorded"
            continue
        reasons = [PARTS[k] for k in PARTS if old.fingerprint.get(k) != now.get(k) and (k in now or k in old.fingerprint)]
        if old.fingerprint.get("points") != now["points"]:
            reasons.append(f"points {old.fingerprint.get('points', old.points):g} -> {now['points']:g}")
        if reasons:
            out[todo_id] = "; ".join(reasons)
    for todo_id in recorded.keys() - current.keys():
        out[todo_id] = "no longer graded"
    return out


def needs_grading(reasons):
    """The TODOs of `reasons` (changes()) that must run again: every reason but a points change and removal."""
    return sorted(t for t, why in reasons.items()
                  if why != "no longer graded" and not all(r.startswith("points ") for r in why.split("; ")))


def merge(new, previous, cfg, assignment, fps):
    """`new` (a grade of some TODOs) completed with `previous`'s results of the others, rescored to the current
    points and shown with the current visibility: a Results of every TODO of `assignment`."""
    old = previous.by_id()
    graded = new.by_id()
    todos = []
    for todo in cfg.todos_for(assignment):
        if todo.id in graded:
            todos.append(graded[todo.id])
        elif todo.id in old:
            kept = old[todo.id].rescored(todo.points) if old[todo.id].given is None else old[todo.id]
            kept.visibility = todo.visibility
            kept.fingerprint = fps[todo.id]
            todos.append(kept)
    new.todos = todos
    return new


def rescore(previous, cfg, assignment, fps):
    """`previous` with every TODO rescored to the current points and visibility (a change of points only)."""
    kept = Results(assignment=assignment, notes=previous.notes, execution_time=previous.execution_time,
                   leaderboard=previous.leaderboard, extra=previous.extra, show_total=cfg.visibility.show_total)
    return merge(kept, previous, cfg, assignment, fps)


def diff_rows(student, assignment, before, after, reasons):
    """[(student, assignment, TODO, old, new, reason)] for each TODO whose score differs."""
    old = {t.id: t.score for t in before.todos} if before else {}
    rows = []
    for todo in after.todos:
        if old.get(todo.id) != todo.score:
            was = old.get(todo.id)
            rows.append((student, assignment, todo.id, "" if was is None else f"{was:g}", f"{todo.score:g}",
                         reasons.get(todo.id, "regraded")))
    gone = {t.id for t in before.todos} - {t.id for t in after.todos} if before else set()
    rows += [(student, assignment, t, f"{old[t]:g}", "", "no longer graded") for t in sorted(gone)]
    return rows


def write_diff(out, rows, regraded, stamp):
    """OUT/regrades/<stamp>.csv and .md: one line per (student, TODO) whose score changed; returns the .md path."""
    folder = Path(out) / "regrades"
    header = ["student", "assignment", "todo", "old", "new", "reason"]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(folder / f"{stamp}.csv", buf.getvalue())
    totals = {}
    for student, _, _, old, new, _ in rows:
        gained = (float(new) if new else 0.0) - (float(old) if old else 0.0)
        totals[student] = totals.get(student, 0.0) + gained
    lines = [f"# Regrade {stamp}", "", f"{regraded} submission(s) regraded; {len(totals)} changed score.", ""]
    if totals:
        lines += ["| student | change |", "| --- | --- |"]
        lines += [f"| {s} | {t:+g} |" for s, t in sorted(totals.items())]
        lines += ["", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
        lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    md = folder / f"{stamp}.md"
    atomic_write_text(md, "\n".join(lines) + "\n")
    return md


def load(path):
    """The Results of a results.json file, or None when it is missing or unreadable."""
    try:
        return Results.from_gradescope(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_previous(path):
    """The Results a `coursekit grade --todos` regrade completes (--previous); a clear error when unusable."""
    found = load(path) if path else None
    if found is None:
        raise ValueError(f"--todos regrades part of a grade: pass --previous with the results.json it completes "
                         f"({path} is missing or not a results.json)")
    return found
