"""save_model / load_model: a round trip gives the same scores; broken files fail with a clear message."""

import json

import numpy as np
import pytest

from cs231n.classifiers.cnn import ConvNet, ThreeLayerConvNet
from cs231n.classifiers.fc_net import FullyConnectedNet
from cs231n.classifiers.fc_net import TwoLayerNet as FcTwoLayerNet
from cs231n.classifiers.neural_net import TwoLayerNet
from cs231n.gradient_check import rel_error
from cs231n.model_io import ModelFileError, load_model, read_model_file, save_model


def _models():
    np.random.seed(0)
    yield TwoLayerNet(12, 7, 4, std=0.1), np.random.randn(5, 12)
    yield FcTwoLayerNet(input_dim=12, hidden_dim=6, num_classes=4, weight_scale=0.1), np.random.randn(5, 12)
    for norm in (None, "batchnorm", "layernorm"):
        yield FullyConnectedNet([8, 6], input_dim=12, num_classes=4, normalization=norm, weight_scale=0.1,
                                dtype=np.float64), np.random.randn(5, 12)
    yield ThreeLayerConvNet(input_dim=(1, 8, 8), num_filters=3, filter_size=3, hidden_dim=5, num_classes=4,
                            dtype=np.float64, weight_scale=0.1), np.random.randn(5, 1, 8, 8)
    yield ConvNet(input_dim=(1, 8, 8), stages=((3, 4), (5,)), hidden_dims=(6,), num_classes=4,
                  normalization="batchnorm", dtype=np.float64), np.random.randn(5, 1, 8, 8)


def _scores(model, X):
    return model.loss(X, reg=0.0) if isinstance(model, TwoLayerNet) else model.loss(X)


@pytest.mark.parametrize("index", range(7))
def test_round_trip_gives_the_same_scores(tmp_path, index):
    model, X = list(_models())[index]
    for i, bn in enumerate(getattr(model, "bn_params", [])):
        width = model.params[f"gamma{i + 1}"].shape
        bn["running_mean"] = np.random.randn(*width)
        bn["running_var"] = np.random.rand(*width) + 0.5
    path = tmp_path / "model.npz"
    save_model(model, path, dataset="fashion_mnist")
    loaded, dataset = load_model(path)
    assert dataset == "fashion_mnist"
    assert type(loaded) is type(model)
    assert sorted(loaded.params) == sorted(model.params)
    assert rel_error(_scores(loaded, X), _scores(model, X)) < 1e-12


def test_files_hold_no_pickle(tmp_path):
    model, _ = next(_models())
    save_model(model, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as npz:
        assert all(npz[key].dtype != object for key in npz.files)


def test_shapes_that_do_not_fit_the_network_are_refused(tmp_path):
    model = FullyConnectedNet([8], input_dim=12, num_classes=4, normalization="batchnorm")
    path = tmp_path / "m.npz"
    save_model(model, path)
    with np.load(path) as npz:
        entries = dict(npz)
    del entries["param:gamma1"]
    np.savez(path, **entries)
    with pytest.raises(ModelFileError, match="missing \\['gamma1'\\]"):
        load_model(path)


@pytest.mark.parametrize(
    "problem, match",
    [
        ("empty", "not an .npz"),
        ("pickle", "not an .npz"),
        ("format", "unknown format"),
        ("config", "broken 'config'"),
        ("class", "does not know"),
    ],
)
def test_broken_files_name_the_problem(tmp_path, problem, match):
    path = tmp_path / "m.npz"
    model = FullyConnectedNet([8], input_dim=12, num_classes=4)
    save_model(model, path)
    with np.load(path) as npz:
        entries = dict(npz)
    if problem == "empty":
        path.write_bytes(b"")
    elif problem == "pickle":
        np.save(path.with_suffix(""), np.array([{"a": 1}], dtype=object), allow_pickle=True)
        path.with_suffix(".npy").replace(path)
    else:
        if problem == "format":
            entries["format"] = np.array(99)
        elif problem == "config":
            entries["config"] = np.array("{not json")
        else:
            entries["class"] = np.array("Sneaky")
        np.savez(path, **entries)
    with pytest.raises(ModelFileError, match=match):
        load_model(path)


def test_unknown_model_is_refused_when_saving(tmp_path):
    class Custom:
        params = {"W1": np.ones(2)}

    with pytest.raises(ValueError, match="save_model supports"):
        save_model(Custom(), tmp_path / "m.npz")


def test_read_model_file_reports_its_layout(tmp_path):
    model = FullyConnectedNet([8], input_dim=12, num_classes=4, normalization="layernorm")
    save_model(model, tmp_path / "m.npz", dataset="cifar10")
    info = read_model_file(tmp_path / "m.npz")
    assert info["class"] == "FullyConnectedNet" and info["dataset"] == "cifar10"
    assert info["config"]["normalization"] == "layernorm"
    assert json.dumps(info["config"])
