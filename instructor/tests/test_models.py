"""Notebook TODOs: what a point certifies (coursekit/grading/models.py), attack by attack.

The grader-side rules are tested on grade_model with a stand-in for the submission's class; the worker
side (the submission's own class reproduces the model) through the real grader on submissions of the real
course. Every model is made here: trained in closed form on the training images (an honest model), fitted in
closed form to the validation images (the attack), or crafted byte by byte.
"""

import importlib
import io
import json
import os
import struct
import subprocess
import sys
import zipfile

import nbformat
import numpy as np
import pytest
from coursekit.config import ConfigError, Todo, load
from coursekit.grading import models, session
from coursekit.grading.models import DataCache, find_graded_cell, grade_model
from grading_support import A1, A2, REPO, code_todos, graded, grader, points, reference, scores, submission

from cs231n.classifiers import cnn, fc_net, neural_net
from cs231n.data_utils import get_data
from cs231n.model_io import save_model

TUNING = "assignment1/two_layer_net.ipynb::two_layer_net_tuning"
TWO_LAYER = "cs231n.classifiers.neural_net.TwoLayerNet"
CNN_CLASSES = ("cs231n.classifiers.cnn.ConvNet", "cs231n.classifiers.cnn.ThreeLayerConvNet")
FCN = "cs231n.classifiers.fc_net.FullyConnectedNet"


def _todo(threshold, split="val", dataset="fashion_mnist", classes=(TWO_LAYER,), tag="two_layer_net_tuning"):
    return Todo(id=f"assignment1/two_layer_net.ipynb::{tag}", assignment="assignment1", points=5, model=f"{tag}.npz",
                split=split, min_accuracy={dataset: threshold}, classes=tuple(classes))


def _rng(seed=0):
    return np.random.default_rng(seed)


def correct_class(cand):
    """The submission's scores when its class is right: the course's class built and loaded in this process."""
    module = importlib.import_module(cand.module)
    model = getattr(module, cand.info["class"])(*cand.args, **cand.kwargs)
    model.params = {key: value.copy() for key, value in cand.params.items()}
    for bn, stats in zip(getattr(model, "bn_params", []), cand.info["bn"]):
        bn.update(stats)
    return models.scores_of(model, cand.probe)


def not_called(cand):
    raise AssertionError("the submission's class was asked to score a model the grader refuses by itself")


def _grade(todo, folder, data, student=correct_class, seed=0):
    (result,) = grade_model(todo, folder, reference().load_package(), data, student, rng=_rng(seed),
                            code_todos=code_todos(todo.assignment))
    return result


@pytest.fixture(scope="module")
def fashion():
    return get_data("fashion_mnist", dtype=np.float32)


@pytest.fixture(scope="module")
def data():
    return DataCache(reference().load_package())


def _two_layer(cls, W1, b1, W2, b2):
    net = cls(W1.shape[0], W1.shape[1], W2.shape[1])
    net.params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    return net


@pytest.fixture(scope="module")
def honest(fashion):
    """Weights of a two-layer net trained on the training images only, in closed form (ridge regression on
    1500 random ReLU features): 0.87 on the validation split, a little more on training images."""
    rng = _rng(0)
    X = fashion["X_train"].reshape(fashion["X_train"].shape[0], -1)
    W1 = (rng.standard_normal((X.shape[1], 1500)) / (np.sqrt(X.shape[1]) * X.std())).astype(np.float32)
    b1 = (0.5 * rng.standard_normal(1500)).astype(np.float32)
    F = np.maximum(0, X @ W1 + b1)
    W2 = np.linalg.solve(F.T @ F + 10 * np.eye(1500, dtype=np.float32), F.T @ np.eye(10, dtype=np.float32)[fashion["y_train"]])
    return [w.astype(np.float64) for w in (W1, b1, W2, np.zeros(10, dtype=np.float32))]


def fitted_to(X, y):
    """The attack: a two-layer net whose hidden units are the images X and whose output layer solves for
    their labels exactly (100 % on X, near chance elsewhere)."""
    X = X.reshape(X.shape[0], -1).astype(np.float64)
    W1 = (X / np.linalg.norm(X, axis=1, keepdims=True)).T
    W2 = np.linalg.lstsq(np.maximum(0, X @ W1), np.eye(10)[y], rcond=None)[0]
    return [W1, np.zeros(W1.shape[1]), W2, np.zeros(10)]


