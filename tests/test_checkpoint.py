"""Tests for cs231n.checkpoint: the state it writes, the state it restores, and the errors it raises."""

import numpy as np
import pytest

from cs231n import checkpoint, optim
from cs231n.solver import Solver


class _BatchnormLike:
    """Linear scores plus one batchnorm-like layer whose running mean moves with each training batch."""

    def __init__(self, layers=1, seed=0):
        rng = np.random.RandomState(seed)
        self.params = {"W": 0.01 * rng.randn(4, 3), "b": np.zeros(3)}
        self.bn_params = [{"mode": "train", "running_mean": np.zeros(4)} for _ in range(layers)]

    def loss(self, X, y=None):
        scores = X @ self.params["W"] + self.params["b"]
        if y is None:
            return scores
        for bn in self.bn_params:
            bn["running_mean"] = 0.9 * bn["running_mean"] + 0.1 * X.mean(axis=0)
        shifted = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        N = X.shape[0]
        dscores = probs.copy()
        dscores[np.arange(N), y] -= 1
        return -np.log(probs[np.arange(N), y]).mean(), {"W": X.T @ dscores / N, "b": dscores.sum(axis=0) / N}


def _data(seed=1):
    rng = np.random.RandomState(seed)
    y = rng.randint(3, size=50)
    X = 2 * np.eye(3, 4)[y] + rng.randn(50, 4)
    return {"X_train": X[:40], "y_train": y[:40], "X_val": X[40:], "y_val": y[40:]}


def _trained(model=None, **kwargs):
    np.random.seed(0)
    opts = {"update_rule": "adam", "optim_config": {"learning_rate": 1e-2}, "batch_size": 10, "num_epochs": 2,
            "verbose": False}
    solver = Solver(model or _BatchnormLike(), _data(), **{**opts, **kwargs})
    solver.train()
    return solver


def test_state_arrays_are_plain_and_complete():
    solver = _trained()
    arrays = checkpoint.state_arrays(solver)
    assert all(isinstance(v, np.ndarray) and v.dtype != object for v in arrays.values())
    assert int(arrays["version"]) == checkpoint.VERSION
    assert int(arrays["epoch"]) == 2 and int(arrays["iteration"]) == 8
    assert np.array_equal(arrays["params/W"], solver.model.params["W"])
    assert np.array_equal(arrays["best_params/b"], solver.best_params["b"])
    assert np.array_equal(arrays["bn_params/0/running_mean"], solver.model.bn_params[0]["running_mean"])
    assert "best_bn_params/0/running_mean" in arrays
    assert int(arrays["optim/W/t"]) == 8 and arrays["optim/W/v"].shape == (4, 3)
    assert str(arrays["hyper/update_rule"]) == "adam" and "hyper/num_val_samples" not in arrays
    assert len(arrays["loss_history"]) == 8


def test_non_numeric_optimizer_state_is_refused():
    solver = _trained()
    solver.optim_configs["W"]["note"] = "text"
    with pytest.raises(ValueError, match=r"optim_configs\['W'\]\['note'\] is a str"):
        checkpoint.state_arrays(solver)


def test_load_restores_state_model_and_rng(tmp_path):
    solver = _trained()
    path = str(tmp_path / "ck.npz")
    checkpoint.save(solver, path)
    expected_draw = np.random.rand(3)

    model = _BatchnormLike(seed=5)
    other = Solver(model, _data(), update_rule="sgd", batch_size=20, num_epochs=7, verbose=False)
    np.random.seed(99)
    checkpoint.load(other, path)
    assert np.array_equal(np.random.rand(3), expected_draw)
    assert other.update_rule is optim.adam and other.batch_size == 10 and other.num_epochs == 2
    assert other.epoch == 2 and other.iteration == 8 and other.loss_history == solver.loss_history
    for name, value in solver.model.params.items():
        assert np.array_equal(model.params[name], value)
    assert np.array_equal(model.bn_params[0]["running_mean"], solver.model.bn_params[0]["running_mean"])
    assert other.optim_configs["W"]["t"] == 8 and isinstance(other.optim_configs["W"]["t"], int)


def test_running_stats_are_copies():
    model = _BatchnormLike(layers=2)
    stats = checkpoint.running_stats(model)
    stats[0]["running_mean"][0] = 7.0
    assert len(stats) == 2 and model.bn_params[0]["running_mean"][0] == 0.0
    assert "mode" not in stats[0]


def test_missing_entry_and_wrong_version_name_the_file(tmp_path):
    solver = _trained()
    arrays = checkpoint.state_arrays(solver)
    np.savez(tmp_path / "partial.npz", **{k: v for k, v in arrays.items() if k != "hyper/batch_size"})
    with pytest.raises(ValueError, match=r"partial\.npz lacks entry 'hyper/batch_size'"):
        checkpoint.load(solver, str(tmp_path / "partial.npz"))
    np.savez(tmp_path / "future.npz", **{**arrays, "version": np.array(checkpoint.VERSION + 1)})
    with pytest.raises(ValueError, match=r"future\.npz is not a Solver checkpoint of version"):
        checkpoint.load(solver, str(tmp_path / "future.npz"))


def test_more_normalization_layers_than_the_model_is_refused(tmp_path):
    path = str(tmp_path / "two.npz")
    checkpoint.save(_trained(model=_BatchnormLike(layers=2)), path)
    one = Solver(_BatchnormLike(layers=1), _data(), verbose=False)
    with pytest.raises(ValueError, match="running statistics for layer 1 but the model has 1 normalization"):
        checkpoint.load(one, path)


def test_custom_update_rule_must_be_passed_again(tmp_path):
    def my_sgd(w, dw, config=None):
        return optim.sgd(w, dw, config)

    path = str(tmp_path / "custom.npz")
    checkpoint.save(_trained(update_rule=my_sgd, optim_config={"learning_rate": 1e-2}), path)
    with pytest.raises(ValueError, match=r"update rule 'my_sgd', which is not in cs231n\.optim"):
        Solver(_BatchnormLike(), _data(), resume=path, verbose=False)
    resumed = Solver(_BatchnormLike(), _data(), resume=path, update_rule=my_sgd, verbose=False)
    assert resumed.update_rule is my_sgd and resumed.iteration == 8
