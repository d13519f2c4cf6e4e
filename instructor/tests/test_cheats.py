"""Cheating and hostile submissions, graded by the real Grader as root in the namespaces mode.

One fixture per cheat class of issue 10. Each must score nothing beyond the points its honest parts earn,
leave no process of a grading uid and no run folder behind, and get a valid results.json; grading goes on
after a TODO that loops, exits, exhausts memory or forks without end. Most cheats sit in assignment 1
(three code TODOs: a grade takes a second or two); the file-rewriting import of cs231n.layers is graded in
assignment 2. Unsafe archives (absolute paths, `..`, symlinks, oversized, not a zip) and missing files
close the file.
"""

import dataclasses
import json
import shutil
import stat
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest
from coursekit import fsutil
from coursekit.grading import grade
from coursekit.sandbox import workeruids
from grading_support import (
    A1,
    A2,
    REPO,
    TEST_UID_BASE,
    append,
    check_results,
    code_todos,
    graded,
    grader,
    leaves_nothing,
    output_of,
    points,
    scores,
    set_region,
    submission,
)

from cs231n import model_io
from cs231n.classifiers import neural_net

NEURAL_NET = "cs231n/classifiers/neural_net.py"
LOSS, TRAIN, PREDICT = (f"{NEURAL_NET}::TwoLayerNet.{name}" for name in ("loss", "train", "predict"))
A1_CODE = [LOSS, TRAIN, PREDICT]


@pytest.fixture(scope="module")
def a1():
    # A short per-call timeout keeps the endless loop and the fork bomb quick to grade.
    with grader(A1, test_timeout=5) as g:
        yield g


@pytest.fixture(scope="module")
def a2():
    with grader(A2) as g:
        yield g


# -- values that fake a comparison -------------------------------------------------------------------------

FAKES = '''
import numpy as _np


class _Anything:
    """Equal to, close to and within any tolerance of anything it is compared with."""

    def __sub__(self, other):
        return _np.zeros(1)

    __rsub__ = __add__ = __radd__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = __sub__

    def __abs__(self):
        return _np.zeros(1)

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __lt__(self, other):
        return True

    __le__ = __gt__ = __ge__ = __lt__

    def __array__(self, dtype=None, copy=None):
        return _np.zeros(1)

    def __float__(self):
        return 0.0

    def __bool__(self):
        return True

    def __hash__(self):
        return 0


class _Sneaky(_np.ndarray):
    """An ndarray whose differences are all zero and whose comparisons all hold."""

    def __sub__(self, other):
        return _np.zeros(_np.shape(other))

    __rsub__ = __sub__

    def __eq__(self, other):
        return _np.ones(_np.shape(other), dtype=bool)
'''


def test_objects_that_fake_comparisons_earn_nothing(a1, tmp_path):
    sub = submission(tmp_path / "sub", A1, solved=set())
    nn = sub / NEURAL_NET
    append(nn, FAKES)
    set_region(nn, "TwoLayerNet.loss", "scores = _np.zeros((N, W2.shape[1])).view(_Sneaky)", 0)
    set_region(nn, "TwoLayerNet.loss", "loss = _Anything()", 1)
    set_region(nn, "TwoLayerNet.loss", "grads = {k: _Anything() for k in self.params}", 2)
    set_region(nn, "TwoLayerNet.train", "X_batch, y_batch = X[:batch_size], y[:batch_size]", 0)
    set_region(nn, "TwoLayerNet.train", "self.params = {k: _Anything() for k in self.params}", 1)
    set_region(nn, "TwoLayerNet.predict", "y_pred = _Anything()")
    code, results = graded(a1, sub)
    assert code == {LOSS: 0, TRAIN: 0, PREDICT: 0}
    assert "_Anything" in output_of(results, PREDICT)  # refused as not plain data, and said so


# -- patching the comparison functions at import -----------------------------------------------------------

