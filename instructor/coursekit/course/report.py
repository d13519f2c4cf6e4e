"""`coursekit report DIR`: the scores CSV and the instructor report of a grade-batch folder, from its
per-student results.json files alone (grade-batch writes them, and calls this at its end).

- DIR/scores.csv: a row per submission (score, status, ...) and a column per TODO with its points;
- DIR/report/index.html: per assignment, the score distribution, per-TODO pass rates (share of submissions
  with full marks on the TODO) and mean points, and a row per submission linking its results.json;
  DIR/report/histogram_<assignment>.png and DIR/report/todos_<assignment>.png are the two plots.

Submissions the grader could not grade (status "error": grader error, timeout, unknown assignment) are
listed with their reason and left out of the statistics.
"""

import csv
import html
import io
import json
import re
import statistics
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..fsutil import atomic_write_bytes, atomic_write_text
from ..grading.results import Results

# Where grade-batch records, in a results.json's extra_data, what it graded (grade_batch.py writes it).
BATCH_KEY = "coursekit_batch"
FIXED_COLUMNS = ["submission", "assignment", "score", "max_score", "percent", "status", "seconds", "error"]
# A spreadsheet reads a cell starting with one of these as a formula (OWASP, "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def load_rows(out):
    """One dict per batch results file in `out`, sorted by submission name; `tests` maps each TODO's label to its
    results.TodoResult."""
    rows = []
    for path in sorted(Path(out).glob("*.json")):
        try:
            graded = Results.from_gradescope(json.loads(path.read_text(encoding="utf-8")))
            meta = graded.extra[BATCH_KEY]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        status = meta.get("status", "error")
        rows.append({
            "submission": meta.get("submission", path.stem),
            "assignment": meta.get("assignment") or "unknown",
            "score": float(graded.score or 0.0),
            "max_score": graded.max_score,
            "status": status,
            "seconds": meta.get("seconds"),
            "error": "" if status == "graded" else (graded.output.strip().splitlines() or [""])[0],
            "results": path.name,
            "tests": {t.label: t for t in graded.todos},
        })
    return sorted(rows, key=lambda r: r["submission"])


def _assignments(rows):
    """{assignment: (rows, TODO names in the grader's order, max score)}."""
    out = {}
    for row in rows:
        group, names, _ = out.setdefault(row["assignment"], ([], [], 0.0))
        group.append(row)
        names.extend(n for n in row["tests"] if n not in names)
    return {a: (group, names, max(r["max_score"] for r in group)) for a, (group, names, _) in out.items()}


def _percent(row, max_score):
    return round(100.0 * row["score"] / max_score, 1) if max_score else 0.0


def _text(value):
    """A text cell a spreadsheet shows as text: one starting like a formula gets a leading apostrophe."""
    value = str(value)
    return "'" + value if value.startswith(FORMULA_START) else value


def _cell(value):
    """A number as a number, anything else as text (None: empty)."""
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, int | float) and not isinstance(value, bool) else _text(value)


def write_csv(rows, path):
    """The scores CSV. Every text cell (a submission's name, a message, a TODO's name) is escaped with _text,
    since submissions choose their names (a folder named `=HYPERLINK(...)`); numbers stay numbers."""
    groups = _assignments(rows)
    todo_columns = list(dict.fromkeys(n for _, names, _ in groups.values() for n in names))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([_text(c) for c in FIXED_COLUMNS + todo_columns])
    for row in rows:
        max_score = groups[row["assignment"]][2]
        numbers = {"score": f"{row['score']:g}", "max_score": f"{max_score:g}", "percent": _percent(row, max_score),
                   "seconds": _cell(row["seconds"])}
        line = [numbers[c] if c in numbers else _text(row[c]) for c in FIXED_COLUMNS]
        line += [f"{row['tests'][n].score:g}" if n in row["tests"] else "" for n in todo_columns]
        writer.writerow(line)
    atomic_write_text(path, buf.getvalue())