@pytest.fixture(scope="module")
def val_fitted(fashion):
    return fitted_to(fashion["X_val"], fashion["y_val"])


def _save(model, folder, tag="two_layer_net_tuning"):
    folder.mkdir(parents=True, exist_ok=True)
    save_model(model, folder / f"{tag}.npz", dataset="fashion_mnist")
    return folder


# -- what the grader measures itself ---------------------------------------------------------------------------


def test_accuracy_is_measured_by_the_grader(honest, data, tmp_path):
    folder = _save(_two_layer(neural_net.TwoLayerNet, *honest), tmp_path)
    ok = _grade(_todo(0.80), folder, data)
    assert ok.passed, ok.message
    measured = float(ok.name.split("accuracy ")[1].split()[0])
    assert 0.86 <= measured < 0.90 and "val split of fashion_mnist" in ok.name
    assert ok.info["parameters"] == 784 * 1500 + 1500 + 1500 * 10 + 10 and "1,192,510 parameters" in ok.name
    assert ok.info["agreement"] == 1.0 and ok.info["training_sample_accuracy"] > 0.85
    low = _grade(_todo(0.99), folder, data, not_called)
    assert not low.passed and "needed 0.99" in low.message


def test_a_missing_model_names_the_graded_cell(tmp_path, data):
    result = _grade(_todo(0.5), tmp_path, data, not_called)
    assert not result.passed
    assert "# GRADED: two_layer_net_tuning" in result.message and "two_layer_net.ipynb" in result.message


def test_models_of_another_dataset_or_in_a_broken_file_earn_nothing(honest, tmp_path, data):
    folder = _save(_two_layer(neural_net.TwoLayerNet, *honest), tmp_path / "sub")
    other = _grade(_todo(0.5, dataset="cifar10"), folder, data, not_called)
    assert not other.passed and "trained on fashion_mnist" in other.message
    (tmp_path / "two_layer_net_tuning.npz").write_bytes(b"RESULT two-layer accuracy: 0.99\n")
    broken = _grade(_todo(0.0), tmp_path, data, not_called)
    assert not broken.passed and "not an .npz" in broken.message


def test_a_model_of_another_class_earns_nothing(honest, tmp_path, data):
    # A fully-connected net saved for the CNN TODO, however accurate.
    net = fc_net.FullyConnectedNet([1500], input_dim=784, num_classes=10, dtype=np.float64)
    net.params = dict(zip(("W1", "b1", "W2", "b2"), honest))
    folder = _save(net, tmp_path, "cnn_best_model")
    result = _grade(_todo(0.5, classes=CNN_CLASSES, tag="cnn_best_model"), folder, data, not_called)
    assert not result.passed
    assert "holds a FullyConnectedNet" in result.message and "must save a ConvNet" in result.message
    assert "ThreeLayerConvNet" in result.message
    # The other TwoLayerNet (fc_net's) is another class too.
    folder = _save(_two_layer(fc_net.TwoLayerNet, *honest), tmp_path / "fc")
    assert not _grade(_todo(0.5), folder, data, not_called).passed


def test_biases_with_a_leading_axis_of_length_1_are_the_documented_shape(honest, tmp_path, data):
    net = fc_net.FullyConnectedNet([1500], input_dim=784, num_classes=10, normalization="layernorm", dtype=np.float64)
    W1, b1, W2, b2 = honest
    net.params = {"W1": W1, "b1": b1[None], "W2": W2, "b2": b2[None], "gamma1": np.ones((1, 1500)),
                  "beta1": np.zeros((1, 1500))}
    result = _grade(_todo(0.5, classes=(FCN,), tag="fc_best_model"), _save(net, tmp_path, "fc_best_model"), data)
    assert result.passed, result.message