PATCHES = '''
import builtins as _builtins
import math as _math

np.max = lambda *a, **k: 0.0
np.allclose = lambda *a, **k: True
np.isclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
_builtins.abs = lambda x: 0.0
_math.isclose = lambda *a, **k: True
'''


def test_patching_numpy_abs_and_isclose_at_import_earns_nothing(a1, tmp_path):
    sub = submission(tmp_path / "sub", A1, solved=set())
    nn = sub / NEURAL_NET
    append(nn, PATCHES)
    set_region(nn, "TwoLayerNet.loss", "scores = np.zeros((N, W2.shape[1]))", 0)
    set_region(nn, "TwoLayerNet.loss", "loss = 0.0", 1)
    set_region(nn, "TwoLayerNet.loss", "grads = {k: np.zeros_like(v) for k, v in self.params.items()}", 2)
    set_region(nn, "TwoLayerNet.predict", "y_pred = np.zeros(X.shape[0], dtype=int)")
    code, _ = graded(a1, sub)
    assert code == {LOSS: 0, TRAIN: 0, PREDICT: 0}


# -- reading expected values from the caller's frames and the heap --------------------------------------------

FRAME_READER = '''
import gc
import sys

found = None
frame = sys._getframe()
while frame is not None:
    for value in list(frame.f_locals.values()) + list(frame.f_globals.values()):
        if isinstance(value, np.ndarray) and value.shape == SHAPE and value is not X:
            found = value
    frame = frame.f_back
for obj in gc.get_objects():
    if isinstance(obj, np.ndarray) and obj.shape == SHAPE and obj is not X:
        found = obj
'''


def test_reading_caller_frames_and_the_heap_earns_nothing(a1, tmp_path):
    sub = submission(tmp_path / "sub", A1, solved=set())
    nn = sub / NEURAL_NET
    set_region(nn, "TwoLayerNet.loss", FRAME_READER.replace("SHAPE", "(N, W2.shape[1])") + "scores = found", 0)
    set_region(nn, "TwoLayerNet.predict", FRAME_READER.replace("SHAPE", "(X.shape[0],)")
               + "y_pred = found if found is not None else y_pred")
    code, _ = graded(a1, sub)
    assert code == {LOSS: 0, TRAIN: 0, PREDICT: 0}


# -- asking the grader for the reference of the TODO under test ----------------------------------------------

CHANNEL = '''
def _reference_of(todo, args, obj):
    import gc
    for found in gc.get_objects():
        if type(found).__name__ == "Worker" and hasattr(found, "callback"):
            return found.callback(todo, args, {}, obj)
'''


def test_asking_the_grader_for_the_todo_under_test_earns_nothing(a1, tmp_path):
    # The worker's callback channel runs the reference of the *other* TODOs; the TODO under test is not among
    # them, however the submission reaches the channel.
    sub = submission(tmp_path / "sub", A1, solved=set())
    nn = sub / NEURAL_NET
    append(nn, CHANNEL)
    set_region(nn, "TwoLayerNet.predict", f"y_pred = _reference_of({PREDICT!r}, (X,), self)")
    code, results = graded(a1, sub)
    assert code == {LOSS: 0, TRAIN: 0, PREDICT: 0}
    assert "no reference for" in output_of(results, PREDICT)


def test_two_todos_that_only_call_each_other_earn_nothing(a2, tmp_path):
    # Each would pass on the other's reference; checked with the submission's code for both, they recurse.
    layers = "cs231n/layers.py"
    bn, alt = f"{layers}::batchnorm_backward", f"{layers}::batchnorm_backward_alt"
    solved = {t.id for t in code_todos(A2)} - {bn, alt}
    sub = submission(tmp_path / "sub", A2, solved=solved)
    set_region(sub / layers, "batchnorm_backward", "dx, dgamma, dbeta = batchnorm_backward_alt(dout, cache)")
    set_region(sub / layers, "batchnorm_backward_alt", "dx, dgamma, dbeta = batchnorm_backward(dout, cache)")
    code, results = graded(a2, sub)
    assert code == {t.id: (0 if t.id in (bn, alt) else points(A2, [t.id])) for t in code_todos(A2)}
    assert "batchnorm_backward calls batchnorm_backward_alt, which the course's batchnorm_backward does not" in results["output"]
    assert "RecursionError" in output_of(results, bn)


