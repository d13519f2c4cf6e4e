"""Grade a notebook TODO by the model its graded cell saved (`<tag>.npz`, cs231n.model_io format).

What a notebook point certifies, each part enforced here:

1. The file is a model of the TODO's architecture: its class is one of the TODO's `classes` in grading.toml
   (a fully-connected net saved for the CNN TODO scores 0), with the TODO's number of weight layers when
   grading.toml gives one (`layers`); its constructor arguments fit the data set (image shape, number of
   classes); it has at most MAX_PARAMS parameters; it is read with bounded memory
   (model_io.read_model_file) and checked against the shapes its class makes before any model is built.
   A file that fails any of this, or raises anything while graded, costs its own TODO only.
2. Its accuracy, measured by the grader itself with the reference classes on its own copy of the data
   split (grading.toml `split`), reaches `min_accuracy`. Printed text plays no part.
3. The submission's own class computes it: in a worker where every code TODO is the submission's (no
   reference anywhere), the class is built with the model's constructor arguments, its parameters must have
   the file's names and shapes, the file's weights and running statistics are set, and its scores on
   PROBE_IMAGES fresh images (random blends of two data-set images, drawn per grading, so no table made in
   advance can answer) must pick the reference's class on at least MIN_AGREEMENT of them (a pick within
   SCORE_TOL of the reference's best score counts: float noise at near-ties). Stubbed code, a class that
   ignores the weights or a broken layer scores 0, with a message naming the class and method.
4. It was not fitted to the images it is measured on (splits val and test): per grading the grader draws a
   fresh random sample of TRAIN_SAMPLE training images and HELD_SAMPLE images of the other evaluation split
   (test for val, val for test). A model trained on the training images is not better on the split than
   on them, and the split and the held-out sample are draws from one distribution; so the split's accuracy
   may exceed neither by more than PATTERN_Z standard errors of the two sample sizes plus PATTERN_SLACK.
   Models fitted to the split (hidden units that are the validation images) are far outside; fitting the
   training images too, to hide it, needs about 784 parameters per image on Fashion-MNIST, and MAX_PARAMS
   keeps that to a few thousand of the 59,000.
   The overfitting TODOs (split train:N) are memorisation by design: they are checked by 1-3 only (their
   grading.toml `layers` pins the depth the notebook trains).

What stays unprovable: who trained the weights and with which code (a model trained elsewhere, or fitted
in closed form to the training images, that the submission's class reproduces, passes); whether the class
reached its scores through the TODO functions or through a helper holding a copy of them; and a gain on
the split smaller than the margin of rule 4 (a few points at most, e.g. some validation images memorised
by an otherwise honest model); for train:N TODOs, whether the 50 images were fitted by training at all.

The result's `info` records class, parameter count and accuracies (for a leaderboard); the name of a
result says them for the student.
"""

import importlib
import inspect
import math
import os
import sys
import traceback
from dataclasses import dataclass

import numpy as np

from ..notebooks.nbio import graded_tag
from . import hidden, session
from .results import Check

# 12 times the largest reference model (the CNN, 422,090) and about 6,400 memorised Fashion-MNIST images.
MAX_PARAMS = 5_000_000
# The grader measures a submitted model itself, so the model may not cost more than this over the images it
# is measured on: 2e12 multiply-adds (by the bound below), a minute or so of numpy on 2 cores and 25 times
# the best reference CNN on Fashion-MNIST (15 M per image by the bound) over the 5,200 images of a grading.
# A model built to keep the grader computing for hours is refused instead of measured.
MAX_MACS = 2 * 10**12
TRAIN_SAMPLE = 2000
HELD_SAMPLE = 2000
PATTERN_Z = 3.0
PATTERN_SLACK = 0.02
PROBE_IMAGES = 200
PROBE_BATCH = 100
MIN_AGREEMENT = 0.99
SCORE_TOL = 1e-4


class Rejected(Exception):
    """The model, its file or the submission's class fails what a notebook point certifies; the message
    is for the student."""


class DataCache:
    """get_data() of the reference package, once per data set and grader."""

    def __init__(self, reference_name):
        self.reference_name = reference_name
        self.loaded = {}

    def get(self, dataset):
        if dataset not in self.loaded:
            data_utils = importlib.import_module(f"{self.reference_name}.data_utils")
            self.loaded[dataset] = data_utils.get_data(dataset, dtype=np.float32)
        return self.loaded[dataset]


