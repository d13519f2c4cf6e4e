"""save_model / load_model: a round trip gives the same scores; broken or crafted files fail with a clear
message, and reading one costs bounded memory."""

import io
import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cs231n.classifiers.cnn import ConvNet, ThreeLayerConvNet
from cs231n.classifiers.fc_net import FullyConnectedNet
from cs231n.classifiers.fc_net import TwoLayerNet as FcTwoLayerNet
from cs231n.classifiers.neural_net import TwoLayerNet
from cs231n.gradient_check import rel_error
from cs231n.model_io import ModelFileError, load_model, read_model_file, save_model

REPO = Path(__file__).resolve().parents[1]


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


# -- files made to hurt the reader: memory stays bounded, each is refused with a ModelFileError ---------------


def _npy(header_shape, descr="<f8", data=b"\0" * 16):
    """.npy bytes whose header claims `header_shape` of `descr`, followed by `data` whatever its size."""
    header = repr({"descr": descr, "fortran_order": False, "shape": tuple(header_shape)}).encode("latin1")
    header += b" " * (64 - (10 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def _crafted(path, replace, compression=zipfile.ZIP_STORED, extra=0):
    """A file saved by save_model whose members are replaced by `replace` (name -> raw .npy bytes), plus
    `extra` tiny members."""
    save_model(FullyConnectedNet([8], input_dim=12, num_classes=4), path, dataset="fashion_mnist")
    with zipfile.ZipFile(path) as zf:
        members = {info.filename: zf.read(info) for info in zf.infolist()}
    members.update({f"{name}.npy": raw for name, raw in replace.items()})
    members.update({f"param:x{i}.npy": _npy((0,), data=b"") for i in range(extra)})
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, raw in members.items():
            zf.writestr(name, raw)
    return path


def _pickled_object_array():
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array([{"W": 1}] * 4, dtype=object), allow_pickle=True)
    return buffer.getvalue()


CRAFTED = {
    # 784 x 700000 float64 is 4.4 GB; the member holds 16 bytes.
    "huge header shape": ({"param:W1": _npy((784, 700000))}, zipfile.ZIP_STORED, 0, "does not match the 16 bytes"),
    # 500 MB of zeros, deflated to half a megabyte, announced honestly.
    "zip bomb": ({"param:W1": _npy((784, 80000), data=bytes(784 * 80000 * 8))}, zipfile.ZIP_DEFLATED, 0,
                 "unpacks to .* more than"),
    "object dtype": ({"param:W1": _pickled_object_array()}, zipfile.ZIP_STORED, 0, "has dtype object"),
    "structured dtype": ({"param:W1": _npy((2,), descr=[("a", "<f8")])}, zipfile.ZIP_STORED, 0, "has dtype"),
    "negative shape": ({"param:W1": _npy((-1, -2), data=bytes(16))}, zipfile.ZIP_STORED, 0, "has the shape"),
    "many entries": ({}, zipfile.ZIP_STORED, 5000, "entries, more than"),
}

BOUNDED_READ = """
import resource, sys
limit = 512 * 2**20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from cs231n.model_io import ModelFileError, read_model_file
try:
    read_model_file(sys.argv[1])
except ModelFileError as exc:
    print("refused:", exc)
"""


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_files_are_refused_with_bounded_memory(tmp_path, name):
    replace, compression, extra, match = CRAFTED[name]
    path = _crafted(tmp_path / "m.npz", replace, compression, extra)
    with pytest.raises(ModelFileError, match=match):
        read_model_file(path)
    # Under a 512 MB address-space limit, allocating what a header claims would raise MemoryError instead.
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", BOUNDED_READ, str(path)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("refused:"), proc.stderr[-2000:]


def test_compressed_files_and_files_written_by_hand_still_load(tmp_path):
    model = FullyConnectedNet([8], input_dim=12, num_classes=4, normalization="batchnorm", dtype=np.float64)
    model.bn_params[0]["running_mean"] = np.arange(8.0)
    save_model(model, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as npz:
        entries = dict(npz)
    entries["param:W1"] = np.asfortranarray(entries["param:W1"]).astype(">f8")
    np.savez_compressed(tmp_path / "compressed.npz", **entries)
    loaded, _ = load_model(tmp_path / "compressed.npz")
    assert np.array_equal(loaded.params["W1"], model.params["W1"])
    assert np.array_equal(loaded.bn_params[0]["running_mean"], np.arange(8.0))


@pytest.mark.parametrize(
    "config, match",
    [
        ({"normalization": None, "input_dim": 5}, "input_dim in its config must be"),
        ({"normalization": None, "input_dim": [1, "8", 8]}, "input_dim in its config must be"),
        ({"normalization": None, "input_dim": [1, 8.5, 8]}, "input_dim in its config must be"),
        ({"normalization": ["batchnorm"], "input_dim": [1, 8, 8]}, "unknown normalization"),
        ({"normalization": None, "dtype": {"x": 1}, "input_dim": [1, 8, 8]}, "unknown dtype"),
        ({"normalization": None, "input_dim": [1, 8, 8], "layers": [[1, 2, 3]]}, "needs 'layers'"),
        ({"normalization": None, "input_dim": [1, 8, 8], "layers": "conv"}, "needs 'layers'"),
    ],
)
def test_config_values_of_the_wrong_type_are_refused(tmp_path, config, match):
    model = ConvNet(input_dim=(1, 8, 8), stages=((3,),), hidden_dims=(), num_classes=4)
    path = tmp_path / "m.npz"
    save_model(model, path)
    with np.load(path) as npz:
        entries = dict(npz)
    entries["config"] = np.array(json.dumps({"layers": [["conv", True], ["affine", False]], **config}))
    np.savez(path, **entries)
    with pytest.raises(ModelFileError, match=match):
        load_model(path)