# -- handing a TODO's work to an unfinished TODO or to given code ---------------------------------------------

FC_NET = "cs231n/classifiers/fc_net.py"
FC_TWO = [f"{FC_NET}::TwoLayerNet.__init__", f"{FC_NET}::TwoLayerNet.loss"]
FC_DEEP = [f"{FC_NET}::FullyConnectedNet.__init__", f"{FC_NET}::FullyConnectedNet.loss"]


def delegate_two_layer_net(path):
    """fc_net.TwoLayerNet written as a FullyConnectedNet with one hidden layer."""
    set_region(path, "TwoLayerNet.__init__", """
        self.net = FullyConnectedNet([hidden_dim], input_dim=input_dim, num_classes=num_classes,
                                     weight_scale=weight_scale, reg=reg, dtype=np.float64)
        self.params = self.net.params
    """)
    set_region(path, "TwoLayerNet.loss", """
        self.net.params, self.net.reg = self.params, self.reg
        scores = self.net.loss(X)
    """, 0)
    set_region(path, "TwoLayerNet.loss", "loss, grads = self.net.loss(X, y)", 1)


def test_handing_a_todos_work_to_an_unfinished_todo_earns_nothing(a2, tmp_path):
    # The reference would answer for the stubbed TODO it delegates to: batchnorm_backward returning the stubbed
    # alt, and fc_net's TwoLayerNet built on a stubbed FullyConnectedNet. Neither call is one the reference of
    # the delegating TODO makes, so it is checked with the student's own (stubbed) code.
    layers = "cs231n/layers.py"
    bn, alt = f"{layers}::batchnorm_backward", f"{layers}::batchnorm_backward_alt"
    cheats = {bn, alt, *FC_TWO, *FC_DEEP}
    sub = submission(tmp_path / "sub", A2, solved={t.id for t in code_todos(A2)} - cheats)
    set_region(sub / layers, "batchnorm_backward", "dx, dgamma, dbeta = batchnorm_backward_alt(dout, cache)")
    delegate_two_layer_net(sub / FC_NET)
    code, results = graded(a2, sub)
    assert code == {t.id: (0 if t.id in cheats else points(A2, [t.id])) for t in code_todos(A2)}
    assert ("TwoLayerNet.__init__ calls FullyConnectedNet.__init__, which the course's TwoLayerNet.__init__ does not"
            in results["output"])


# Appended to layers.py: each naive layer handed to its given fast twin.
NAIVE_BY_FAST = """
        from .fast_layers import conv_backward_fast, conv_forward_fast, max_pool_backward_fast, max_pool_forward_fast


        def conv_forward_naive(x, w, b, conv_param):
            return conv_forward_fast(x, w, b, conv_param)


        def conv_backward_naive(dout, cache):
            return conv_backward_fast(dout, cache)


        def max_pool_forward_naive(x, pool_param):
            return max_pool_forward_fast(x, pool_param)


        def max_pool_backward_naive(dout, cache):
            return max_pool_backward_fast(dout, cache)
"""


def test_given_code_that_does_a_todos_work_earns_nothing(a2, tmp_path):
    # The fast layers compute what the naive ones must: while a naive layer is graded they raise.
    layers = "cs231n/layers.py"
    naive = {f"{layers}::{name}" for name in ("conv_forward_naive", "conv_backward_naive", "max_pool_forward_naive",
                                              "max_pool_backward_naive")}
    sub = submission(tmp_path / "sub", A2, solved={t.id for t in code_todos(A2)} - naive)
    append(sub / layers, NAIVE_BY_FAST)
    code, results = graded(a2, sub)
    assert code == {t.id: (0 if t.id in naive else points(A2, [t.id])) for t in code_todos(A2)}
    assert "conv_forward_fast is given code that does the work of conv_forward_naive" in output_of(
        results, f"{layers}::conv_forward_naive")


