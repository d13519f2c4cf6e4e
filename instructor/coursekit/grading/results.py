"""The results of one grade, as one model: `coursekit grade` builds it, writes it as Gradescope's results.json
(`to_gradescope`); grade-batch, report, export, validate, regrade, the submission limit and the container
benchmark read results.json back (`from_gradescope`) and never index its dict.

What a student sees is decided here, from grading.toml's [visibility] (config.Visibility), with Gradescope's
values (visible, after_due_date, after_published, hidden). Per TODO, results.json holds:

- one scored entry, `NAME (path)`, shown by `summary`: the TODO's points, "k/n checks passed", and the name and
  message of each check whose own visibility is the summary's;
- one entry of 0 points per other visibility among its checks, `NAME (path): details`, shown by that
  visibility, with those checks' names and messages (the summary says how many checks wait, and until when).
  A check on the course's own public inputs (hidden.PUBLIC_NAME_PARTS) follows `public_checks`, every other
  `hidden_checks`; `checks = {name = ...}` overrides one check. Notebook TODOs' model checks are public: they
  report the accuracy of the student's own model on a split the student has.

Gradescope shows a student the total only while no entry waits for the due date or publication (entries that
are `hidden` do not count). With `show_total = false` and no entry waiting, a 0-point entry that waits for
publication holds the total back; the top-level output states the total only when the student sees it. What
each setting shows is tabled in instructor/gradescope/README.md.

The summary entry's extra_data records what regrading needs (the checks' outcomes, the TODO's fingerprint,
the measured model); Gradescope stores extra_data and never shows it to students.
"""

from dataclasses import dataclass, field

from ..config import WAITING, Visibility
from . import feedback

KEY = "coursekit"
MAX_OUTPUT_PER_ENTRY = 6000
LABELS = {"visible": "shown now", "after_due_date": "shown after the due date",
          "after_published": "shown when the grades are published", "hidden": "not shown"}


@dataclass
class Check:
    """The outcome of one check of a TODO. `public`: its message says nothing of hidden inputs (a check on the
    course's own inputs, or a failure before any check ran), so it is shown like a public check's. `info`: what
    a passing notebook check measured (models.py), recorded as its TODO's `measured`."""

    name: str
    passed: bool
    message: str = ""
    public: bool = False
    info: dict = field(default_factory=dict, compare=False)


@dataclass
class TodoResult:
    """The checks of one TODO. `given`: (score, status, entry name) read back from a results.json entry that
    lacks the checks (written by another grader version, or by hand)."""

    id: str
    points: float
    checks: list = field(default_factory=list)
    visibility: Visibility = Visibility()
    fingerprint: dict = field(default_factory=dict)
    measured: dict | None = None  # notebook TODOs: accuracy, parameters, dataset, split (models.py)
    given: tuple | None = None

    @property
    def label(self):
        if self.given is not None:
            return self.given[2]
        path, _, name = self.id.partition("::")
        return f"{name} ({path})" if name else self.id

    @property
    def score(self):
        if self.given is not None:
            return self.given[0]
        passed = sum(c.passed for c in self.checks)
        return round(self.points * passed / len(self.checks), 2) if self.checks else 0.0

    @property
    def status(self):
        if self.given is not None:
            return self.given[1]
        return "passed" if self.checks and all(c.passed for c in self.checks) else "failed"

    def rescored(self, points):
        """This result for a TODO now worth `points` (its checks unchanged)."""
        return TodoResult(self.id, points, self.checks, self.visibility, self.fingerprint, self.measured, None)

    def entries(self):
        """Gradescope test entries: the scored summary, then one 0-point entry per other visibility."""
        shown = self.visibility.summary
        groups = {}
        for check in self.checks:
            groups.setdefault(self.visibility.of_check(check.name, check.public), []).append(check)
        passed = sum(c.passed for c in self.checks)
        lines = [f"{passed}/{len(self.checks)} checks passed", *_lines(groups.get(shown, []))]
        for vis, checks in groups.items():
            if vis != shown:
                lines.append(f"details of {len(checks)} more check(s): {LABELS[vis]}")
        meta = {"todo": self.id, "points": self.points, "fingerprint": self.fingerprint,
                "checks": [[c.name, c.passed, c.message, c.public] for c in self.checks]}
        if self.measured:
            meta["measured"] = self.measured
        entries = [_entry(self.label, self.score, self.points, self.status, lines, shown, meta)]
        for vis, checks in groups.items():
            if vis != shown:
                status = "passed" if all(c.passed for c in checks) else "failed"
                entries.append(_entry(f"{self.label}: details", 0.0, 0.0, status, _lines(checks), vis,
                                      {"todo": self.id, "part": "details"}))
        return entries