def _split(data, split):
    if split.startswith("train:"):
        n = int(split[6:])
        return data["X_train"][:n], data["y_train"][:n]
    return data[f"X_{split}"], data[f"y_{split}"]


def macs_per_image(params, image_shape):
    """An upper bound of the multiply-adds per image: every (F, C, HH, WW) filter at the input's full
    height and width (pooling only shrinks it), every (D, M) weight matrix once."""
    spatial = int(np.prod(image_shape[1:])) if len(image_shape) == 3 else 1
    total = 0
    for value in params.values():
        shape = np.shape(value)
        if len(shape) == 4:
            total += int(np.prod(shape)) * spatial
        elif len(shape) == 2:
            total += int(np.prod(shape))
    return total


def scores_of(model, X, batch=500):
    """model.loss(X) in test mode, in batches, as one float64 array."""
    return np.concatenate([np.asarray(model.loss(X[s : s + batch]), dtype=np.float64)
                           for s in range(0, X.shape[0], batch)]) if X.shape[0] else np.zeros((0, 0))


def accuracy(model, X, y, batch=500):
    """Share of X the model classifies as y (scores from model.loss(X) in test mode)."""
    if X.shape[0] == 0:
        return 0.0
    return float(np.mean(np.argmax(scores_of(model, X, batch), axis=1) == y))


# -- the model's architecture --------------------------------------------------------------------------------