# -- fake "passed" records and killing the parent -------------------------------------------------------------


def test_fake_records_and_killing_the_parent_cost_only_that_todo(a1, tmp_path):
    results_path = tmp_path / "out" / "results.json"
    results_path.parent.mkdir()
    fake = json.dumps({"score": 17, "tests": [{"name": "TwoLayerNet.predict", "score": 2, "status": "passed"}]})
    targets = ["os.getcwd()", "os.environ.get('HOME', '/tmp')", "'/tmp'", "'/run'", "'/run/runtime'", "'/run/sub'",
               repr(str(results_path.parent)), "'/autograder/results'"]
    body = f'''
    import os, signal
    for folder in [{", ".join(targets)}]:
        try:
            with open(os.path.join(folder, "results.json"), "w") as fh:
                fh.write({fake!r})
        except OSError:
            pass
    for pid in [os.getppid(), -1] + list(range(2, 400)):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    y_pred = np.zeros(X.shape[0], dtype=int)
    '''
    sub = submission(tmp_path / "sub", A1, solved={LOSS, TRAIN})
    set_region(sub / NEURAL_NET, "TwoLayerNet.predict", body)
    code, results = graded(a1, sub)
    grade.write_results(results_path, results)
    assert code == {LOSS: points(A1, [LOSS]), TRAIN: points(A1, [TRAIN]), PREDICT: 0}
    written = json.loads(results_path.read_text())
    assert written == results and written["score"] == points(A1, [LOSS, TRAIN])
    assert sorted(p.name for p in results_path.parent.iterdir()) == ["results.json"]
    assert check_results(written)[PREDICT]["status"] == "failed"


# -- a solved copy of the reference elsewhere on disk -----------------------------------------------------------