def test_inputs_classes_and_size_must_fit_the_data_set(tmp_path, data):
    small = _save(neural_net.TwoLayerNet(100, 5, 10), tmp_path / "input")
    result = _grade(_todo(0.0), small, data, not_called)
    assert "takes inputs of size 100; the images of fashion_mnist are 784" in result.message
    seven = _save(neural_net.TwoLayerNet(784, 5, 7), tmp_path / "classes")
    assert "scores 7 classes; fashion_mnist has 10" in _grade(_todo(0.0), seven, data, not_called).message
    # 784 x 6400 weights: more than MAX_PARAMS (5 M), about 6,400 memorised images.
    big = _save(neural_net.TwoLayerNet(784, 6400, 10), tmp_path / "big")
    result = _grade(_todo(0.0), big, data, not_called)
    assert not result.passed and "5,088,010 parameters, more than the 5,000,000" in result.message
    # Few parameters, many multiply-adds: 512-filter convolutions at full resolution.
    costly = cnn.ConvNet(input_dim=(1, 28, 28), stages=((512,), (512,), (512,)), hidden_dims=(), num_classes=10)
    folder = _save(costly, tmp_path / "costly", "cnn_best_model")
    result = _grade(_todo(0.0, classes=CNN_CLASSES, tag="cnn_best_model"), folder, data, not_called)
    assert not result.passed and "multiply-adds per image" in result.message


# -- rule 4: not fitted to the images it is measured on ------------------------------------------------------------


def test_a_model_fitted_to_the_validation_images_earns_nothing_even_with_correct_code(val_fitted, tmp_path, data):
    folder = _save(_two_layer(neural_net.TwoLayerNet, *val_fitted), tmp_path)
    for seed in range(3):
        result = _grade(_todo(0.86), folder, data, seed=seed)
        assert not result.passed and "accuracy 1.000 on the val split" in result.message
        assert "the model was fitted to the val images" in result.message
        assert "random training images" in result.message


def test_honest_models_pass_rule_4_whatever_the_draw(honest, tmp_path, data):
    """The margin holds for a model trained on the training images, over many fresh draws; the honest
    model's own numbers say how far from the edge it is."""
    folder = _save(_two_layer(neural_net.TwoLayerNet, *honest), tmp_path)
    worst = 0.0
    for seed in range(8):
        result = _grade(_todo(0.5), folder, data, seed=seed)
        assert result.passed, result.message
        acc = result.info["accuracy"]
        for key in ("training_sample_accuracy", "test_sample_accuracy"):
            other = result.info[key]
            margin = models.PATTERN_Z * np.sqrt(acc * (1 - acc) / 1000 + other * (1 - other) / 2000) + models.PATTERN_SLACK
            worst = max(worst, (acc - other) / margin)
    assert worst < 0.8


def test_overfitting_todos_are_memorisation_by_design(fashion, tmp_path, data):
    """split train:N: the first N training images are what the model must fit; rule 4 does not apply, rules
    1-3 do (class, depth, size, the submission's own class reproducing it). Even a closed-form fit passes
    (an identity layer makes the two-layer fit three layers deep): that the 50 images were fitted by training
    is not provable."""
    W1, b1, W2, b2 = fitted_to(fashion["X_train"][:50], fashion["y_train"][:50])
    todo = Todo(id="assignment2/FullyConnectedNets.ipynb::fc_overfit_three_layer", assignment="assignment2", points=1,
                model="fc_overfit_three_layer.npz", split="train:50", min_accuracy={"fashion_mnist": 1.0},
                classes=(FCN,), layers=3)
    net = fc_net.FullyConnectedNet([50], input_dim=784, num_classes=10, dtype=np.float64)
    net.params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    shallow = _grade(todo, _save(net, tmp_path / "two", "fc_overfit_three_layer"), data, not_called)
    assert not shallow.passed and "holds a 2-layer FullyConnectedNet" in shallow.message
    net = fc_net.FullyConnectedNet([50, 50], input_dim=784, num_classes=10, dtype=np.float64)
    net.params = {"W1": W1, "b1": b1, "W2": np.eye(50), "b2": np.zeros(50), "W3": W2, "b3": b2}
    result = _grade(todo, _save(net, tmp_path / "three", "fc_overfit_three_layer"), data)
    assert result.passed and "the first 50 training images" in result.name
    assert "training_sample_accuracy" not in result.info


# -- rule 3: the submission's class must reproduce the model ----------------------------------------------------


