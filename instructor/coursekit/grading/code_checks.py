"""Stage 2 of a grade (grade.py): the hidden checks of the code TODOs, run against workers.

`CodeChecks(grader, run).check(only, passed)` gives a `Checked`: {TODO id: [Check]} and the notes the checks
left. A worker (worker.py, started in the sandbox Run by `start_worker`) serves one TODO: that TODO and the
TODOs of its key's `uses` are the student's code, every other TODO a stub that asks the grader's reference
process to answer (session.py). The checks (hidden.py) run here, in the grader, one worker per (TODO, uses)
key, `grader.jobs` keys at a time. Around that:

- `_settle`: a TODO whose code calls another TODO that its reference does not call (grade.Grader.expected) is
  checked again with the student's own code for the TODOs it called that way, until no such call is left;
- `check`: a TODO that fails is checked once more with the student's own code for the TODOs around it that
  pass their own checks, and keeps the better outcome;
- no check starts after the checks' budget (grading.toml `grade_timeout`) is spent.
"""

import dataclasses
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

from . import feedback, hidden, secret, session
from .protocol import Op
from .results import Check


@dataclasses.dataclass
class Checked:
    """What a checking stage found: {TODO id: [Check]} and the notes for the student (in order, no repeats)."""

    by_todo: dict[str, list[Check]]
    notes: list[str]


@dataclasses.dataclass
class GroupOutcome:
    """The checks of one (TODO id, uses) key: `key` the one graded last (uses grow while settling), their
    results, and the TODOs whose reference the student's code called."""

    key: tuple[str, tuple[str, ...]]
    results: list[Check]
    called: set[str]

    @property
    def passed(self):
        return all(r.passed for r in self.results)


def start_worker(grader, run, todo_id, uses, stand_ins=False):
    """A worker of `run` for `todo_id` (+ `uses` kept as the student's); (worker, error message or '').

    The reference answers the calls the reference of those TODOs makes itself (see CodeChecks._settle). Given
    code that can do the work of a TODO under test (grading.toml `stand_ins`) is disabled in it, unless
    `stand_ins` (the notebook models run the fast layers beside the naive ones they are no check of)."""
    cfg, code_todos = grader.cfg, grader.code_todos
    todo = cfg.todo(todo_id)
    student = {todo_id, *uses}
    callbacks = [(t.id, t.module, t.name) for t in code_todos if t.id not in student]
    disabled = [] if stand_ins else sorted({(stand_in, cfg.todo(t).function) for t in student
                                            for stand_in in cfg.todo(t).stand_ins})
    modules = sorted({t.module for t in code_todos})
    reference = session.ReferenceProcess(grader.ref.root, cfg.path, grader.limits.memory_mb)
    answered = set().union(*(grader.expected[t] for t in student))
    worker = session.RunningWorker(run, {i for i, _, _ in callbacks}, reference, timeout=grader.timeout, answered=answered)
    try:
        report = worker.request(Op.SETUP, {
            "package": grader.package, "sub": run.path("sub"), "fallback": run.path("fallback"),
            "modules": modules, "todo_module": todo.module, "callbacks": callbacks,
            "disabled": [[_module_of(path), name, by] for path, by in disabled for name in [path.split("::")[1]]],
        }, timeout=max(grader.timeout, 60))
    except session.WorkerError as exc:
        worker.close()
        return None, f"the submission's package could not be loaded: {exc}"
    notes = []
    for module, status in sorted(report.items()):
        path = feedback.clean(module.replace(".", "/") + ".py", feedback.MAX_PATH)
        error = _import_error(status)
        if module == todo.module and status.get("status") == "broken":
            worker.close()
            return None, f"{path} does not import: {error}"
        notes.append(f"{path} does not import ({error}): its TODOs score 0; the release copy "
                     "stood in for it while the other TODOs were checked")
    return worker, "\n".join(notes)