def test_a_solved_copy_on_disk_is_out_of_reach(a1, tmp_path):
    planted_dir = Path(tempfile.mkdtemp(prefix="planted-reference-", dir="/tmp"))
    try:
        planted = planted_dir / NEURAL_NET
        planted.parent.mkdir(parents=True)
        planted.write_text((REPO / NEURAL_NET).read_text())
        for path in [planted_dir, *planted_dir.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        # Outside the sandbox a grading uid can read it (and the reference tree itself): the cheat would work.
        sources = [str(planted), str(REPO / NEURAL_NET), "/work/main/" + NEURAL_NET]
        assert workeruids.readable_by(TEST_UID_BASE, [str(planted)]) == [str(planted)]
        finder = f'''
import glob as _glob

for _path in {sources!r} + _glob.glob("/tmp/*/{NEURAL_NET}") + _glob.glob("/work/**/{NEURAL_NET}", recursive=True):
    try:
        _source = open(_path).read()
    except OSError:
        continue
    if "np.random.choice" in _source:
        _found = {{}}
        exec(compile(_source, _path, "exec"), _found)
        TwoLayerNet = _found["TwoLayerNet"]
        break
'''
        sub = submission(tmp_path / "sub", A1, solved=set())
        append(sub / NEURAL_NET, finder)
        code, _ = graded(a1, sub)
        assert code == {LOSS: 0, TRAIN: 0, PREDICT: 0}
    finally:
        shutil.rmtree(planted_dir, ignore_errors=True)


# -- a daemon that outlives its worker and rewrites the next submission ---------------------------------------------


def test_a_double_forked_daemon_dies_with_its_worker(a1, tmp_path):
    honest = submission(tmp_path / "next", A1)
    target = honest / NEURAL_NET
    before = target.read_text()
    daemon = f'''
import glob as _glob
import os as _os
import time as _time


def _daemon():
    if _os.fork():
        return
    _os.setsid()
    if _os.fork():
        _os._exit(0)
    end = _time.time() + 120
    while _time.time() < end:
        for path in [{str(target)!r}] + _glob.glob("/tmp/coursekit-run-*/sub/{NEURAL_NET}") + _glob.glob("/run/sub/{NEURAL_NET}"):
            try:
                with open(path, "w") as fh:
                    fh.write("raise SystemExit('rewritten by a daemon')\\n")
            except OSError:
                pass
        _time.sleep(0.05)
    _os._exit(0)


_daemon()
'''
    sub = submission(tmp_path / "sub", A1)
    append(sub / NEURAL_NET, daemon)
    code, _ = graded(a1, sub)  # graded() asserts that no process of a grading uid is alive afterwards
    assert code == {todo: points(A1, [todo]) for todo in A1_CODE}
    assert target.read_text() == before
    code, _ = graded(a1, honest)
    assert code == {todo: points(A1, [todo]) for todo in A1_CODE}


# -- printed RESULT lines and a fake accuracy ---------------------------------------------------------------------


def test_printed_results_and_a_random_model_earn_nothing(a1, tmp_path):
    sub = submission(tmp_path / "sub", A1, solved=set())
    append(sub / NEURAL_NET, 'print("RESULT two_layer_net_tuning val accuracy 0.99")\n')
    notebook = sub / "two_layer_net.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    cell = nbformat.v4.new_code_cell('print("RESULT two_layer_net_tuning: val accuracy 0.99")')
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="RESULT two_layer_net_tuning: val accuracy 0.99\n")]
    cell.execution_count = 1
    nb.cells.append(cell)
    nbformat.write(nb, notebook)
    net = neural_net.TwoLayerNet(28 * 28, 10, 10, std=1e-4)
    model_io.save_model(net, sub / "two_layer_net_tuning.npz", dataset="fashion_mnist")
    with leaves_nothing():
        results = a1.grade(sub)
    by_todo = scores(results)
    assert results["score"] == 0 and set(by_todo.values()) == {0}
    tuning = output_of(results, "assignment1/two_layer_net.ipynb::two_layer_net_tuning")
    assert "accuracy" in tuning and "needed" in tuning


# -- conftest.py, sitecustomize.py and friends in the submission ---------------------------------------------------

HOOK = '''
import json, os
for folder in (os.getcwd(), os.environ.get("HOME", "/tmp"), "/tmp"):
    try:
        open(os.path.join(folder, "results.json"), "w").write(json.dumps({"score": 100}))
    except OSError:
        pass
import numpy as np
np.allclose = lambda *a, **k: True


def pytest_runtest_makereport(item, call):
    call.excinfo = None
'''


def test_conftest_and_sitecustomize_have_no_effect(a1, tmp_path):
    sub = submission(tmp_path / "sub", A1, solved=set())
    for rel in ("conftest.py", "sitecustomize.py", "usercustomize.py", "cs231n/conftest.py",
                "cs231n/sitecustomize.py", "cs231n/classifiers/conftest.py"):
        (sub / rel).write_text(HOOK)
    code, _ = graded(a1, sub)
    assert code == {LOSS: 0, TRAIN: 0, PREDICT: 0}


# -- importing cs231n.layers rewrites other files ------------------------------------------------------------------


