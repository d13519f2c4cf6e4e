"""Tests for cs231n.solver: training loop, options, validation, checkpoints, resume and divergence."""

import glob
import os

import numpy as np
import pytest

from cs231n import optim
from cs231n.checks import TodoError
from cs231n.gradient_check import rel_error
from cs231n.solver import Solver, TrainingDivergedError


class _CenteredSoftmax:
    """Softmax regression on batch-centred inputs, with a running mean like batchnorm's."""

    def __init__(self, D=4, C=3, seed=0):
        rng = np.random.RandomState(seed)
        self.params = {"W": 0.01 * rng.randn(D, C), "b": np.zeros(C)}
        self.bn_params = [{"mode": "train", "running_mean": np.zeros(D)}]
        self.nan_after = None
        self.calls = 0

    def loss(self, X, y=None):
        X = X.reshape(X.shape[0], -1)
        bn = self.bn_params[0]
        if y is None:
            return (X - bn["running_mean"]) @ self.params["W"] + self.params["b"]
        mean = X.mean(axis=0)
        bn["running_mean"] = 0.9 * bn["running_mean"] + 0.1 * mean
        Xc = X - mean
        scores = Xc @ self.params["W"] + self.params["b"]
        shifted = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        N = X.shape[0]
        loss = -np.log(probs[np.arange(N), y]).mean()
        self.calls += 1
        if self.nan_after is not None and self.calls > self.nan_after:
            loss = np.nan
        dscores = probs.copy()
        dscores[np.arange(N), y] -= 1
        dscores /= N
        return loss, {"W": Xc.T @ dscores, "b": dscores.sum(axis=0)}


def _blobs(n_train=60, n_val=30, D=4, C=3, seed=1):
    rng = np.random.RandomState(seed)
    centres = 3 * rng.randn(C, D)
    y = rng.randint(C, size=n_train + n_val)
    X = centres[y] + rng.randn(n_train + n_val, D)
    return {
        "X_train": X[:n_train], "y_train": y[:n_train],
        "X_val": X[n_train:], "y_val": y[n_train:],
        "X_test": X[:5], "class_names": ["a", "b", "c"],
    }


def _solver(model=None, data=None, **kwargs):
    opts = {"update_rule": "adam", "optim_config": {"learning_rate": 5e-2}, "batch_size": 10,
            "num_epochs": 4, "verbose": False, "num_train_samples": 20}
    opts.update(kwargs)
    return Solver(model or _CenteredSoftmax(), data or _blobs(), **opts)


def test_trains_and_records_histories():
    np.random.seed(0)
    solver = _solver()
    solver.train()
    # 60 examples / batch 10 = 6 iterations per epoch; accuracy at epoch 0 and after each epoch.
    assert len(solver.loss_history) == 24
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 5
    assert solver.epoch == 4 and solver.iteration == 24
    assert solver.loss_history[-1] < solver.loss_history[0]
    assert solver.best_val_acc == max(solver.val_acc_history) > 0.9
    for name, value in solver.best_params.items():
        assert np.array_equal(solver.model.params[name], value)


def test_lr_decays_once_per_epoch():
    np.random.seed(0)
    solver = _solver(update_rule="sgd", optim_config={"learning_rate": 1e-2}, lr_decay=0.5, num_epochs=3)
    solver.train()
    for config in solver.optim_configs.values():
        assert rel_error(config["learning_rate"], 1e-2 * 0.5**3) < 1e-12


def _rate_recorder(seen):
    """An sgd update rule that appends the learning rate of each call to seen."""

    def recording_sgd(w, dw, config=None):
        seen.append(config["learning_rate"])
        return optim.sgd(w, dw, config)

    return recording_sgd


def test_linear_schedule_falls_to_zero_over_the_run():
    seen = []
    np.random.seed(0)
    solver = _solver(update_rule=_rate_recorder(seen), optim_config={"learning_rate": 0.06},
                     lr_schedule="linear", num_epochs=2)
    solver.train()
    # 2 epochs of 6 iterations, two parameters per iteration: step t runs at 0.06 * (1 - t / 12).
    expected = np.repeat(0.06 * (1 - np.arange(12) / 12), 2)
    assert rel_error(np.array(seen), expected) < 1e-12
    assert solver.best_val_acc > 0.9


def test_step_schedule_keeps_the_rate_within_an_epoch():
    seen = []
    np.random.seed(0)
    _solver(update_rule=_rate_recorder(seen), optim_config={"learning_rate": 0.06}, lr_decay=0.5,
            num_epochs=2).train()
    assert rel_error(np.array(seen), np.repeat([0.06, 0.03], 12)) < 1e-12