def _lines(checks):
    return [f"{'✓' if c.passed else '✗'} {c.name}" + ("" if c.passed else f": {c.message}") for c in checks]


def _entry(name, score, max_score, status, lines, visibility, meta):
    output = feedback.clean_lines("\n".join(lines))
    if len(output) > MAX_OUTPUT_PER_ENTRY:
        output = output[:MAX_OUTPUT_PER_ENTRY] + "\n[... cut ...]"
    return {"name": name, "score": score, "max_score": max_score, "status": status, "output": output,
            "visibility": visibility, "extra_data": {KEY: meta}}


@dataclass
class Results:
    """A grade: per TODO results, notes for the student, the leaderboard. `message`: a grade that could not be
    made (the whole output). A submission refused for the submission limit keeps `kept_score` and says why in
    `refusal` (put on top of the output it keeps).

    `written`: the results.json a grade was read back from (from_gradescope). It is written back as it was read,
    with `extra` (grade-batch's record), `kept_score` and `refusal` applied, so a file passed through the model
    keeps every byte Gradescope or another grader version put in it; a grade rescored or regraded is a new
    Results (regrade.py), rendered from its TODOs."""

    todos: list = field(default_factory=list)
    assignment: str = ""
    notes: list = field(default_factory=list)
    execution_time: float = 0.0
    leaderboard: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    message: str = ""
    show_total: bool = True
    kept_score: float | None = None
    refusal: str = ""
    written: dict | None = field(default=None, repr=False, compare=False)

    @classmethod
    def failed(cls, message):
        # The grader's record comes first in extra_data, as in every grade; grade-batch's follows it.
        return cls(message=message, extra={KEY: {}})

    @property
    def score(self):
        """The score a refused submission keeps, else the score a grade read back was written with, else the sum
        of the TODOs' scores."""
        if self.kept_score is not None:
            return self.kept_score
        written = (self.written or {}).get("score")
        if isinstance(written, int | float) and not isinstance(written, bool):
            return written
        return round(sum(t.score for t in self.todos), 2)

    @property
    def max_score(self):
        return sum(t.points for t in self.todos)

    @property
    def output(self):
        """The top-level output a student is shown."""
        return str(self.to_gradescope().get("output", ""))

    @property
    def refused(self):
        """Whether this is the grade of a submission refused for the submission limit."""
        return bool(self.refusal) or self.extra.get(KEY, {}).get("limit") == "refused"

    def total_shown(self, entries):
        """Whether Gradescope shows the student the total at once (see the module docstring)."""
        return self.show_total and not any(e["visibility"] in WAITING for e in entries)

    def to_gradescope(self):
        data = dict(self.written) if self.written is not None else self._rendered()
        extra = dict(self.extra)
        if self.written is None:
            extra[KEY] = {**extra.get(KEY, {}), "assignment": self.assignment}
        if self.kept_score is not None:
            data["score"] = self.kept_score
        if self.refusal:
            data["output"] = self.refusal + ("\n\n" + data["output"] if data.get("output") else "")
            extra[KEY] = {**extra.get(KEY, {}), "limit": "refused"}
        if extra or "extra_data" in data:
            data["extra_data"] = extra
        return data

    def _rendered(self):
        entries = [e for t in self.todos for e in t.entries()]
        if not self.message and not self.show_total and not any(e["visibility"] in WAITING for e in entries):
            entries.append(_entry("Total", 0.0, 0.0, "passed", ["Your total is shown when the grades are published."],
                                  "after_published", {"part": "total"}))
        if self.message:
            lines = [self.message, *self.notes]
        elif self.total_shown(entries):
            lines = [f"{self.assignment}: {self.score:g} / {self.max_score:g} points", *self.notes]
        else:
            when = sorted({LABELS[e["visibility"]] for e in entries if e["visibility"] in WAITING})
            lines = [f"{self.assignment}: graded; your total is {' or '.join(when)}", *self.notes]
        data = {
            "score": self.score,
            "execution_time": round(self.execution_time, 1),
            "output": feedback.clean_lines("\n".join(lines)),
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": entries,
        }
        if self.leaderboard:
            data["leaderboard"] = self.leaderboard
        return data

    @classmethod
    def from_gradescope(cls, data, *, strict=False):
        """The model of a results.json dict (one written by any version of the grader: entries without the
        coursekit record keep their own score and status). `strict`: only a grader's results.json, whose tests
        are a list (what run_autograder also demands)."""
        if not isinstance(data, dict):
            raise ValueError("a results.json holds a JSON object")
        tests = data.get("tests", [] if not strict else None)
        if not isinstance(tests, list):
            raise ValueError("a results.json's tests must be a list")
        extra = data.get("extra_data") or {}
        if not isinstance(extra, dict):
            raise ValueError("a results.json's extra_data must be a JSON object")
        todos = []
        for test in tests:
            if not isinstance(test, dict) or "name" not in test:
                continue
            meta = (test.get("extra_data") or {}).get(KEY) or {}
            if meta.get("part"):
                continue
            points = float(test.get("max_score", 0) or 0)
            if "checks" in meta:
                checks = [Check(str(n), bool(p), str(m), bool(pub)) for n, p, m, pub in meta["checks"]]
                todos.append(TodoResult(meta["todo"], points, checks, fingerprint=meta.get("fingerprint", {}),
                                        measured=meta.get("measured")))
            else:
                given = (float(test.get("score", 0) or 0), test.get("status", "failed"), str(test["name"]))
                todos.append(TodoResult(meta.get("todo") or _id_of(test["name"]), points, given=given))
        output = str(data.get("output", ""))
        lines = output.splitlines()
        return cls(todos=todos, assignment=extra.get(KEY, {}).get("assignment", ""), extra=dict(extra),
                   execution_time=float(data.get("execution_time", 0) or 0), leaderboard=data.get("leaderboard", []),
                   message="" if todos else output, notes=lines[1:] if todos else [], written=dict(data))

    def by_id(self):
        return {t.id: t for t in self.todos}


def _id_of(label):
    """`cs231n/ops.py::add` for the entry name `add (cs231n/ops.py)`; other names stay as they are."""
    name, sep, path = label.rpartition(" (")
    return f"{path[:-1]}::{name}" if sep and path.endswith(")") else label


def leaderboard(cfg, todos):
    """Gradescope leaderboard entries of the model grading.toml's [leaderboard] names, as the grader measured it
    (never a number the notebook printed); [] when it is off, not among `todos` or not measured."""
    found = next((t for t in todos if t.id == cfg.leaderboard), None)
    if found is None or not found.measured:
        return []
    m = found.measured
    return [{"name": "Accuracy", "value": round(m["accuracy"], 4)},
            {"name": "Parameters", "value": m["parameters"], "order": "asc"},
            {"name": "Dataset", "value": f"{m['dataset']} ({m['split']})"}]