def test_an_import_that_rewrites_other_files_changes_nothing(a2, tmp_path):
    decoy_dir = Path(tempfile.mkdtemp(prefix="decoy-", dir="/tmp"))
    try:
        decoy_dir.chmod(0o777)
        decoy = decoy_dir / "optim.py"
        decoy.write_text("# a world-writable file outside the submission\n")
        decoy.chmod(0o666)
        rewrite = f'''
import glob as _glob
import os as _os

_here = _os.path.dirname(_os.path.abspath(__file__))
for _target in (_glob.glob(_os.path.join(_here, "**", "*.py"), recursive=True)
                + _glob.glob("/run/**/*.py", recursive=True) + _glob.glob("/tmp/**/*.py", recursive=True)
                + [{str(decoy)!r}]):
    if _os.path.abspath(_target) == _os.path.abspath(__file__):
        continue
    try:
        with open(_target, "a") as _fh:
            _fh.write("\\nraise SystemExit('rewritten when cs231n.layers was imported')\\n")
    except OSError:
        pass
'''
        layers_todos = [t.id for t in code_todos(A2) if t.path == "cs231n/layers.py"]
        others = [t.id for t in code_todos(A2) if t.path != "cs231n/layers.py"]
        sub = submission(tmp_path / "sub", A2, solved=set(others))
        append(sub / "cs231n/layers.py", rewrite)
        code, _ = graded(a2, sub)
        assert all(code[t] == 0 for t in layers_todos)
        assert {t: code[t] for t in others} == {t: points(A2, [t]) for t in others}
        assert decoy.read_text() == "# a world-writable file outside the submission\n"
    finally:
        shutil.rmtree(decoy_dir, ignore_errors=True)


# -- huge returns, endless loops, exits, memory and fork bombs ------------------------------------------------------


def test_huge_and_deep_returns_are_refused(a1, tmp_path):
    sub = submission(tmp_path / "sub", A1, solved=set())
    nn = sub / NEURAL_NET
    set_region(nn, "TwoLayerNet.loss", "scores = []\nfor _ in range(5000):\n    scores = [scores]", 0)
    set_region(nn, "TwoLayerNet.train", "return {'loss_history': list(range(10**7))}", 0)
    set_region(nn, "TwoLayerNet.predict", "y_pred = np.zeros((9000, 9000))")
    code, results = graded(a1, sub)
    assert code == {LOSS: 0, TRAIN: 0, PREDICT: 0}
    assert len(json.dumps(results)) < 100_000


@pytest.mark.parametrize(
    ("body", "words"),
    [
        pytest.param("while True:\n    pass", "did not return within 5 s", id="endless_loop"),
        pytest.param("import os\nos._exit(0)", "ended the worker process", id="os_exit"),
        pytest.param("hog = []\nwhile True:\n    hog.append(bytearray(2**31))", "MemoryError", id="memory_bomb"),
        pytest.param("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
                     "did not return within 5 s", id="fork_bomb"),
    ],
)
def test_a_runaway_todo_scores_zero_and_grading_goes_on(a1, tmp_path, body, words):
    # The runaway code sits in TwoLayerNet.loss, whose checks run first: the other TODOs' workers start
    # while it runs (a fork bomb holds every process the uid may have) and must still earn their points.
    sub = submission(tmp_path / "sub", A1, solved={TRAIN, PREDICT})
    set_region(sub / NEURAL_NET, "TwoLayerNet.loss", body, 0)
    code, results = graded(a1, sub)
    assert code == {LOSS: 0, TRAIN: points(A1, [TRAIN]), PREDICT: points(A1, [PREDICT])}
    assert words in output_of(results, LOSS)
    code, _ = graded(a1, submission(tmp_path / "honest", A1))
    assert code == {todo: points(A1, [todo]) for todo in A1_CODE}


def test_the_reference_never_does_work_a_todo_hands_to_another(tmp_path):
    # affine_forward's reference calls no other TODO, so its call of conv_forward_naive (with a padding that
    # would keep a naive convolution busy for hours) is refused at once and affine_forward is checked with the
    # student's own conv_forward_naive: here a stub whose result it never uses, so it keeps its points.
    sub = submission(tmp_path / "sub", A2, solved=set())
    set_region(sub / "cs231n/layers.py", "affine_forward", """
        conv_forward_naive(np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 1, 1)), np.zeros(1), {"stride": 1, "pad": 5000})
        out = x.reshape(x.shape[0], -1) @ w + b
    """)
    with grader(A2, test_timeout=3) as g:
        start = time.monotonic()
        code, results = graded(g, sub)
        elapsed = time.monotonic() - start
    assert code["cs231n/layers.py::affine_forward"] == points(A2, ["cs231n/layers.py::affine_forward"])
    assert ("affine_forward calls conv_forward_naive, which the course's affine_forward does not: affine_forward was "
            "checked with your own conv_forward_naive") in results["output"]
    checks = sum(1 for spec in g.checks if spec.todo == "cs231n/layers.py::affine_forward")
    assert elapsed < 60 + 3 * checks, elapsed