@pytest.mark.parametrize("kwargs, match", [
    ({"lr_schedule": "cosine"}, 'Invalid lr_schedule "cosine"'),
    ({"lr_schedule": "linear", "lr_decay": 0.9}, "leave lr_decay at 1.0"),
    ({"lr_schedule": "linear", "optim_config": {}}, r"optim_config\['learning_rate'\], which is missing"),
])
def test_bad_schedule_options_say_what_to_change(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _solver(**kwargs)


def test_sgd_default_update_matches_hand_written_step():
    np.random.seed(0)
    model = _CenteredSoftmax()
    data = _blobs()
    W0 = model.params["W"].copy()
    solver = Solver(model, data, optim_config={"learning_rate": 0.1}, batch_size=10, verbose=False)
    np.random.seed(3)
    solver._step()
    np.random.seed(3)
    mask = np.random.choice(60, 10)
    _, grads = _CenteredSoftmax().loss(data["X_train"][mask], data["y_train"][mask])
    assert rel_error(model.params["W"], W0 - 0.1 * grads["W"]) < 1e-12


def test_callable_update_rule_and_augment_are_used():
    calls = {"rule": 0, "augment": []}

    def half_sgd(w, dw, config=None):
        calls["rule"] += 1
        return optim.sgd(w, 0.5 * dw, config)

    def augment(X_batch):
        calls["augment"].append(X_batch.shape)
        return X_batch + 0.0

    np.random.seed(0)
    solver = _solver(update_rule=half_sgd, augment=augment, num_epochs=1)
    solver.train()
    assert calls["rule"] == 6 * 2  # two parameters per step
    assert calls["augment"] == [(10, 4)] * 6


def test_check_accuracy_in_uneven_batches():
    np.random.seed(0)
    solver = _solver()
    data = _blobs()
    expected = np.mean(np.argmax(solver.model.loss(data["X_val"]), axis=1) == data["y_val"])
    assert solver.check_accuracy(data["X_val"], data["y_val"], batch_size=7) == pytest.approx(expected)


def test_verbose_prints_course_lines_and_progress_bar_runs(capsys):
    np.random.seed(0)
    solver = _solver(num_epochs=1, verbose=True, print_every=2)
    solver.train()
    out = capsys.readouterr().out
    assert "(Iteration 1 / 6) loss: " in out
    assert "(Epoch 0 / 1) train acc: " in out and "; val_acc: " in out


def test_progress_false_with_verbose_still_prints(capsys):
    np.random.seed(0)
    _solver(num_epochs=1, verbose=True, progress=False).train()
    captured = capsys.readouterr()
    assert "(Iteration 1 / 6)" in captured.out
    assert "training" not in captured.err


def test_unknown_kwarg_names_it_and_lists_valid_ones():
    with pytest.raises(ValueError, match=r"learning_rate.*valid ones are.*update_rule.*batch_size"):
        _solver(learning_rate=1e-3)


def test_unknown_update_rule_lists_valid_ones():
    with pytest.raises(ValueError, match=r"nesterov.*adam.*rmsprop.*sgd.*sgd_momentum"):
        _solver(update_rule="nesterov")


@pytest.mark.parametrize("missing", ["X_train", "y_train", "X_val", "y_val"])
def test_missing_data_key(missing):
    data = _blobs()
    del data[missing]
    with pytest.raises(ValueError, match=missing):
        _solver(data=data)


def test_mismatched_lengths_and_float_labels():
    data = _blobs()
    data["y_val"] = data["y_val"][:-1]
    with pytest.raises(ValueError, match=r"X_val has shape \(30, 4\) but y_val has shape \(29,\)"):
        _solver(data=data)
    data = _blobs()
    data["y_train"] = data["y_train"].astype(np.float64)
    with pytest.raises(ValueError, match="y_train must hold integer"):
        _solver(data=data)


def test_divergence_raises_and_keeps_best_params():
    np.random.seed(0)
    model = _CenteredSoftmax()
    model.nan_after = 9  # the 10th minibatch loss is NaN, in epoch 1
    solver = _solver(model=model)
    with pytest.raises(TrainingDivergedError, match=r"nan at epoch 1, iteration 10.*learning rate") as info:
        solver.train()
    assert isinstance(info.value, FloatingPointError)
    assert solver.best_params
    for name, value in solver.best_params.items():
        assert np.array_equal(model.params[name], value)
        assert np.all(np.isfinite(model.params[name]))


def test_checkpoint_files_hold_plain_arrays(tmp_path):
    np.random.seed(0)
    solver = _solver(checkpoint_name=str(tmp_path / "run"), num_epochs=2)
    solver.train()
    files = sorted(os.path.basename(p) for p in glob.glob(str(tmp_path / "*")))
    assert files == ["run_epoch_1.npz", "run_epoch_2.npz"]
    with np.load(tmp_path / "run_epoch_2.npz", allow_pickle=False) as f:
        assert int(f["epoch"]) == 2 and int(f["iteration"]) == 12
        assert f["optim/W/m"].shape == (4, 3) and int(f["optim/W/t"]) == 12
        assert f["bn_params/0/running_mean"].shape == (4,)
        assert str(f["hyper/update_rule"]) == "adam"
        assert all(f[key].dtype != object for key in f.files)


@pytest.mark.parametrize("via", ["resume_kwarg", "load_checkpoint"])
def test_resumed_run_matches_uninterrupted_run(tmp_path, via):
    np.random.seed(0)
    full = _solver(checkpoint_name=str(tmp_path / "run"), lr_decay=0.9, num_val_samples=20)
    full.train()

    # A fresh model with other weights, and a disturbed global RNG: the checkpoint must restore both.
    np.random.seed(123)
    model = _CenteredSoftmax(seed=7)
    if via == "resume_kwarg":
        resumed = Solver(model, _blobs(), resume=str(tmp_path / "run_epoch_2.npz"), verbose=False)
    else:
        resumed = _solver(model=model, update_rule="sgd", batch_size=30)
        resumed.load_checkpoint(str(tmp_path / "run_epoch_2.npz"))
    assert resumed.epoch == 2 and resumed.batch_size == 10 and resumed.update_rule is optim.adam
    resumed.train()

    for name, value in full.model.params.items():
        assert np.array_equal(model.params[name], value)
    assert np.array_equal(model.bn_params[0]["running_mean"], full.model.bn_params[0]["running_mean"])
    assert resumed.loss_history == full.loss_history
    assert resumed.val_acc_history == full.val_acc_history
    assert resumed.best_val_acc == full.best_val_acc


def test_resumed_linear_run_matches_uninterrupted_run(tmp_path):
    np.random.seed(0)
    full = _solver(checkpoint_name=str(tmp_path / "run"), lr_schedule="linear", num_val_samples=20)
    full.train()

    np.random.seed(123)
    model = _CenteredSoftmax(seed=7)
    resumed = Solver(model, _blobs(), resume=str(tmp_path / "run_epoch_1.npz"), verbose=False)
    assert resumed.lr_schedule == "linear" and resumed.base_learning_rate == 5e-2
    resumed.train()
    for name, value in full.model.params.items():
        assert np.array_equal(model.params[name], value)
    assert resumed.loss_history == full.loss_history


def test_checkpoint_from_before_schedules_resumes_as_step(tmp_path):
    np.random.seed(0)
    _solver(checkpoint_name=str(tmp_path / "run"), num_epochs=1).train()
    with np.load(tmp_path / "run_epoch_1.npz", allow_pickle=False) as f:
        old = {key: f[key] for key in f.files if key not in ("hyper/lr_schedule", "hyper/base_learning_rate")}
    np.savez(tmp_path / "old.npz", **old)
    resumed = Solver(_CenteredSoftmax(), _blobs(), resume=str(tmp_path / "old.npz"), num_epochs=2,
                     verbose=False)
    assert resumed.lr_schedule == "step" and resumed.base_learning_rate is None
    resumed.train()
    assert resumed.epoch == 2


def test_explicit_kwargs_override_checkpoint(tmp_path):
    np.random.seed(0)
    _solver(checkpoint_name=str(tmp_path / "run"), num_epochs=1).train()
    resumed = Solver(_CenteredSoftmax(), _blobs(), resume=str(tmp_path / "run_epoch_1.npz"),
                     num_epochs=3, verbose=False)
    assert resumed.num_epochs == 3 and resumed.batch_size == 10
    resumed.train()
    assert resumed.epoch == 3 and len(resumed.loss_history) == 18


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    solver = _solver()

    def broken_savez(f, **arrays):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        solver.save_checkpoint(str(tmp_path / "ck.npz"))
    assert os.listdir(tmp_path) == []


def test_missing_checkpoint_names_file(tmp_path):
    path = str(tmp_path / "nope.npz")
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        _solver(resume=path)


def test_corrupt_and_truncated_checkpoints_name_file(tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="garbage.npz"):
        _solver(resume=str(garbage))

    solver = _solver()
    solver.save_checkpoint(str(tmp_path / "good.npz"))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes((tmp_path / "good.npz").read_bytes()[:300])
    with pytest.raises(ValueError, match="truncated.npz"):
        _solver(resume=str(truncated))

    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(3))
    with pytest.raises(ValueError, match="other.npz is not a Solver checkpoint"):
        _solver(resume=str(other))


