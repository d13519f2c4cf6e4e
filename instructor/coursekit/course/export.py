"""`coursekit export DIR... --out gradebook.csv`: the scores of one or more grade-batch folders in the layout an
LMS gradebook import expects: one row per student id, one column per assignment total, per-TODO columns with
`--todos`.

- The student id is the submission's name without its assignment prefix (`a1_12345.zip` -> `12345`;
  `--id-pattern` takes a regular expression whose group `id` is the student id instead).
- `--format plain` (default; Moodle's import maps its `student_id` column to an identifier): `student_id`, then
  one column per assignment, named after it. `--format canvas`: Canvas's import layout, `Student, ID,
  SIS User ID, SIS Login ID, Section` (the id in `SIS User ID`, the others blank), a `Points Possible` row,
  then one column per assignment.
- A submission that was not graded (status error) leaves its cells empty rather than 0: the import then
  keeps what the gradebook had, and `coursekit report` lists why. Two submissions of one student for one
  assignment are an error naming both.
"""

import csv
import io
import re
from pathlib import Path

from ..fsutil import atomic_write_text
from .report import load_rows

DEFAULT_ID = r"^(?:a\d+|assignment\d+)[_-](?P<id>.+)$"
CANVAS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def student_id(submission, pattern):
    stem = Path(submission).name.removesuffix(".zip")
    match = re.match(pattern, stem)
    return match.group("id") if match and "id" in match.groupdict() else stem


def gradebook(folders, *, pattern=DEFAULT_ID, todos=False):
    """(columns, {column: max points}, {student id: {column: score}}) of the grade-batch folders."""
    columns, maxima, students, seen = [], {}, {}, {}
    for folder in folders:
        rows = load_rows(folder)
        if not rows:
            raise FileNotFoundError(f"no grade-batch results (*.json) in {folder}; run coursekit grade-batch first")
        for row in rows:
            sid = student_id(row["submission"], pattern)
            key = (sid, row["assignment"])
            if key in seen:
                raise ValueError(f"{seen[key]} and {row['submission']} are both the {row['assignment']} of student {sid!r}: "
                                 "remove one or pass an --id-pattern that tells them apart")
            seen[key] = row["submission"]
            cells = students.setdefault(sid, {})
            names = [(row["assignment"], row["max_score"], row["score"])]
            if todos:
                names += [(f"{row['assignment']}: {label}", t.points, t.score) for label, t in row["tests"].items()]
            for column, top, score in names:
                if column not in maxima:
                    columns.append(column)
                maxima[column] = max(maxima.get(column, 0.0), top)
                if row["status"] == "graded":
                    cells[column] = score
    return columns, maxima, students


def write(path, columns, maxima, students, fmt="plain"):
    buf = io.StringIO()
    writer = csv.writer(buf)
    head = CANVAS if fmt == "canvas" else ["student_id"]
    writer.writerow(head + columns)
    if fmt == "canvas":
        writer.writerow(["Points Possible", "", "", "", ""] + [f"{maxima[c]:g}" for c in columns])
    for sid in sorted(students):
        lead = ["", "", sid, "", ""] if fmt == "canvas" else [sid]
        cells = students[sid]
        writer.writerow(lead + [f"{cells[c]:g}" if c in cells else "" for c in columns])
    atomic_write_text(path, buf.getvalue())


def main(*, folders, out, fmt="plain", todos=False, id_pattern=None):
    pattern = id_pattern or DEFAULT_ID
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"--id-pattern {pattern!r} is not a regular expression ({exc})") from None
    columns, maxima, students = gradebook([Path(f) for f in folders], pattern=pattern, todos=todos)
    write(Path(out), columns, maxima, students, fmt)
    print(f"{len(students)} students, {len(columns)} columns -> {out}")
    return 0