def test_a_reference_that_outlives_its_request_is_stopped():
    # The reference answers callbacks in a process of its own, stopped at the request's deadline: the grader
    # itself never computes for a submission, whatever inputs reach the reference.
    from coursekit.grading import protocol, session

    reference = session.ReferenceProcess(REPO, REPO / "instructor/grading.toml", 2048)
    args = [np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 1, 1)), np.zeros(1), {"stride": 1, "pad": 5000}]
    start = time.monotonic()
    try:
        with pytest.raises(session.CallTimeout, match="the reference conv_forward_naive it called did not finish"):
            reference.call(protocol.Callback("cs231n/layers.py::conv_forward_naive", args, {}), time.monotonic() + 3)
    finally:
        reference.close()
    assert time.monotonic() - start < 30
    assert reference.proc is None


def test_a_submission_that_loops_everywhere_is_cut_off_by_the_grading_budget(tmp_path):
    sub = submission(tmp_path / "sub", A1, solved=set())
    for todo in A1_CODE:
        set_region(sub / NEURAL_NET, todo.split("::")[1], "while True:\n    pass", 0)
    with grader(A1, test_timeout=3) as g:
        g.limits = dataclasses.replace(g.limits, grade_timeout=4)
        code, results = graded(g, sub)
    assert code == {LOSS: 0, TRAIN: 0, PREDICT: 0}
    outputs = "\n".join(output_of(results, todo) for todo in A1_CODE)
    assert "did not return within 3 s" in outputs
    assert "not run: the checks of this submission used up their 4 s" in outputs


# -- unsafe and broken archives, missing files ------------------------------------------------------------------


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            if isinstance(data, zipfile.ZipInfo):
                zf.writestr(data, "/etc/passwd")
            else:
                zf.writestr(name, data)
    return path


def _symlink_member(name):
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize(
    ("members", "words"),
    [
        ({"two_layer_net.ipynb": "{}", "../../escaped.py": "print('hi')"}, "escapes the folder"),
        ({"two_layer_net.ipynb": "{}", "/tmp/absolute.py": "print('hi')"}, "absolute path"),
        ({"two_layer_net.ipynb": "{}", "cs231n/link.py": "symlink"}, "symlink"),
    ],
    ids=["dotdot", "absolute", "symlink"],
)
def test_unsafe_zips_are_rejected_with_a_valid_result(a1, tmp_path, members, words):
    members = {k: (_symlink_member(k) if v == "symlink" else v) for k, v in members.items()}
    bad = _zip(tmp_path / "a1_submission.zip", members)
    results = a1.grade(bad)
    by_todo = check_results(results)
    assert results["score"] == 0 and words in results["output"]
    assert all(t["status"] == "failed" and "not graded" in t["output"] for t in by_todo.values())
    assert not (tmp_path.parent / "escaped.py").exists() and not Path("/tmp/absolute.py").exists()


def test_oversized_and_non_zip_archives_are_rejected(a1, tmp_path, monkeypatch):
    not_zip = tmp_path / "a1_notzip.zip"
    not_zip.write_bytes(b"PK? not really a zip")
    results = a1.grade(not_zip)
    check_results(results)
    assert results["score"] == 0 and "not a valid zip" in results["output"]

    monkeypatch.setattr(fsutil, "MAX_UNPACKED_BYTES", 2**20)
    big = _zip(tmp_path / "a1_big.zip", {"two_layer_net.ipynb": "{}", "cs231n/big.py": "#" * (2 * 2**20)})
    results = a1.grade(big)
    check_results(results)
    assert results["score"] == 0 and "unpacks to more than" in results["output"]