def test_checkpoint_for_another_architecture(tmp_path):
    _solver().save_checkpoint(str(tmp_path / "ck.npz"))
    with pytest.raises(ValueError, match="build the same model"):
        _solver(model=_CenteredSoftmax(D=4, C=5), resume=str(tmp_path / "ck.npz"))


def test_progress_bar_reads_the_last_epoch_after_training(capsys):
    np.random.seed(0)
    _solver(num_epochs=2, verbose=True, progress=True, print_every=100).train()
    err = capsys.readouterr().err
    final = err.replace("\r", "\n").strip().splitlines()[-1]
    assert "12/12" in final and "epoch=2/2" in final


class _Stub:
    """A model whose loss returns whatever the test sets, as an unfinished TODO would."""

    def __init__(self, train_out=None, test_out=None):
        self.params = {"W": np.zeros((4, 3)), "b": np.zeros(3)}
        self.train_out, self.test_out = train_out, test_out

    def loss(self, X, y=None):
        return self.test_out if y is None else self.train_out


GRADS = {"W": np.zeros((4, 3)), "b": np.zeros(3)}


@pytest.mark.parametrize("out, message", [
    (None, r"^_Stub\.loss returned None instead of \(loss, grads\): implement _Stub\.loss in test_solver\.py$"),
    ((None, GRADS), r"^_Stub\.loss returned a loss of None instead of a scalar: implement _Stub\.loss in "),
    ((np.ones(3), GRADS), r"^_Stub\.loss returned a loss of shape \(3,\) instead of a scalar: fix _Stub\.loss in "),
    ((0.0, {}), r"^_Stub\.loss returned grads without 'W', 'b' \(one per key of params\): fix _Stub\.loss in "),
    ((0.0, [1]), r"returned grads of type list instead of a dict: fix _Stub\.loss"),
    ((0.0, {"W": np.zeros(3), "b": np.zeros(3)}), r"returned grads\['W'\] of shape \(3,\) for a parameter of shape \(4, 3\)"),
])
def test_wrong_training_loss_output_names_the_method(out, message):
    np.random.seed(0)
    solver = _solver(model=_Stub(train_out=out))
    with pytest.raises(TodoError, match=message) as info:
        solver.train()
    assert "\n" not in str(info.value)