def test_the_submissions_scores_must_pick_the_reference_class(honest, tmp_path, data):
    folder = _save(_two_layer(neural_net.TwoLayerNet, *honest), tmp_path)

    def off_by(share):
        def student(cand):
            scores = correct_class(cand)
            flip = np.arange(scores.shape[0]) < share * scores.shape[0]
            scores[flip] = -scores[flip]
            return scores
        return student

    result = _grade(_todo(0.5), folder, data, off_by(0.05))
    assert not result.passed and "picks another class than the course's TwoLayerNet on 10 of 200 images" in result.message
    assert "TwoLayerNet.loss" in result.message
    assert _grade(_todo(0.5), folder, data, off_by(0.005)).passed  # 1 of 200: float noise at a near-tie

    def float_noise(cand):
        scores = correct_class(cand)
        return scores * (1 + 1e-7 * _rng(1).standard_normal(scores.shape))

    assert _grade(_todo(0.5), folder, data, float_noise).passed
    assert models.disagreements(np.array([[1.0, 1.0 - 1e-6, 0.0]]), np.array([[0.0, 1.0, 0.0]])) == 0
    assert models.disagreements(np.array([[1.0, 0.9, 0.0]]), np.array([[0.0, 1.0, 0.0]])) == 1
    assert models.disagreements(np.array([[1.0, 0.9, 0.0]]), np.array([[np.nan, 0.0, 0.0]])) == 1


class FakeTester:
    """What student_scores sees of a worker: a class whose __init__ makes `params` and whose loss does `loss`."""

    def __init__(self, params, loss):
        self.params, self.loss = params, loss

    def new(self, cls, *args, **kwargs):
        return "model"

    def getattr(self, obj, name):
        return self.params

    def setattr(self, obj, name, value):
        pass

    def method(self, obj, name, X):
        return self.loss(X)


def test_the_submissions_class_is_told_what_to_fix(honest, tmp_path, data):
    folder = _save(_two_layer(neural_net.TwoLayerNet, *honest), tmp_path)
    shapes = dict(zip(("W1", "b1", "W2", "b2"), (np.zeros(w.shape) for w in honest)))

    def grade_with(params, loss):
        return _grade(_todo(0.5), folder, data, lambda cand: models.student_scores(lambda: FakeTester(params, loss), cand))

    result = grade_with({}, None)
    assert "your TwoLayerNet.__init__ makes params that differ" in result.message and "fix TwoLayerNet.__init__" in result.message
    result = grade_with(shapes, lambda X: None)
    assert "your TwoLayerNet.loss(X) without labels returned None" in result.message
    assert "check the code its forward pass runs (TwoLayerNet.loss)" in result.message

    def raises(exc):
        def loss(X):
            raise exc
        return loss

    result = grade_with(shapes, raises(session.StudentError("ValueError", "shapes do not align", "neural_net.py:80")))
    assert "your TwoLayerNet.loss, run on two_layer_net_tuning.npz, raised ValueError: shapes do not align" in result.message
    result = grade_with(shapes, raises(session.CallTimeout()))
    assert "did not return in time" in result.message
    ignores_weights = grade_with(shapes, lambda X: np.zeros((X.shape[0], 10)))
    assert not ignores_weights.passed and "picks another class than the course's TwoLayerNet" in ignores_weights.message


@pytest.mark.parametrize("normalization, layer", [(None, None), ("batchnorm", "batchnorm_forward"),
                                                  ("layernorm", "layernorm_forward")])
def test_the_code_a_model_runs_is_traced_in_the_reference(tmp_path, normalization, layer):
    net = fc_net.FullyConnectedNet([8, 6], input_dim=784, num_classes=10, normalization=normalization)
    _save(net, tmp_path, "fc_best_model")
    found = models.forward_todos(tmp_path / "fc_best_model.npz", code_todos(A2), reference().load_package())
    expected = {"FullyConnectedNet.__init__", "FullyConnectedNet.loss", "affine_forward", "relu_forward"}
    assert {t.split("::")[1] for t in found} == expected | ({layer} if layer else set())
    _save(neural_net.TwoLayerNet(784, 5, 10), tmp_path, "two_layer_net_tuning")
    found = models.forward_todos(tmp_path / "two_layer_net_tuning.npz", code_todos(A1), reference().load_package())
    assert found == {"cs231n/classifiers/neural_net.py::TwoLayerNet.loss"}


# -- files made to hurt the grader -------------------------------------------------------------------------------