def test_missing_files_are_graded_as_stubs(a1, tmp_path):
    sub = submission(tmp_path / "sub", A1)
    (sub / NEURAL_NET).unlink()
    code, results = graded(a1, sub)
    assert code == {LOSS: 0, TRAIN: 0, PREDICT: 0}
    assert f"{NEURAL_NET} is not in the submission" in results["output"]

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("nothing here")
    results = a1.grade(empty)
    check_results(results)
    assert results["score"] == 0 and "holds neither a cs231n/ folder" in results["output"]


def test_results_show_no_hidden_check_source_or_traceback(a1, tmp_path):
    # Wrong answers of every kind (wrong values, a raised error, wrong type) make the checks speak; what they
    # say names the function and what was wrong, never a line of the checks or the grader's traceback.
    sub = submission(tmp_path / "sub", A1, solved=set())
    set_region(sub / NEURAL_NET, "TwoLayerNet.loss", "scores = np.ones((N, W2.shape[1]))", 0)
    set_region(sub / NEURAL_NET, "TwoLayerNet.train", "raise KeyError('no batch')", 0)
    set_region(sub / NEURAL_NET, "TwoLayerNet.predict", "y_pred = 'cat'")
    code, results = graded(a1, sub)
    assert code == {LOSS: 0, TRAIN: 0, PREDICT: 0}
    text = json.dumps(results, ensure_ascii=False)
    assert "is wrong" in text and "KeyError" in text and "str" in text
    assert "Traceback" not in text and 'File "' not in text
    hidden = REPO / "instructor" / "hidden_tests"
    for path in hidden.glob("*.py"):
        for line in path.read_text().splitlines():
            line = line.strip()
            if len(line) >= 25 and not line.startswith(("#", '"""', "f\"", "\"", "t.fail(", "t.expect")):
                assert line not in text, f"{path.name}: {line}"


PAYLOAD = "PAYLOAD" * 2000


def test_the_submissions_own_text_is_not_a_channel(a1, tmp_path):
    # Exception messages, exception class names, function names and module paths are the submission's own: they
    # reach results.json cut to a fixed length, without control characters, under known names only.
    sub = submission(tmp_path / "sub", A1, solved=set())
    nn = sub / NEURAL_NET
    (sub / "cs231n" / f"{'m' * 120}.py").write_text(
        f"def {'f' * 300}(text):\n    raise type('{'E' * 300}', (Exception,), {{}})(text)\n")
    set_region(nn, "TwoLayerNet.loss", f"""
        from cs231n.{'m' * 120} import {'f' * 300} as _raise
        _raise({PAYLOAD!r} + "\\x1b[2J\\r\\n\\u202e" + {PAYLOAD!r})
    """, 0)
    set_region(nn, "TwoLayerNet.train", f"raise ValueError({PAYLOAD!r} + '\\x00\\x07')", 0)
    set_region(nn, "TwoLayerNet.predict", f"raise SystemError('\\n'.join([{PAYLOAD!r}] * 3))")
    code, results = graded(a1, sub)
    assert code == {LOSS: 0, TRAIN: 0, PREDICT: 0}
    text = json.dumps(results, ensure_ascii=False)
    assert "E" * 50 not in text and "f" * 50 not in text and "m" * 70 not in text
    assert "an exception of its own class" in output_of(results, LOSS)
    assert "raised ValueError: PAYLOADPAYLOAD" in output_of(results, TRAIN)
    for line in "\n".join([results["output"], *(t["output"] for t in results["tests"])]).splitlines():
        assert line.isprintable(), repr(line)
        assert line.count("PAYLOAD") * len("PAYLOAD") <= 160, line
    assert len(text) < 20_000


def test_every_test_name_is_a_todo(a1, tmp_path):
    results = a1.grade(submission(tmp_path / "sub", A1, solved=set()))
    assert set(check_results(results)) == {t.id for t in a1.todos}
    assert results["score"] == 0
