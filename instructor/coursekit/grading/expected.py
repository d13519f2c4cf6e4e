"""The reference run through its own hidden checks, in the grader's process: which TODOs each TODO calls.

A worker checks one TODO with the student's code and answers every other TODO it calls with the reference
(code_checks.py). Some of those calls are the course's design — `FullyConnectedNet.loss` runs the layers through
`affine_relu_forward`, `TwoLayerNet.train` calls `loss` — and the reference standing in for them keeps each
TODO's points its own. Others are the student handing the TODO's own work to another TODO: a
`batchnorm_backward` that returns `batchnorm_backward_alt(...)`, a `TwoLayerNet` built on
`FullyConnectedNet`. Whichever TODOs the reference implementation of a TODO itself calls, on the same checks,
are its *expected* calls (`expected_calls`); code_checks.py checks every other call a submission makes with the
student's own code.

The reference package is trusted code, so here it runs in-process, through the worker's own request
handling (worker.Worker, with every reply encoded and decoded as on the wire), under a profiler that records
the calls. The same machinery runs checks with given functions standing in for TODOs (`check_outcomes`),
which `coursekit validate` uses to find given code that can do a TODO's work.
"""

import contextlib
import sys
import traceback

from . import hidden, protocol, session, worker


def _function_of(module, qualname):
    owner = module
    *path, attr = qualname.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, attr, (owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr))


class LocalWorker:
    """Serves a Tester's requests with the reference package in this process, recording which TODOs outside
    `student` the code reached, as a sandboxed worker would record its callbacks (session.RunningWorker.called)."""

    def __init__(self, codes, student, sub_name, replacements=None):
        self.replacements = replacements or {}
        # No channel: the reference package's TODOs run here in-process, so the worker never makes a Callback.
        self.inner = worker.Worker(None)
        self.inner.package = sub_name
        self.codes = codes  # code object -> TODO id
        self.student = frozenset(student)
        self.called = set()
        self.dead = False

    def _profile(self, handler_frame, direct):
        def profile(frame, event, arg):
            if event != "call":
                return
            todo = self.codes.get(frame.f_code)
            if todo is None:
                return
            outer = frame.f_back
            while outer is not None and outer is not handler_frame:
                enclosing = self.codes.get(outer.f_code)
                if enclosing is not None and enclosing not in self.student:
                    return  # inside a TODO the reference answers: the worker never sees these calls
                outer = outer.f_back
            if todo not in self.student and todo not in direct:
                self.called.add(todo)

        return profile

    def request(self, op, value=None, returns="data", timeout=None, direct=()):
        message, buffers = protocol.Request(op, value if value is not None else {}, returns).to_frame()
        # Replacements hold only while the request runs: the check computes its expected values with the
        # reference as it is.
        with replaced(self.inner.package, self.replacements):
            previous = sys.getprofile()
            sys.setprofile(self._profile(sys._getframe(), frozenset(direct)))
            try:
                reply = self.inner.answer(message, buffers)
            finally:
                sys.setprofile(previous)
        return session.decode_reply(*reply)

    def close(self):
        self.dead = True


@contextlib.contextmanager
def replaced(reference_name, replacements):
    """Within the block, each (module, qualname) of `replacements` is the given object, wherever the reference
    package's modules refer to it (as the worker installs its stubs)."""
    package = [sys.modules[n] for n in list(sys.modules) if n == reference_name or n.startswith(reference_name + ".")]
    undo = []
    for (module, qualname), new in replacements.items():
        owner, attr, old = _function_of(sys.modules[f"{reference_name}.{module}"], qualname)
        undo.append((owner, attr, old))
        setattr(owner, attr, new)
        if not isinstance(owner, type):
            for mod in package:
                for key, value in list(vars(mod).items()):
                    if value is old:
                        undo.append((mod, key, old))
                        setattr(mod, key, new)
    try:
        yield
    finally:
        for owner, attr, old in reversed(undo):
            setattr(owner, attr, old)


def _codes(grader):
    """{code object of the reference's TODO function: TODO id} for the grader's code TODOs."""
    out = {}
    for todo in grader.code_todos:
        module = sys.modules[f"{grader.reference_name}.{todo.module.partition('.')[2]}"]
        _, _, fn = _function_of(module, todo.name)
        out[getattr(fn, "__code__", None)] = todo.id
    out.pop(None, None)
    return out


def check_outcomes(grader, specs, student, replacements=None):
    """Run `specs` on the reference in-process with `student` as the TODOs under test: ({check name: passed},
    TODO ids the code called outside `student`). `replacements` ({(module, qualname): object}) stand in for
    those while the checked code runs (stand_ins.py); then a check that breaks counts as failed, quietly."""
    todos = [(t.id, f"{grader.reference_name}.{t.module.partition('.')[2]}", t.name) for t in grader.code_todos]
    local = LocalWorker(_codes(grader), student, grader.reference_name, replacements)
    outcomes = {}
    for spec in specs:
        tester = hidden.Tester(local, package=grader.reference_name, reference_name=grader.reference_name,
                               modules=grader.modules, timeout=grader.timeout, todos=todos)
        try:
            spec.func(tester)
            outcomes[spec.name] = True
        except (AssertionError, session.WorkerError):
            outcomes[spec.name] = False
        except Exception:  # noqa: BLE001 - a check that breaks on the reference is validate's to report
            if not replacements:
                print(f"coursekit: check {spec.name} failed on the reference in-process:\n{traceback.format_exc()}",
                      file=sys.stderr)
            outcomes[spec.name] = False
    return outcomes, local.called


def expected_calls(grader):
    """{TODO id: TODO ids its reference implementation calls on its own checks} (see the module docstring)."""
    out = {t.id: set() for t in grader.code_todos}
    for (todo_id, uses), specs in grader.groups().items():
        _, called = check_outcomes(grader, specs, {todo_id, *uses})
        out[todo_id] |= called
    return {todo: frozenset(called) for todo, called in out.items()}