def todo_stats(graded, names):
    """Per TODO name: (submissions with full marks, submissions graded, mean points, max points)."""
    stats = {}
    for name in names:
        tests = [r["tests"][name] for r in graded if name in r["tests"]]
        full = sum(t.status == "passed" for t in tests)
        mean = statistics.fmean(t.score for t in tests) if tests else 0.0
        top = max((t.points for t in tests), default=0.0)
        stats[name] = (full, len(tests), mean, top)
    return stats


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def histogram_png(percents, title):
    fig = Figure(figsize=(7, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.hist(percents, bins=[5 * i for i in range(21)], color="#4c72b0", edgecolor="white")
    ax.set_xlim(0, 100)
    ax.set_xlabel("score (% of the maximum)")
    ax.set_ylabel("submissions")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    return _png(fig)


def todos_png(stats, title):
    names = list(stats)
    fig = Figure(figsize=(8, 1.2 + 0.28 * len(names)), layout="constrained")
    ax = fig.subplots()
    y = range(len(names))
    rates = [100.0 * full / n if n else 0.0 for full, n, _, _ in stats.values()]
    credit = [100.0 * mean / top if top else 0.0 for _, _, mean, top in stats.values()]
    ax.barh(y, rates, color="#55a868", label="full marks")
    ax.plot(credit, y, "k|", markersize=10, label="mean points")
    ax.set_yticks(list(y), [_short(n) for n in names], fontsize=8)
    if names:
        ax.set_ylim(len(names) - 0.5, -0.5)  # first TODO on top, no empty margin
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of graded submissions (bar) / % of the points (mark)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def _short(name):
    return name.split("/", 1)[1] if name.startswith(("cs231n/", "assignment")) and "/" in name else name


def _slug(text):
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text) or "unknown"


def _table(header, body):
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    rows = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>" for cells in body)
    return f"<table><tr>{head}</tr>{rows}</table>"


def build(out, csv_path=None):
    """Write the CSV and the report of the batch folder `out`; return (csv path, index.html path)."""
    out = Path(out)
    if not out.is_dir():
        raise FileNotFoundError(f"{out} does not exist; pass the --out folder of coursekit grade-batch")
    rows = load_rows(out)
    if not rows:
        raise FileNotFoundError(f"no grade-batch results (*.json) in {out}; run coursekit grade-batch first")
    csv_file = Path(csv_path) if csv_path else out / "scores.csv"
    write_csv(rows, csv_file)
    report_dir = out / "report"
    sections = []
    for assignment, (group, names, max_score) in _assignments(rows).items():
        graded = [r for r in group if r["status"] == "graded"]
        percents = [_percent(r, max_score) for r in graded]
        slug = _slug(assignment)
        stats = todo_stats(graded, names)
        atomic_write_bytes(report_dir / f"histogram_{slug}.png",
                           histogram_png(percents, f"{assignment}: {len(graded)} graded submissions"))
        atomic_write_bytes(report_dir / f"todos_{slug}.png", todos_png(stats, f"{assignment}: per-TODO results"))
        summary = "no graded submission"
        if graded:
            scores = [r["score"] for r in graded]
            summary = (f"{len(graded)} graded, {len(group) - len(graded)} not graded; score out of {max_score:g}: "
                       f"mean {statistics.fmean(scores):.1f}, median {statistics.median(scores):g}, "
                       f"min {min(scores):g}, max {max(scores):g}")
        todo_rows = [[html.escape(n), f"{top:g}", f"{full}/{n_graded}", f"{mean:.2f}"]
                     for n, (full, n_graded, mean, top) in stats.items()]
        student_rows = [[f'<a href="../{html.escape(r["results"])}">{html.escape(r["submission"])}</a>',
                         f"{r['score']:g}", f"{_percent(r, max_score):g}", html.escape(r["status"]),
                         "" if r["seconds"] is None else f"{r['seconds']:g}", html.escape(r["error"])]
                        for r in group]
        sections.append(
            f"<h2>{html.escape(assignment)}</h2><p>{html.escape(summary)}</p>"
            f'<img src="histogram_{slug}.png" alt="score histogram of {html.escape(assignment)}">'
            f'<img src="todos_{slug}.png" alt="per-TODO pass rates of {html.escape(assignment)}">'
            "<h3>TODOs</h3>" + _table(["TODO", "points", "full marks", "mean points"], todo_rows)
            + "<h3>Submissions</h3>"
            + _table(["submission", "score", "%", "status", "seconds", "why not graded"], student_rows)
        )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Grading report</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}img{display:block;margin:1em 0}"
        "</style></head><body><h1>Grading report</h1>"
        f'<p>{len(rows)} submissions. Scores: <a href="{html.escape(_link(csv_file, report_dir))}">'
        f"{html.escape(csv_file.name)}</a>. Full marks: the TODO passed all its checks.</p>"
        + "".join(sections) + "</body></html>\n"
    )
    index = report_dir / "index.html"
    atomic_write_text(index, page)
    return csv_file, index


def _link(path, report_dir):
    """A link from report_dir/index.html to `path`: relative inside the batch folder, else absolute."""
    path, base = Path(path).resolve(), Path(report_dir).resolve().parent
    return "../" + path.relative_to(base).as_posix() if path.is_relative_to(base) else path.as_uri()


def main(*, out, csv_path=None):
    csv_file, index = build(out, csv_path=csv_path)
    print(f"scores -> {csv_file}\nreport -> {index}")
    return 0