def expected_shapes(cls_name, args, kwargs):
    """{param name: shape} the course's class `cls_name` makes for these constructor arguments, by its
    docstring's layout, computed without building anything."""
    if cls_name == "TwoLayerNet":
        D, H, C = args
        return {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}
    shapes = {}
    norm = kwargs.get("normalization") is not None
    if cls_name == "FullyConnectedNet":
        dims = [kwargs["input_dim"], *kwargs["hidden_dims"], kwargs["num_classes"]]
        layers = [(dims[i], dims[i + 1]) for i in range(len(dims) - 1)]
    elif cls_name == "ThreeLayerConvNet":
        C, H, W = kwargs["input_dim"]
        F, size = kwargs["num_filters"], kwargs["filter_size"]
        layers = [(F, C, size, size), (F * (H // 2) * (W // 2), kwargs["hidden_dim"]),
                  (kwargs["hidden_dim"], kwargs["num_classes"])]
    else:  # ConvNet: 'same' convolutions, a 2x2 pool at the end of every stage
        channels, H, W = kwargs["input_dim"]
        size, layers = kwargs["filter_size"], []
        for stage in kwargs["stages"]:
            for filters in stage:
                layers.append((filters, channels, size, size))
                channels = filters
            H, W = H // 2, W // 2
        dims = [channels * H * W, *kwargs["hidden_dims"], kwargs["num_classes"]]
        layers += [(dims[i], dims[i + 1]) for i in range(len(dims) - 1)]
    for i, shape in enumerate(layers, start=1):
        width = shape[0] if len(shape) == 4 else shape[1]
        shapes[f"W{i}"], shapes[f"b{i}"] = shape, (width,)
        if norm and i < len(layers):
            shapes[f"gamma{i}"] = shapes[f"beta{i}"] = (width,)
    return shapes


def _check_architecture(todo, info, args, kwargs, X, num_classes):
    """Refuse, before anything is built, a model whose class the TODO does not take, whose input or output
    does not fit the data set, whose parameters do not have the shapes its class makes, or that is too big.
    Returns the parameter count and `info` with every array in its documented shape."""
    name = f"{info['module']}.{info['class']}"
    if name not in todo.classes:
        allowed = " or ".join(c.rsplit(".", 1)[1] + f" ({c.rsplit('.', 1)[0]})" for c in todo.classes)
        raise Rejected(f"{todo.model} holds a {info['class']} ({info['module']}); the cell `# GRADED: {todo.name}` "
                       f"must save a {allowed}")
    layers = sum(1 for key in info["params"] if key.startswith("W") and key[1:].isdigit())
    if todo.layers and layers != todo.layers:
        raise Rejected(f"{todo.model} holds a {layers}-layer {info['class']}; the cell `# GRADED: {todo.name}` "
                       f"trains a {todo.layers}-layer one")
    image = tuple(X.shape[1:])
    if info["class"] in ("ThreeLayerConvNet", "ConvNet"):
        given = kwargs["input_dim"]
    else:
        given = args[0] if args else kwargs["input_dim"]
        image = math.prod(image)
    if given != image:
        raise Rejected(f"{todo.model} takes inputs of size {given}; the images of {info['dataset']} are {image}")
    classes = args[2] if args else kwargs["num_classes"]
    if classes != num_classes:
        raise Rejected(f"{todo.model} scores {classes} classes; {info['dataset']} has {num_classes}")
    got = {key: value.shape for key, value in info["params"].items()}
    expected = expected_shapes(info["class"], args, kwargs)
    if set(got) != set(expected) or any(_trimmed(got[k], expected[k]) is None for k in got):
        missing = sorted(set(expected) - set(got))
        extra = sorted(set(got) - set(expected))
        wrong = sorted(k for k in set(expected) & set(got) if _trimmed(got[k], expected[k]) is None)
        raise Rejected(f"{todo.model} does not fit a {info['class']}: missing {missing}, unexpected {extra}, "
                       f"wrong shapes {wrong}; save the model with save_model")
    count = sum(math.prod(shape) for shape in got.values())
    if count > MAX_PARAMS:
        raise Rejected(f"{todo.model} has {count:,} parameters, more than the {MAX_PARAMS:,} a notebook model may "
                       "have: use a smaller model")
    # The reference classes get every array in its documented shape; the submission's class the file's own.
    bn = [{key: value.reshape(_trimmed(value.shape, expected.get(f"gamma{i + 1}", ())) or value.shape)
           for key, value in stats.items()} for i, stats in enumerate(info["bn"])]
    return count, {**info, "params": {k: v.reshape(expected[k]) for k, v in info["params"].items()}, "bn": bn}


def _trimmed(shape, expected):
    """`shape` as `expected` when it differs only by leading axes of length 1 (a (1, H) bias the docstring's
    (H,) allows, as the hidden checks do); None when it does not fit."""
    extra = len(shape) - len(expected)
    if extra < 0 or any(n != 1 for n in shape[:extra]) or tuple(shape[extra:]) != tuple(expected):
        return None
    return tuple(expected)


def traced_todos(run, code_todos, reference_name):
    """(result of run(), ids of the code TODOs whose reference code it called): what a model's construction
    and forward pass need of the submission."""
    codes = {}
    for todo in code_todos:
        obj = importlib.import_module(f"{reference_name}.{todo.module.partition('.')[2]}")
        for part in todo.name.split("."):
            obj = getattr(obj, part, None)
        code = getattr(inspect.unwrap(obj), "__code__", None) if callable(obj) else None
        if code is not None:
            codes[code] = todo.id
    seen = set()

    def profile(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            seen.add(codes[frame.f_code])

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        result = run()
    finally:
        sys.setprofile(previous)
    return result, seen


def input_shape(args, kwargs):
    """The shape of one input image of the model built with these constructor arguments."""
    if "input_dim" in kwargs:
        dim = kwargs["input_dim"]
        return tuple(dim) if isinstance(dim, tuple | list) else (dim,)
    return (args[0],)


def forward_todos(path, code_todos, reference_name):
    """Ids of the code TODOs the model in file `path` runs when built and scored with the reference classes."""
    model_io = importlib.import_module(f"{reference_name}.model_io")
    info = model_io.read_model_file(path)
    args, kwargs = model_io.constructor_args(info, path)
    X = np.zeros((2, *input_shape(args, kwargs)), dtype=np.float32)

    def run():
        with hidden.reference_rng:
            model_io.build_model(info, path, package=reference_name).loss(X)

    return traced_todos(run, code_todos, reference_name)[1]


# -- the grader's measurement --------------------------------------------------------------------------------


@dataclass
class Candidate:
    """A model file that passed the grader's own checks, with what the submission's class must reproduce."""

    todo: object
    info: dict
    args: list
    kwargs: dict
    params: dict
    parameters: int
    probe: np.ndarray
    probe_scores: np.ndarray
    needs: tuple
    summary: str
    measured: dict

    @property
    def module(self):
        return self.info["module"]

    @property
    def cls(self):
        """The class as a hidden-check target: 'classifiers.cnn.ConvNet'."""
        return f"{self.module.partition('.')[2]}.{self.info['class']}"


def _pattern(model, data, split, rng, acc, n):
    """Accuracies on fresh random samples of the training images and of the other evaluation split, and the
    message of rule 4 when the split's accuracy is too far above either ('' when it is not)."""
    held_name = "test" if split == "val" else "val"
    measured, problem = {}, ""
    for what, X, y, size in (("training", data["X_train"], data["y_train"], TRAIN_SAMPLE),
                             (held_name, data[f"X_{held_name}"], data[f"y_{held_name}"], HELD_SAMPLE)):
        pick = np.sort(rng.choice(X.shape[0], size=min(size, X.shape[0]), replace=False))
        other = accuracy(model, X[pick], y[pick])
        measured[f"{what}_sample_accuracy"] = other
        margin = PATTERN_Z * math.sqrt(acc * (1 - acc) / n + other * (1 - other) / pick.size) + PATTERN_SLACK
        if acc > other + margin and not problem:
            problem = (f"that is {acc - other:.3f} above its accuracy on {pick.size} random {what} images "
                       f"({other:.3f}), more than chance explains ({margin:.3f}): the model was fitted to the "
                       f"{split} images; train it on the training images only")
    return measured, problem


def _probe(data, rng):
    """PROBE_IMAGES random blends of a training and a test image, new at every grading."""
    a = data["X_train"][rng.integers(0, data["X_train"].shape[0], PROBE_IMAGES)]
    b = data["X_test"][rng.integers(0, data["X_test"].shape[0], PROBE_IMAGES)]
    mix = rng.uniform(0.3, 0.7, size=(PROBE_IMAGES,) + (1,) * (a.ndim - 1)).astype(a.dtype)
    return mix * a + (1 - mix) * b


def _open(todo, folder, reference_name, data):
    """(file info, constructor args, kwargs, split images X, labels y) of the TODO's model file."""
    notebook = todo.path.rsplit("/", 1)[-1]
    path = folder / todo.model
    if not path.is_file():
        raise Rejected(f"{todo.model} is not in the submission: run the cell marked `# GRADED: {todo.name}` in "
                       f"{notebook} (it saves the model) and hand in with ./collectSubmission.sh")
    model_io = importlib.import_module(f"{reference_name}.model_io")
    try:
        info = model_io.read_model_file(path)
        args, kwargs = model_io.constructor_args(info, todo.model)
    except model_io.ModelFileError as exc:
        raise Rejected(str(exc).replace(str(folder) + "/", "")) from None
    dataset = info["dataset"]
    if dataset not in todo.min_accuracy:
        known = ", ".join(sorted(todo.min_accuracy))
        raise Rejected(f"{todo.model} was trained on {dataset[:80] or 'an unnamed data set'}; this TODO is graded on "
                       f"{known}: save the model with save_model(..., dataset=data['dataset'])")
    try:
        X, y = _split(data.get(dataset), todo.split)
    except (FileNotFoundError, ValueError) as exc:
        raise Rejected(f"the grader has no copy of {dataset} to measure the model on ({exc}); tell your instructor") from None
    return info, args, kwargs, X, y


def prepare(todo, folder, reference_name, data, rng, code_todos=()):
    """Everything the grader checks by itself (rules 1, 2 and 4); a Candidate, or Rejected."""
    info, args, kwargs, X, y = _open(todo, folder, reference_name, data)
    dataset, held_out = info["dataset"], not todo.split.startswith("train:")
    full = data.get(dataset)
    parameters, documented = _check_architecture(todo, info, args, kwargs, X, len(full["class_names"]))
    images = X.shape[0] + PROBE_IMAGES + (TRAIN_SAMPLE + HELD_SAMPLE if held_out else 0)
    per_image = macs_per_image(info["params"], X.shape[1:])
    if per_image * images > MAX_MACS:
        raise Rejected(f"{todo.model} needs about {per_image / 1e6:.0f} M multiply-adds per image, more than the "
                       f"grader measures on {images} images ({MAX_MACS / images / 1e6:.0f} M): use a smaller model")
    model_io = importlib.import_module(f"{reference_name}.model_io")
    probe = _probe(full, rng)

    def build_and_score():
        with hidden.reference_rng:
            model = model_io.build_model(documented, todo.model, package=reference_name)
        return model, model.loss(probe[:2])

    try:
        (model, _), needs = traced_todos(build_and_score, code_todos, reference_name)
    except model_io.ModelFileError as exc:
        raise Rejected(str(exc)) from None
    acc = accuracy(model, X, y)
    needed = todo.min_accuracy[dataset]
    where = f"the first {todo.split[6:]} training images" if not held_out else f"the {todo.split} split"
    measured = {"class": info["class"], "parameters": parameters, "accuracy": acc, "split": todo.split, "dataset": dataset}
    summary = f"{info['class']} from {todo.model} ({parameters:,} parameters): accuracy {acc:.3f} on {where} of {dataset}"
    if acc < needed:
        raise Rejected(f"{summary} (needed {needed:g})")
    if held_out:
        found, problem = _pattern(model, full, todo.split, rng, acc, X.shape[0])
        measured.update(found)
        if problem:
            raise Rejected(f"{summary}, but {problem}")
    dtype = getattr(model, "dtype", np.float64)
    return Candidate(todo, info, args, kwargs, {k: v.astype(dtype) for k, v in info["params"].items()},
                     parameters, probe, scores_of(model, probe), tuple(sorted(needs)), f"{summary} (needed {needed:g})",
                     measured)


# -- the submission's class ------------------------------------------------------------------------------------


def _forward_code(cand):
    """The TODO functions the model's forward pass runs (from the reference's trace), for a message."""
    names = [todo_id.split("::", 1)[1] for todo_id in cand.needs if not todo_id.endswith(".__init__")]
    return ", ".join(names) if names else f"{cand.info['class']}.loss"


def student_scores(new_tester, cand):
    """Scores of the submission's class on the probe images, built and loaded with the file's model in a
    worker (rule 3). `new_tester()` gives a hidden.Tester whose timeout is what remains of the budget, or
    raises Rejected. Raises Rejected naming the class and method to fix."""
    cls, file = cand.info["class"], cand.todo.model
    step = f"{cls}.__init__"
    try:
        model = new_tester().new(cand.cls, *cand.args, **cand.kwargs)
        params = new_tester().getattr(model, "params")
        if not isinstance(params, dict) or any(not isinstance(v, np.ndarray) for v in params.values()):
            raise Rejected(f"your {cls}.__init__ leaves self.params without arrays: fix {cls}.__init__")
        got = {str(k): tuple(v.shape) for k, v in params.items()}
        want = {k: tuple(v.shape) for k, v in cand.params.items()}
        if got != want:
            wrong = sorted(set(got) ^ set(want)) or sorted(k for k in want if got[k] != want[k])
            raise Rejected(f"your {cls}.__init__ makes params that differ from {file}'s in {', '.join(wrong[:6])}: "
                           f"fix {cls}.__init__ (names and shapes as its docstring says)")
        new_tester().setattr(model, "params", cand.params)
        if cand.info["bn"] and cand.info["config"].get("normalization") == "batchnorm":
            _set_running_stats(new_tester, model, cand)
        step = f"{cls}.loss"
        scores = []
        for start in range(0, PROBE_IMAGES, PROBE_BATCH):
            batch = cand.probe[start : start + PROBE_BATCH]
            out = new_tester().method(model, "loss", batch)
            classes = cand.probe_scores.shape[1]
            if not isinstance(out, np.ndarray) or out.shape != (batch.shape[0], classes) or out.dtype.kind not in "fiu":
                what = "None" if out is None else (f"shape {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__)
                raise Rejected(f"your {cls}.loss(X) without labels returned {what}, not scores of shape "
                               f"(N, {classes}): check the code its forward pass runs ({_forward_code(cand)})")
            scores.append(out.astype(np.float64))
    except session.WorkerError as exc:
        what = str(exc) or "did not return in time (an endless loop?)"
        fix = f"check the code its forward pass runs ({_forward_code(cand)})" if step.endswith(".loss") else f"fix {step}"
        raise Rejected(f"your {step}, run on {file}, {what}: {fix}") from None
    return np.concatenate(scores)


def _set_running_stats(new_tester, model, cand):
    """The file's running means and variances into the student's model.bn_params (the dicts it made)."""
    cls = cand.info["class"]
    bn_params = new_tester().getattr(model, "bn_params")
    if not isinstance(bn_params, list) or len(bn_params) < len(cand.info["bn"]) or \
            not all(isinstance(bn, dict) for bn in bn_params):
        raise Rejected(f"your {cls}.__init__ makes no bn_params dict per batchnorm layer: fix {cls}.__init__")
    dtype = next(iter(cand.params.values())).dtype
    for bn, stats in zip(bn_params, cand.info["bn"]):
        bn.update({key: np.asarray(value, dtype=dtype) for key, value in stats.items()})
    new_tester().setattr(model, "bn_params", bn_params)


def disagreements(reference_scores, scores):
    """Images where the submission's pick is not a best class of the reference's scores (up to SCORE_TOL)."""
    picked = reference_scores[np.arange(scores.shape[0]), np.argmax(scores, axis=1)]
    best = reference_scores.max(axis=1)
    tol = SCORE_TOL * np.maximum(1.0, np.abs(reference_scores).max(axis=1))
    return int(np.sum(~np.isfinite(scores).all(axis=1) | (picked < best - tol)))


# -- one notebook TODO -------------------------------------------------------------------------------------------


def grade_model(todo, folder, reference_name, data, student, rng=None, code_todos=()):
    """[Check] of notebook TODO `todo` for the submission folder `folder`.

    `student(candidate)` returns the submission's scores on candidate.probe (see student_scores) or raises
    Rejected; `rng` draws the samples of rules 3 and 4 (fresh from os.urandom unless given)."""
    rng = rng if rng is not None else np.random.default_rng(int.from_bytes(os.urandom(16), "little"))
    try:
        cand = prepare(todo, folder, reference_name, data, rng, code_todos)
        scores = student(cand)
    except Rejected as exc:
        return [Check(f"{todo.name} model", False, str(exc))]
    bad = disagreements(cand.probe_scores, scores)
    info = {**cand.measured, "agreement": 1 - bad / PROBE_IMAGES}
    if bad > (1 - MIN_AGREEMENT) * PROBE_IMAGES:
        cls = cand.info["class"]
        return [Check(f"{todo.name} model", False,
                      f"{cand.summary}, but your {cls}, run with the weights of {todo.model}, picks another class "
                      f"than the course's {cls} on {bad} of {PROBE_IMAGES} images (at most "
                      f"{1 - MIN_AGREEMENT:.0%} may differ): check the code its forward pass runs "
                      f"({_forward_code(cand)})", info=info)]
    return [Check(f"{todo.name}: {cand.summary}", True, info=info)]


def grade_models(todos, folder, reference_name, data, tester_for, code_todos):
    """{todo id: [Check]} of the notebook TODOs `todos`; `tester_for(module)` gives a hidden.Tester on a worker
    that runs the submission's classes of `module` (or raises Rejected). Anything a file makes go wrong,
    however unexpected, costs its own TODO only."""
    by_todo = {}
    for todo in todos:
        student = lambda cand: student_scores(lambda: tester_for(cand.module), cand)
        try:
            by_todo[todo.id] = grade_model(todo, folder, reference_name, data, student, code_todos=code_todos)
        except Exception as exc:  # noqa: BLE001 - one file must not cost the rest of the grade
            print(f"coursekit grade: {todo.model} broke the grader:\n{traceback.format_exc()}", file=sys.stderr)
            by_todo[todo.id] = [Check(f"{todo.name} model", False, f"{todo.model} could not be graded "
                                       f"({type(exc).__name__}): save it again with save_model, or tell your instructor")]
    return by_todo


def find_graded_cell(notebook_path, tag):
    """A note on the graded cell in the submitted notebook: found by its tag, run or not."""
    import nbformat

    try:
        nb = nbformat.read(str(notebook_path), as_version=4)
    except Exception:  # noqa: BLE001 - any unreadable notebook gets the same note
        return f"{notebook_path.name} could not be read"
    for cell in nb.cells:
        if cell.cell_type == "code" and graded_tag(cell.source) == tag:
            ran = cell.get("execution_count") is not None
            errors = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
            state = "ran with an error" if errors else ("ran" if ran else "was not run")
            return f"the cell `# GRADED: {tag}` in {notebook_path.name} {state}"
    return f"no cell `# GRADED: {tag}` in {notebook_path.name} (the model file is what counts)"