def test_gradients_with_extra_leading_axes_of_length_1_train_their_parameters():
    # A (1, D) gradient for a (D,) parameter is the documented shape (the layers may return (1, D) dgamma).
    grads = {"W": np.ones((1, 4, 3)), "b": np.ones((1, 3))}
    solver = _solver(model=_Stub(train_out=(0.5, grads), test_out=np.zeros((10, 3))),
                     update_rule="sgd", optim_config={"learning_rate": 0.1}, num_epochs=1)
    solver._step()
    assert solver.model.params["W"].shape == (4, 3) and solver.model.params["b"].shape == (3,)
    assert np.allclose(solver.model.params["b"], -0.1)


@pytest.mark.parametrize("scores, what", [
    (None, "None"), (np.zeros(10), r"shape \(10,\)"), (np.zeros((3, 3)), r"shape \(3, 3\)"),
])
def test_wrong_test_scores_name_the_method_not_an_axis_error(scores, what):
    solver = _solver(model=_Stub(train_out=(0.0, GRADS), test_out=scores))
    data = _blobs()
    with pytest.raises(TodoError, match=rf"_Stub\.loss \(test mode, y=None\) returned {what} for 10 inputs "
                                        r"instead of scores of shape \(10, C\)"):
        solver.check_accuracy(data["X_val"][:10], data["y_val"][:10])


def test_model_without_params_names_its_init():
    model = _Stub()
    model.params = {}
    with pytest.raises(TodoError, match=r"_Stub\.params is empty: implement _Stub\.__init__ in test_solver\.py"):
        _solver(model=model)