def run_check(spec, tester, function):
    """The Check of one hidden check `spec` run with `tester`; `function` names the TODO in its messages."""
    try:
        spec.func(tester)
    except hidden.CheckFailed as exc:
        return Check(spec.name, False, str(exc) or "check failed")
    except session.StudentError as exc:
        return Check(spec.name, False, f"{function} {exc}")
    except session.CallTimeout as exc:
        if str(exc):
            return Check(spec.name, False, f"{function}: {exc}")
        return Check(spec.name, False, f"{function} did not return within {tester._timeout:g} s (an endless loop?); "
                                        "its process was stopped")
    except session.WorkerDied as exc:
        return Check(spec.name, False, f"while checking {function}: {exc}")
    except session.BadReturn as exc:
        return Check(spec.name, False, f"{function} {exc}")
    except AssertionError as exc:
        return Check(spec.name, False, str(exc) or "check failed")
    except Exception as exc:  # noqa: BLE001 - a fault of the check or the reference, not the student's
        print(f"coursekit grade: check {spec.name} failed inside the grader:\n{traceback.format_exc()}", file=sys.stderr)
        return Check(spec.name, False, f"the check could not run ({type(exc).__name__}); tell your instructor")
    return Check(spec.name, True)


class CodeChecks:
    """The code TODOs' checks of one submission, in the sealed sandbox Run `run`; build one per grade."""

    def __init__(self, grader, run):
        self.grader = grader
        self.run = run
        self.cfg = grader.cfg
        self.code_todos = grader.code_todos
        self.iso = grader.iso
        self.jobs = grader.jobs
        self.limits = grader.limits
        self.notes = []
        self.lock = threading.Lock()
        self.deadline = None

    def check(self, only=None, passed=None):
        """A Checked of the code TODOs (of `only`, default all).

        A TODO that fails is checked once more with the student's own code for the TODOs around it that pass all
        their own checks (the other methods of its class, the TODOs it called), and keeps the better outcome: a
        `loss` reading a flag its own `__init__` sets is right with that `__init__`, and a student's own working
        code cannot bring it the reference's answers. A TODO around it that fails costs only its own points.
        `only`, `passed`: check the TODOs of `only`, and take whether the others pass from `passed` ({id: bool},
        their recorded results), so a partial regrade re-checks a TODO with the same helpers a full grade would."""
        self.deadline = time.monotonic() + self.limits.grade_timeout
        groups = self.grader.groups(only)
        first = self._settle(groups)
        passes = {t: ok for t, ok in (passed or {}).items() if only is not None and t not in only}
        for (todo_id, _), outcome in first.items():
            passes[todo_id] = passes.get(todo_id, True) and outcome.passed
        retry = {}
        for origin, outcome in first.items():
            if outcome.passed:
                continue
            key = outcome.key
            helpers = {t for t in self._siblings(key[0]) | set(outcome.called) if passes.get(t)} - {key[0], *key[1]}
            if helpers:
                retry[origin] = (key[0], tuple(sorted({*key[1], *helpers})))
        second = self._settle({new: groups[origin] for origin, new in retry.items()}) if retry else {}
        by_todo = {t.id: [] for t in self.code_todos if only is None or t.id in only}
        for origin, outcome in first.items():
            results = outcome.results
            if origin in retry:
                better = second[retry[origin]].results
                if sum(r.passed for r in better) > sum(r.passed for r in results):
                    results = better
                    helpers = sorted(set(retry[origin][1]) - set(outcome.key[1]))
                    names = ", ".join(self.cfg.todo(t).name for t in helpers)
                    self._note(f"{self.cfg.todo(origin[0]).name} was checked with your own {names} (they pass their checks)")
            by_todo[origin[0]].extend(results)
        return Checked(by_todo, self.notes)

    def _note(self, note):
        with self.lock:
            if note not in self.notes:
                self.notes.append(note)

    def _run_group(self, key, specs):
        """Run the checks `specs` of one (TODO, uses) key; a GroupOutcome.

        No check starts after the deadline: a submission whose every TODO loops still gets its results.json in
        bounded time."""
        todo_id, uses = key
        grader = self.grader
        function = self.cfg.todo(todo_id).function
        todos = [(t.id, t.module, t.name) for t in self.code_todos]
        results, called = [], set()
        worker = None
        for spec in specs:
            if time.monotonic() > self.deadline:
                results.append(Check(spec.name, False, f"not run: the checks of this submission used up their "
                                                        f"{self.limits.grade_timeout} s (code that ran too long)", True))
                continue
            if worker is None or worker.dead:
                if worker is not None:
                    called |= worker.called
                worker, message = start_worker(grader, self.run, todo_id, uses)
                for line in message.splitlines():
                    self._note(line)
                if worker is None:
                    results.append(Check(spec.name, False, message, True))
                    continue
            tester = hidden.Tester(worker, package=grader.package, reference_name=grader.reference_name,
                                   modules=grader.modules, timeout=spec.timeout or grader.timeout, todos=todos,
                                   salt=secret.submission_salt(self.run.dir / "sub"), check=f"{spec.todo}::{spec.name}")
            results.append(run_check(spec, tester, function))
        if worker is not None:
            called |= worker.called
            worker.close()
        return GroupOutcome(key, results, called)

    def _run_groups(self, groups):
        """{key: GroupOutcome} for `groups` ({key: [CheckSpec]})."""
        with ThreadPoolExecutor(max_workers=self.iso.concurrency(self.jobs)) as pool:
            futures = {key: pool.submit(self._run_group, key, specs) for key, specs in groups.items()}
            return {key: future.result() for key, future in futures.items()}

    def _settle(self, groups):
        """Run `groups` until no TODO's checks lean on the reference for work that is not its own:
        {key: GroupOutcome of the key graded last}.

        A TODO is checked with the reference answering for the other TODOs it calls, so its points depend on it
        alone. That holds for the calls its reference makes too (`grader.expected`: the course's design). Any
        other call is the TODO handing its own work to another TODO, and the reference must not do that work
        for it: the TODO is checked again with the student's own code for the TODOs it called that way (a
        `batchnorm_backward` returning `batchnorm_backward_alt(...)` is checked with the student's alt; two
        TODOs that only call each other then recurse), until no such call is left."""
        outcome = self._run_groups(groups)
        current = {key: key for key in groups}
        while True:
            again, changed = {}, False
            for origin, key in current.items():
                extra = self._unexpected(key, outcome[key].called)
                if not extra:
                    continue
                changed = True
                new = (key[0], tuple(sorted({*key[1], *extra})))
                current[origin] = new
                todo = self.cfg.todo(key[0])
                for other in sorted(extra):
                    name = self.cfg.todo(other).name
                    self._note(f"{todo.name} calls {name}, which the course's {todo.name} does not: {todo.name} was "
                               f"checked with your own {name}")
                if new not in outcome:
                    again[new] = groups[origin]
            if again:
                outcome.update(self._run_groups(again))
            if not changed:
                return {origin: outcome[key] for origin, key in current.items()}

    def _unexpected(self, key, called):
        """The TODOs of `called` that no TODO of `key` calls in the reference."""
        student = {key[0], *key[1]}
        allowed = set().union(*(self.grader.expected[t] for t in student))
        return set(called) - allowed - student

    def _siblings(self, todo_id):
        """The other TODOs that are methods of the same class as `todo_id`."""
        todo = self.cfg.todo(todo_id)
        owner = todo.name.rpartition(".")[0]
        if not owner:
            return set()
        return {t.id for t in self.code_todos if t.path == todo.path and t.name.rpartition(".")[0] == owner} - {todo_id}


def _module_of(path):
    """`cs231n.fast_layers` for `cs231n/fast_layers.py::conv_forward_fast`."""
    return path.split("::", 1)[0].removesuffix(".py").replace("/", ".")


def _import_error(status):
    """How a module failed to import, as far as the submission's own text may be shown (feedback.py)."""
    def describe(error):
        if not isinstance(error, dict):
            return "an error"
        text = f"{feedback.exception_type(error.get('type'))}: {feedback.message(error.get('message', ''))}"
        where = feedback.location(error.get("where", ""))
        return f"{text} ({where})" if where else text

    text = describe(status.get("error"))
    if "fallback_error" in status:
        text += f"; its release copy failed too: {describe(status['fallback_error'])}"
    return text