def _npy(header_shape, data=b"\0" * 16):
    header = repr({"descr": "<f8", "fortran_order": False, "shape": tuple(header_shape)}).encode("latin1")
    header += b" " * (64 - (10 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def _pickled_object_array():
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array([{"W": 1}] * 4, dtype=object), allow_pickle=True)
    return buffer.getvalue()


def _edited(model, path, config=None, replace=None, compression=zipfile.ZIP_STORED):
    """`model` saved to `path` by save_model, then its config entries changed and members replaced."""
    save_model(model, path, dataset="fashion_mnist")
    with np.load(path) as npz:
        entries = dict(npz)
    entries["config"] = np.array(json.dumps({**json.loads(str(entries["config"])), **(config or {})}))
    np.savez(path.with_suffix(""), **entries)
    if replace:
        with zipfile.ZipFile(path) as zf:
            members = {info.filename: zf.read(info) for info in zf.infolist()}
        members.update({f"{name}.npy": raw for name, raw in replace.items()})
        with zipfile.ZipFile(path, "w", compression=compression) as zf:
            for name, raw in members.items():
                zf.writestr(name, raw)
    return path


def _small_fcn():
    return fc_net.FullyConnectedNet([20], input_dim=784, num_classes=10)


def _huge_input_dim():
    # Built from its config, the affine layer after the pool would be (1 * 15000 * 15000) x 10: 18 GB.
    return cnn.ConvNet(input_dim=(1, 28, 28), stages=((1,),), hidden_dims=(), num_classes=10)


CRAFTED = {
    "fc_overfit_three_layer": ("zip bomb", lambda p: _edited(
        _small_fcn(), p, replace={"param:W1": _npy((784, 80000), bytes(784 * 80000 * 8))},
        compression=zipfile.ZIP_DEFLATED), "unpacks to"),
    "fc_overfit_five_layer": ("object dtype", lambda p: _edited(
        _small_fcn(), p, replace={"param:W1": _pickled_object_array()}), "dtype object"),
    "fc_best_model": ("huge header shape", lambda p: _edited(
        _small_fcn(), p, replace={"param:W1": _npy((784, 700000))}), "does not match the 16 bytes"),
    "cnn_best_model": ("huge input_dim", lambda p: _edited(
        _huge_input_dim(), p, config={"input_dim": [1, 30000, 30000]}), "takes inputs of size (1, 30000, 30000)"),
}

BOUNDED_PREPARE = """
import json, resource, sys
from pathlib import Path
import numpy as np
from coursekit.grading import models
from coursekit.grading import session
from coursekit.config import ConfigError, Todo, load
limit = 3 * 2**30
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
data = models.DataCache("cs231n")
out = {}
for tag in sys.argv[2:]:
    todo = Todo(id=f"x.ipynb::{tag}", assignment="a", points=1, model=f"{tag}.npz", split="val",
                min_accuracy={"fashion_mnist": 0.0}, classes=tuple(json.loads(sys.argv[1])))
    try:
        models.prepare(todo, Path.cwd(), "cs231n", data, np.random.default_rng(0))
        out[tag] = "accepted"
    except models.Rejected as exc:
        out[tag] = str(exc)
print(json.dumps(out))
"""


def test_crafted_files_are_refused_with_bounded_grader_memory(tmp_path):
    """The grader's side of each crafted file, under a 3 GB address-space limit (the dataset it loads is
    0.4 GB): a file that made it allocate what a header or a config claims would raise MemoryError."""
    for tag, (_, write, _) in CRAFTED.items():
        write(tmp_path / f"{tag}.npz")
    _edited(cnn.ThreeLayerConvNet(input_dim=(1, 28, 28), num_filters=2, filter_size=3, hidden_dim=5), tmp_path / "config.npz",
            config={"input_dim": 5})
    classes = [FCN, *CNN_CLASSES]
    env = {**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'instructor'}", "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", BOUNDED_PREPARE, json.dumps(classes), *CRAFTED, "config"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    refused = json.loads(proc.stdout)
    for tag, (_, _, message) in CRAFTED.items():
        assert message in refused[tag], (tag, refused[tag])
    assert "input_dim in its config must be [C, H, W]" in refused["config"]


# -- through the real grader: the submission's own class in a worker -----------------------------------------------


@pytest.fixture(scope="module")
def a1():
    with grader(A1) as g:
        yield g


def _a1(tmp_path, name, weights, solved):
    sub = submission(tmp_path / name, A1, solved=solved)
    for stale in sub.glob("*.npz"):
        stale.unlink()
    _save(_two_layer(neural_net.TwoLayerNet, *weights), sub)
    return sub


def test_stubbed_code_earns_no_notebook_point_whatever_the_model(a1, honest, val_fitted, tmp_path):
    for name, weights in (("fitted", val_fitted), ("honest", honest)):
        sub = _a1(tmp_path, name, weights, solved=set())
        _, results = graded(a1, sub)
        assert results["score"] == 0, results["output"]
    tuning = next(t for t in results["tests"] if t["name"].startswith("two_layer_net_tuning"))["output"]
    assert "your TwoLayerNet.loss(X) without labels returned None" in tuning


def test_correct_code_and_an_honest_model_earn_every_point(a1, honest, tmp_path):
    _, results = graded(a1, _a1(tmp_path, "sub", honest, solved=None))
    assert results["score"] == points(A1, [t.id for t in reference().config.todos_for(A1)]), results["output"]


def test_a_validation_fitted_model_earns_nothing_with_correct_code(a1, val_fitted, tmp_path):
    _, results = graded(a1, _a1(tmp_path, "sub", val_fitted, solved=None))
    assert scores(results)[TUNING] == 0
    assert results["score"] == points(A1, [t.id for t in code_todos(A1)])


def test_a_class_that_does_not_import_earns_no_notebook_point(a1, honest, tmp_path):
    sub = _a1(tmp_path, "sub", honest, solved=None)
    net = sub / "cs231n/classifiers/neural_net.py"
    net.write_text("def broken(:\n" + net.read_text())
    _, results = graded(a1, sub)
    assert results["score"] == 0
    tuning = next(t for t in results["tests"] if t["name"].startswith("two_layer_net_tuning"))["output"]
    assert "neural_net.py does not import: SyntaxError" in tuning


def test_each_crafted_file_costs_only_its_own_todo(honest, tmp_path):
    code = {t.id for t in code_todos(A2)}
    sub = submission(tmp_path / "sub", A2, solved=code)
    for stale in sub.glob("*.npz"):
        stale.unlink()
    _save(_two_layer(fc_net.TwoLayerNet, *honest), sub, "fc_solver")
    for tag, (_, write, _) in CRAFTED.items():
        write(sub / f"{tag}.npz")
    with grader(A2) as g:
        _, results = graded(g, sub)
    by_todo = scores(results)
    assert results["score"] == points(A2, code) + 2, results["output"]
    assert by_todo["assignment2/FullyConnectedNets.ipynb::fc_solver"] == 2
    outputs = {t["name"].split(" (")[0]: t["output"] for t in results["tests"]}
    for tag, (_, _, message) in CRAFTED.items():
        assert message in outputs[tag], outputs[tag]
    assert "grader error" not in results["output"]


@pytest.mark.parametrize("entry, match", [
    ('id = "a1/nb.ipynb::tag"\nmin_accuracy = { fashion_mnist = 0.5 }', "needs classes"),
    ('id = "a1/nb.ipynb::tag"\nmin_accuracy = { fashion_mnist = 0.5 }\nclasses = ["TwoLayerNet"]', "needs classes"),
    ('id = "a1/nb.ipynb::tag"\nmin_accuracy = { fashion_mnist = 0.5 }\nclasses = ["m.C"]\nlayers = "3"', "layers must"),
    ('id = "pkg/m.py::f"\nclasses = ["m.C"]', "are for notebook TODOs"),
])
def test_notebook_todo_entries_name_their_classes(tmp_path, entry, match):
    path = tmp_path / "grading.toml"
    path.write_text(f'[assignments.a1]\nnotebooks = ["nb.ipynb"]\n\n[[todo]]\nassignment = "a1"\npoints = 1\n{entry}\n')
    with pytest.raises(ConfigError, match=match):
        load(path)


def test_graded_cells_are_found_by_their_tag_wherever_they_are(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Tune"),
                nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("# GRADED: two_layer_net_tuning\nbest_net = None", execution_count=7)]
    path = tmp_path / "two_layer_net.ipynb"
    nbformat.write(nb, path)
    assert find_graded_cell(path, "two_layer_net_tuning") == "the cell `# GRADED: two_layer_net_tuning` in two_layer_net.ipynb ran"
    nb.cells = nb.cells[:2]
    nbformat.write(nb, path)
    assert "no cell `# GRADED: two_layer_net_tuning`" in find_graded_cell(path, "two_layer_net_tuning")
