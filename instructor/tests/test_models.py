"""Notebook TODOs are scored by the grader's own measurement of the saved model, never by printed text."""

import nbformat
import numpy as np
import pytest
from coursekit.config import Todo
from coursekit.models import DataCache, find_graded_cell, grade_model
from coursekit.reference import Reference

from cs231n.classifiers.neural_net import TwoLayerNet
from cs231n.data_utils import get_data
from cs231n.model_io import save_model

REPO_REF = Reference()


def _todo(threshold, split="val", dataset="fashion_mnist"):
    return Todo(id="assignment1/two_layer_net.ipynb::two_layer_net_tuning", assignment="assignment1", points=5,
                model="two_layer_net_tuning.npz", split=split, min_accuracy={dataset: threshold})


@pytest.fixture(scope="module")
def data():
    return DataCache(REPO_REF.load_package())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A two-layer net trained for a few seconds on Fashion-MNIST, saved as a notebook would."""
    d = get_data("fashion_mnist", num_training=5000, num_validation=0, num_test=0)
    np.random.seed(0)
    net = TwoLayerNet(784, 50, 10, std=1e-3)
    net.train(d["X_train"], d["y_train"], d["X_train"][:500], d["y_train"][:500], learning_rate=1e-3,
              learning_rate_decay=0.95, reg=0.01, num_iters=400, batch_size=200, verbose=False)
    folder = tmp_path_factory.mktemp("sub")
    save_model(net, folder / "two_layer_net_tuning.npz", dataset="fashion_mnist")
    return folder


def test_accuracy_is_measured_by_the_grader(trained, data):
    (ok,) = grade_model(_todo(0.70), trained, REPO_REF.load_package(), data)
    assert ok.passed, ok.message
    measured = float(ok.message.split("accuracy ")[1].split()[0])
    assert 0.70 <= measured < 0.95
    assert "val split of fashion_mnist" in ok.message
    (low,) = grade_model(_todo(0.99), trained, REPO_REF.load_package(), data)
    assert not low.passed and "needed 0.99" in low.message


def test_a_missing_model_names_the_graded_cell(tmp_path, data):
    (result,) = grade_model(_todo(0.5), tmp_path, REPO_REF.load_package(), data)
    assert not result.passed
    assert "# GRADED: two_layer_net_tuning" in result.message and "two_layer_net.ipynb" in result.message


def test_models_of_another_dataset_or_in_a_broken_file_earn_nothing(trained, tmp_path, data):
    (other,) = grade_model(_todo(0.5, dataset="cifar10"), trained, REPO_REF.load_package(), data)
    assert not other.passed and "trained on fashion_mnist" in other.message
    (tmp_path / "two_layer_net_tuning.npz").write_bytes(b"RESULT two-layer accuracy: 0.99\n")
    (broken,) = grade_model(_todo(0.0), tmp_path, REPO_REF.load_package(), data)
    assert not broken.passed and "not an .npz" in broken.message
    np.save(tmp_path / "pickled.npy", np.array([{"W1": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "pickled.npy").rename(tmp_path / "two_layer_net_tuning.npz")
    (pickled,) = grade_model(_todo(0.0), tmp_path, REPO_REF.load_package(), data)
    assert not pickled.passed


def test_a_model_too_costly_to_measure_is_refused(tmp_path, data):
    # 784 -> 60000 -> 10 by the bound: 47 M multiply-adds per image, over 2e12 on the 50,000 training images.
    net = TwoLayerNet(784, 60000, 10, std=1e-3)
    save_model(net, tmp_path / "two_layer_net_tuning.npz", dataset="fashion_mnist")
    (big,) = grade_model(_todo(0.0, split="train:50000"), tmp_path, REPO_REF.load_package(), data)
    assert not big.passed and "use a smaller model" in big.message
    (small_split,) = grade_model(_todo(0.0, split="train:50"), tmp_path, REPO_REF.load_package(), data)
    assert small_split.passed, small_split.message


def test_the_training_split_prefix_is_what_overfitting_cells_are_measured_on(trained, data):
    (result,) = grade_model(_todo(0.5, split="train:50"), trained, REPO_REF.load_package(), data)
    assert "the first 50 training images" in result.message


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
