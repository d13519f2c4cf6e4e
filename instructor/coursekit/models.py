"""Grade a notebook TODO by the model its graded cell saved: rebuilt and measured by the grader itself.

The submission's `<tag>.npz` (cs231n.model_io format) is read without pickle by the reference package's
model_io, the network is rebuilt with the reference classes and its accuracy is measured on the grader's
own copy of the data set the model was trained on. What the notebook printed plays no part; the worker
never sees this data.
"""

import importlib
from dataclasses import dataclass

import numpy as np

from .notebooks import graded_tag


@dataclass
class Result:
    name: str
    passed: bool
    message: str = ""
    # What the grader measured (the leaderboard's source: results.py): accuracy, parameters (the model's
    # parameter count), dataset, split.
    measured: dict | None = None


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


# The grader measures a submitted model itself, so the model may not cost more than this over the images it
# is measured on: 2e12 multiply-adds (by the bound below), a minute or so of numpy on 2 cores and 130 times
# the best reference CNN on Fashion-MNIST's validation split (15 M per image by the bound, 1,000 images). A
# model built to keep the grader computing for hours is refused instead of measured.
MAX_MACS = 2 * 10**12


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


def accuracy(model, X, y, batch=500):
    """Share of X the model classifies as y (scores from model.loss(X) in test mode)."""
    correct = 0
    for start in range(0, X.shape[0], batch):
        scores = model.loss(X[start : start + batch])
        correct += int(np.sum(np.argmax(scores, axis=1) == y[start : start + batch]))
    return correct / max(X.shape[0], 1)


def grade_model(todo, folder, reference_name, data):
    """[Result] of notebook TODO `todo` for the submission folder `folder`."""
    notebook = todo.path.rsplit("/", 1)[-1]
    tag = todo.name
    path = folder / todo.model
    if not path.is_file():
        return [Result(f"{tag} model", False,
                       f"{todo.model} is not in the submission: run the cell marked `# GRADED: {tag}` in {notebook} "
                       "(it saves the model) and hand in with ./collectSubmission.sh")]
    model_io = importlib.import_module(f"{reference_name}.model_io")
    try:
        info = model_io.read_model_file(path)
        model = model_io.build_model(info, todo.model, package=reference_name)
    except (model_io.ModelFileError, ValueError) as exc:
        return [Result(f"{tag} model", False, str(exc).replace(str(folder) + "/", ""))]
    dataset = info["dataset"]
    if dataset not in todo.min_accuracy:
        known = ", ".join(sorted(todo.min_accuracy))
        return [Result(f"{tag} model", False,
                       f"{todo.model} was trained on {dataset or 'an unnamed data set'}; this TODO is graded on {known}: "
                       "save the model with save_model(..., dataset=data['dataset'])")]
    try:
        X, y = _split(data.get(dataset), todo.split)
    except (FileNotFoundError, ValueError) as exc:
        return [Result(f"{tag} model", False, f"the grader has no copy of {dataset} to measure the model on ({exc}); "
                                              "tell your instructor")]
    if X.shape[1:] != tuple(getattr(model, "input_dim", X.shape[1:])) and info["class"] in ("ThreeLayerConvNet", "ConvNet"):
        return [Result(f"{tag} model", False, f"{todo.model} expects images of shape {model.input_dim}, {dataset} has {X.shape[1:]}")]
    per_image = macs_per_image(getattr(model, "params", {}), X.shape[1:])
    if per_image * X.shape[0] > MAX_MACS:
        return [Result(f"{tag} model", False, f"{todo.model} needs about {per_image / 1e6:.0f} M multiply-adds per image, "
                                              f"more than the grader measures on {X.shape[0]} images "
                                              f"({MAX_MACS / X.shape[0] / 1e6:.0f} M): use a smaller model")]
    try:
        acc = accuracy(model, X, y)
    except ValueError as exc:
        return [Result(f"{tag} model", False, f"{todo.model} does not fit {dataset}: {exc}")]
    needed = todo.min_accuracy[dataset]
    where = f"the first {todo.split[6:]} training images" if todo.split.startswith("train:") else f"the {todo.split} split"
    message = f"{info['class']} from {todo.model}: accuracy {acc:.3f} on {where} of {dataset} (needed {needed:g})"
    measured = {"accuracy": acc, "parameters": int(sum(np.size(v) for v in getattr(model, "params", {}).values())),
                "dataset": dataset, "split": todo.split}
    return [Result(f"{tag} model accuracy", acc >= needed, message, measured)]


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
