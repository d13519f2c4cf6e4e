"""Correct code written differently from the reference must earn full points (issue 10, honest variants).

Each variant is a full assignment-2 submission graded by the real Grader as root in the namespaces mode:
running statistics and dgamma/dbeta of shape (1, D); conv_backward_naive summing in another order; a
helper the student added to layer_utils.py and used from fc_net.py; a layers.py in the course's own layout,
without the kit's private helpers; and a cnn.py that does not import, which costs only cnn.py's TODOs. An
assignment-1 submission whose graded notebook cell was deleted and re-created elsewhere (a new cell id) scores
full: the cell is found by its `# GRADED:` line and the model it saved is what counts. The
tolerances the checks use must sit between the noise of honest variants and the smallest bug
(instructor/tools/measure_tolerances.py, run here).
"""

import importlib.util
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest
from grading_support import (
    A1,
    A2,
    REPO,
    code_todos,
    graded,
    grader,
    points,
    set_region,
    submission,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def a2():
    with grader(A2) as g:
        yield g


def full():
    return {t.id: points(A2, [t.id]) for t in code_todos(A2)}


def test_statistics_and_gradients_of_shape_1_by_d_score_full(a2, tmp_path):
    sub = submission(tmp_path / "sub", A2)
    layers = sub / "cs231n/layers.py"
    set_region(layers, "batchnorm_forward", """
        mu = x.mean(axis=0, keepdims=True)
        var = x.var(axis=0, keepdims=True)
        std = np.sqrt(var + eps)
        x_hat = (x - mu) / std
        out = gamma * x_hat + beta
        cache = (x, x_hat, mu, std, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    """, 0)
    for name in ("batchnorm_backward", "batchnorm_backward_alt"):
        set_region(layers, name, """
            dbeta = dout.sum(axis=0, keepdims=True)
            dgamma = (dout * x_hat).sum(axis=0, keepdims=True)
            dx = gamma / (N * std) * (N * dout - dbeta - x_hat * dgamma)
        """)
    set_region(layers, "layernorm_backward", """
        dbeta = dout.sum(axis=0, keepdims=True)
        dgamma = (dout * x_hat).sum(axis=0, keepdims=True)
        dx_hat = dout * gamma
        dx = (D * dx_hat - dx_hat.sum(axis=1, keepdims=True)
              - x_hat * (dx_hat * x_hat).sum(axis=1, keepdims=True)) / (D * std)
    """)
    code, _ = graded(a2, sub)
    assert code == full()


def test_a_todo_that_calls_another_scores_full(a2, tmp_path):
    # batchnorm_backward_alt reuses the student's own batchnorm_backward: no cycle, graded as usual.
    sub = submission(tmp_path / "sub", A2)
    set_region(sub / "cs231n/layers.py", "batchnorm_backward_alt", "dx, dgamma, dbeta = batchnorm_backward(dout, cache)")
    code, results = graded(a2, sub)
    assert code == full()
    assert "call each other" not in results["output"]


def test_a_class_built_on_another_working_todo_scores_full(a2, tmp_path):
    # fc_net.TwoLayerNet as a one-hidden-layer FullyConnectedNet: the student's own, which works.
    from test_cheats import FC_NET, delegate_two_layer_net

    sub = submission(tmp_path / "sub", A2)
    delegate_two_layer_net(sub / FC_NET)
    code, _ = graded(a2, sub)
    assert code == full()


def test_methods_sharing_a_flag_of_their_own_score_full(a2, tmp_path):
    # FullyConnectedNet.__init__ keeps the older course's flags and loss reads them: loss is right on top of the
    # student's own __init__ (which passes its checks), not on the reference's, which sets no such flag.
    sub = submission(tmp_path / "sub", A2)
    fc_net = sub / "cs231n/classifiers/fc_net.py"
    text = fc_net.read_text()
    flags = ('self.use_batchnorm = normalization == "batchnorm"\n'
             '        self.use_layernorm = normalization == "layernorm"\n')
    text = text.replace("        dims = [input_dim, *hidden_dims, num_classes]\n", "        " + flags
                        + "        dims = [input_dim, *hidden_dims, num_classes]\n", 1)
    text = text.replace("                self.normalization,\n            )",
                        '                "batchnorm" if self.use_batchnorm else "layernorm" if self.use_layernorm else None,\n'
                        "            )", 1)
    fc_net.write_text(text)
    assert "self.use_batchnorm else" in text and text.count("self.use_batchnorm") == 2
    code, results = graded(a2, sub)
    assert code == full()
    assert "FullyConnectedNet.loss was checked with your own FullyConnectedNet.__init__" in results["output"]


def test_conv_backward_summing_in_another_order_scores_full(a2, tmp_path):
    sub = submission(tmp_path / "sub", A2)
    set_region(sub / "cs231n/layers.py", "conv_backward_naive", """
        x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        dx_pad = np.zeros_like(x_pad)
        dw = np.zeros_like(w)
        for j in reversed(range(W_out)):
            for i in reversed(range(H_out)):
                window = x_pad[:, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
                d = dout[:, :, i, j]
                dx_pad[:, :, i * stride : i * stride + HH, j * stride : j * stride + WW] += np.einsum("nf,fchw->nchw", d, w)
                dw += np.einsum("nf,nchw->fchw", d, window)
        dx = dx_pad[:, :, pad : pad + H, pad : pad + W]
        db = np.einsum("nfij->f", dout)
    """)
    code, _ = graded(a2, sub)
    assert code == full()


HELPER = '''

def affine_norm_relu_dropout_forward(x, w, b, gamma, beta, bn_param, normalization, dropout_param):
    """The student's own sandwich: affine - [norm] - relu - [dropout] (dropout_param None: no dropout)."""
    from .layers import dropout_forward

    out, cache = affine_norm_relu_forward(x, w, b, gamma, beta, bn_param, normalization)
    dropout_cache = None
    if dropout_param is not None:
        out, dropout_cache = dropout_forward(out, dropout_param)
    return out, (cache, dropout_cache)


def affine_norm_relu_dropout_backward(dout, cache):
    from .layers import dropout_backward

    cache, dropout_cache = cache
    if dropout_cache is not None:
        dout = dropout_backward(dout, dropout_cache)
    return affine_norm_relu_backward(dout, cache)
'''


def test_a_helper_added_to_layer_utils_scores_full(a2, tmp_path):
    sub = submission(tmp_path / "sub", A2)
    utils = sub / "cs231n/layer_utils.py"
    utils.write_text((REPO / "cs231n/layer_utils.py").read_text() + HELPER)
    fc_net = sub / "cs231n/classifiers/fc_net.py"
    fc_net.write_text(fc_net.read_text().replace(
        "from ..layer_utils import (\n", "from ..layer_utils import (\n    affine_norm_relu_dropout_backward,\n"
        "    affine_norm_relu_dropout_forward,\n", 1))
    set_region(fc_net, "FullyConnectedNet.loss", """
        out = X
        for i in range(1, self.num_layers):
            out, layer_cache = affine_norm_relu_dropout_forward(
                out, self.params[f"W{i}"], self.params[f"b{i}"], self.params.get(f"gamma{i}"),
                self.params.get(f"beta{i}"), self.bn_params[i - 1] if self.bn_params else None,
                self.normalization, self.dropout_param if self.use_dropout else None)
            caches.append(layer_cache)
        L = self.num_layers
        scores, scores_cache = affine_forward(out, self.params[f"W{L}"], self.params[f"b{L}"])
    """, 0)
    set_region(fc_net, "FullyConnectedNet.loss", """
        loss, dout = softmax_loss(scores, y)
        loss += 0.5 * self.reg * sum(np.sum(self.params[f"W{i}"] ** 2) for i in range(1, L + 1))
        dout, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dout, scores_cache)
        for i in range(L - 1, 0, -1):
            dout, grads[f"W{i}"], grads[f"b{i}"], dgamma, dbeta = affine_norm_relu_dropout_backward(dout, caches[i - 1])
            if self.normalization is not None:
                grads[f"gamma{i}"], grads[f"beta{i}"] = dgamma, dbeta
        for i in range(1, L + 1):
            grads[f"W{i}"] += self.reg * self.params[f"W{i}"]
    """, 1)
    code, _ = graded(a2, sub)
    assert code == full()


def test_a_layers_file_in_the_course_layout_without_kit_helpers_scores_full(a2, tmp_path):
    sub = submission(tmp_path / "sub", A2)
    shutil.copyfile(FIXTURES / "course_layers.py", sub / "cs231n/layers.py")
    imports = [line for line in (sub / "cs231n/layers.py").read_text().splitlines() if line.startswith(("import", "from"))]
    assert imports == ["import numpy as np"]
    code, _ = graded(a2, sub)
    assert code == full()


def test_a_file_that_does_not_import_costs_only_its_own_todos(a2, tmp_path):
    sub = submission(tmp_path / "sub", A2)
    cnn = sub / "cs231n/classifiers/cnn.py"
    cnn.write_text(cnn.read_text() + "\ndef broken(:\n    pass\n")
    code, results = graded(a2, sub)
    cnn_todos = [t.id for t in code_todos(A2) if t.path == "cs231n/classifiers/cnn.py"]
    assert cnn_todos and {t: code[t] for t in cnn_todos} == {t: 0 for t in cnn_todos}
    assert {t: s for t, s in code.items() if t not in cnn_todos} == {t: p for t, p in full().items() if t not in cnn_todos}
    for test in results["tests"]:
        if test["name"].endswith("(cs231n/classifiers/cnn.py)"):
            assert "SyntaxError" in test["output"] and "cnn.py" in test["output"]


@pytest.fixture(scope="module")
def a1():
    with grader(A1) as g:
        yield g


def _train_two_layer_net(path):
    """The model the graded cell of two_layer_net.ipynb saves, trained briefly with the reference code (three
    epochs reach about 0.88 validation accuracy on Fashion-MNIST; the threshold is 0.86)."""
    from cs231n.classifiers.neural_net import TwoLayerNet
    from cs231n.data_utils import get_data
    from cs231n.model_io import save_model

    data = get_data("fashion_mnist", dtype=np.float32)
    np.random.seed(0)
    net = TwoLayerNet(int(np.prod(data["X_train"].shape[1:])), 100, 10)
    for epoch in range(3):
        net.train(data["X_train"], data["y_train"], data["X_val"], data["y_val"], learning_rate=3e-3 * 0.85**epoch,
                  learning_rate_decay=1.0, reg=0.01, num_iters=data["X_train"].shape[0] // 200, batch_size=200)
    save_model(net, path, dataset=data["dataset"])


def test_a_graded_cell_deleted_and_re_created_scores_full(a1, tmp_path):
    sub = submission(tmp_path / "sub", A1)
    path = sub / "two_layer_net.ipynb"
    nb = nbformat.read(path, as_version=4)
    (index,) = [i for i, c in enumerate(nb.cells) if "# GRADED: two_layer_net_tuning" in c.source]
    source = nb.cells.pop(index).source
    recreated = nbformat.v4.new_code_cell(source, execution_count=99)
    assert recreated.id not in {c.get("id") for c in nb.cells}
    nb.cells.append(recreated)
    nbformat.write(nb, path)
    _train_two_layer_net(sub / "two_layer_net_tuning.npz")
    results = a1.grade(sub)
    assert results["score"] == points(A1, [t.id for t in code_todos(A1)]) + 5, results["output"]
    assert "the cell `# GRADED: two_layer_net_tuning` in two_layer_net.ipynb ran" in results["output"]


def test_tolerances_sit_between_honest_noise_and_bugs(capsys):
    spec = importlib.util.spec_from_file_location("measure_tolerances", REPO / "instructor/tools/measure_tolerances.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main() == 0, capsys.readouterr().out
