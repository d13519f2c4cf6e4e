"""The attacks of issue 19 and their honest twins, graded in the namespaces and in the uid mode (Gradescope's).

test_cheats.py, test_honest.py, test_wrong.py, test_models.py, test_isolation_attacks.py and test_grade_batch.py
hold one test per attack or style in the namespaces mode. Here the classes whose rule lives in the grader's
logic (not in the sandbox, which those files test in every mode) are graded again through `coursekit grade`
in both modes, several to a submission, each in TODOs of its own:

- the attack: a TODO handing its work to an unfinished TODO (rule 2), the naive layers handing theirs to the
  given fast ones (rule 3), a message, class and function names filled with a payload and control characters
  (rule 5), a real bug (rule 10); each costs its own TODOs only;
- the honest twin: delegation to a working TODO (rule 2), a class keeping a flag of its own (rule 8), a batch
  norm with a dict cache (rule 9), and a crafted model file that costs its own notebook TODO only (rule 6);
- assignment 1 with its code stubbed and a model fitted in closed form to the validation images (rule 4).
"""

import json

import numpy as np
import pytest
from grading_support import (
    A1,
    A2,
    append,
    check_results,
    code_todos,
    grade_in_mode,
    leaves_nothing,
    points,
    set_region,
    submission,
)
from test_cheats import FC_DEEP, FC_NET, FC_TWO, NAIVE_BY_FAST, delegate_two_layer_net
from test_models import CRAFTED, _save, fitted_to
from test_sandbox import ROOT, needs_namespaces

from cs231n.classifiers import neural_net
from cs231n.data_utils import get_data

LAYERS = "cs231n/layers.py"
OPTIM = "cs231n/optim.py"
MODES = [pytest.param("namespaces", marks=needs_namespaces), "uid"]
pytestmark = pytest.mark.skipif(not ROOT, reason="the namespaces and uid modes need root")


def _code_scores(results):
    return {todo: entry["score"] for todo, entry in check_results(results).items() if not todo.split("::")[0].endswith(".ipynb")}


def _full(assignment):
    return {t.id: points(assignment, [t.id]) for t in code_todos(assignment)}


@pytest.mark.parametrize("isolation", MODES)
def test_attacks_cost_their_own_todos_in_each_mode(isolation, tmp_path):
    naive = {f"{LAYERS}::{name}" for name in ("conv_forward_naive", "conv_backward_naive", "max_pool_forward_naive",
                                               "max_pool_backward_naive")}
    bn, alt = f"{LAYERS}::batchnorm_backward", f"{LAYERS}::batchnorm_backward_alt"
    relu, momentum = f"{LAYERS}::relu_forward", f"{OPTIM}::sgd_momentum"
    zero = {bn, alt, *FC_TWO, *FC_DEEP, *naive, relu, momentum}
    sub = submission(tmp_path / "sub", A2, solved={t.id for t in code_todos(A2)} - (zero - {momentum}))
    set_region(sub / LAYERS, "batchnorm_backward", "dx, dgamma, dbeta = batchnorm_backward_alt(dout, cache)")
    delegate_two_layer_net(sub / FC_NET)
    append(sub / LAYERS, NAIVE_BY_FAST)
    payload = "PAYLOAD" * 1000
    set_region(sub / LAYERS, "relu_forward",
               f"raise type('{'E' * 200}', (Exception,), {{}})({payload!r} + '\\x1b[2J\\r\\n' + {payload!r})")
    optim = sub / OPTIM
    text = optim.read_text()
    bug = 'v = config["momentum"] * v - config["learning_rate"] * dw'
    assert text.count(bug) == 1
    optim.write_text(text.replace(bug, bug.replace(" - ", " + ")))
    with leaves_nothing():
        results = grade_in_mode(sub, A2, isolation)
    scores = _code_scores(results)
    assert scores[momentum] < points(A2, [momentum])
    del scores[momentum]
    assert scores == {t: (0 if t in zero else p) for t, p in _full(A2).items() if t != momentum}
    text = json.dumps(results, ensure_ascii=False)
    assert "E" * 50 not in text and "PAYLOAD" * 25 not in text
    for line in "\n".join([results["output"], *(t["output"] for t in results["tests"])]).splitlines():
        assert line.isprintable(), repr(line)
    assert f"isolation: {isolation}" in results["output"]


@pytest.mark.parametrize("isolation", MODES)
def test_honest_styles_score_full_in_each_mode(isolation, tmp_path):
    sub = submission(tmp_path / "sub", A2)
    set_region(sub / LAYERS, "batchnorm_backward_alt", "dx, dgamma, dbeta = batchnorm_backward(dout, cache)")
    delegate_two_layer_net(sub / FC_NET)
    fc_net = sub / FC_NET
    text = fc_net.read_text()
    text = text.replace("        dims = [input_dim, *hidden_dims, num_classes]\n",
                        '        self.use_batchnorm = normalization == "batchnorm"\n'
                        '        self.use_layernorm = normalization == "layernorm"\n'
                        "        dims = [input_dim, *hidden_dims, num_classes]\n", 1)
    text = text.replace("                self.normalization,\n            )",
                        '                "batchnorm" if self.use_batchnorm else "layernorm" if self.use_layernorm else None,\n'
                        "            )", 1)
    assert text.count("self.use_batchnorm") == 2
    fc_net.write_text(text)
    tag = "cnn_best_model"
    CRAFTED[tag][1](sub / f"{tag}.npz")
    with leaves_nothing():
        results = grade_in_mode(sub, A2, isolation)
    assert _code_scores(results) == _full(A2)
    entries = check_results(results)
    assert entries[f"assignment2/ConvolutionalNetworks.ipynb::{tag}"]["score"] == 0
    assert "grader error" not in results["output"]


@pytest.mark.parametrize("isolation", MODES)
def test_a_model_fitted_to_the_measured_images_with_stubbed_code_earns_nothing_in_each_mode(isolation, tmp_path):
    fashion = get_data("fashion_mnist", dtype=np.float32)
    sub = submission(tmp_path / "sub", A1, solved=set())
    W1, b1, W2, b2 = fitted_to(fashion["X_val"], fashion["y_val"])
    net = neural_net.TwoLayerNet(W1.shape[0], W1.shape[1], W2.shape[1])
    net.params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    _save(net, sub)
    with leaves_nothing():
        results = grade_in_mode(sub, A1, isolation)
    assert results["score"] == 0
