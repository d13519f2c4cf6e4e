"""Real bugs lose points on their own TODO only (issue 19).

Typical student bugs, several of different TODOs per submission (graded once each by the real Grader, as root
in the namespaces mode): each TODO with a bug scores less than its points, every other TODO of the
submission scores all of its points. Some pairs test attribution through caches: a forward pass with a bug
and a correct backward pass after it (reading the forward's cache, the kit's layout or the student's own)
must cost only the forward. The bugs (33):

- W1: affine_backward's db as a mean; relu_backward zeroing dout in place; svm_loss counting the correct
  class; softmax_loss without the shift by the row maximum; batchnorm_forward's N - 1 variance (its backward
  passes correct); layernorm_forward's eps outside the square root; dropout_forward without / p and
  dropout_backward ignoring the mask; conv_forward_naive padded one pixel too many; max_pool_backward_naive
  routing a tie to every maximum; spatial_batchnorm_forward's statistics per pixel; group norm grouping
  channels interleaved; momentum with the wrong sign; Adam without bias correction; FullyConnectedNet.loss
  without the penalty in its gradients; ThreeLayerConvNet.__init__ sizing W2 as F * H * W // 4 (wrong for odd
  sizes); fc_net.TwoLayerNet.__init__ drawing uniform weights;
- W2: batchnorm_forward forgetting beta, with a dict cache that the correct batchnorm_backward and _alt
  read; spatial_batchnorm_forward adding beta twice, its correct backward reading the vanilla layers' cache;
  layernorm_backward without the mean term; conv_backward_naive's dw divided by N; max pooling stepping by
  the pool size instead of the stride; RMSProp without the square root; FullyConnectedNet.__init__'s gammas
  at zero; ThreeLayerConvNet.loss without the 0.5; fc_net.TwoLayerNet.loss regularizing the biases;
  a leaky relu_forward; affine_forward reshaping in Fortran order;
- W3: batchnorm_forward updating the running averages in test mode; dropout_forward scaling by p in test mode;
- assignment 1: minibatches sampled without replacement (the docstring asks for it with); the penalty
  with a 0.5 the docstring does not have; predict taking the maximum over the wrong axis.
"""

import pytest
from grading_support import A1, A2, code_todos, graded, grader, output_of, points, submission
from variants import CNN, FC_NET, LAYERS, NEURAL_NET, OPTIM, apply

W1 = {
    f"{LAYERS}::affine_backward": [(LAYERS, "affine_backward", 0, """
        dx = (dout @ w.T).reshape(x.shape)
        dw = x.reshape(N, D).T @ dout
        db = dout.mean(axis=0)
    """)],
    f"{LAYERS}::relu_backward": [(LAYERS, "relu_backward", 0, """
        dout[x <= 0] = 0
        dx = dout
    """)],
    f"{LAYERS}::svm_loss": [(LAYERS, "svm_loss", 0, """
        margins = np.maximum(0, x - x[np.arange(N), y][:, None] + 1)
        loss = float(margins.sum() / N)
        dx = (margins > 0).astype(x.dtype)
        dx[np.arange(N), y] -= dx.sum(axis=1)
        dx /= N
    """)],
    f"{LAYERS}::softmax_loss": [(LAYERS, "softmax_loss", 0, """
        probs = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
        loss = float(-np.log(probs[np.arange(N), y]).sum() / N)
        dx = probs.copy()
        dx[np.arange(N), y] -= 1
        dx /= N
    """)],
    f"{LAYERS}::batchnorm_forward": [(LAYERS, "batchnorm_forward", 0, """
        mu = x.mean(axis=0)
        var = x.var(axis=0, ddof=1)
        std = np.sqrt(var + eps)
        x_hat = (x - mu) / std
        out = gamma * x_hat + beta
        cache = (x, x_hat, mu, std, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    """)],
    f"{LAYERS}::layernorm_forward": [(LAYERS, "layernorm_forward", 0, """
        mu = x.mean(axis=1, keepdims=True)
        std = x.std(axis=1, keepdims=True) + eps
        x_hat = (x - mu) / std
        out = gamma * x_hat + beta
        cache = (x_hat, std, gamma)
    """)],
    f"{LAYERS}::dropout_forward": [(LAYERS, "dropout_forward", 0, """
        mask = (np.random.rand(*x.shape) < p).astype(x.dtype)
        out = x * mask
    """)],
    f"{LAYERS}::dropout_backward": [(LAYERS, "dropout_backward", 0, "dx = dout.copy()")],
    f"{LAYERS}::conv_forward_naive": [(LAYERS, "conv_forward_naive", 0, """
        x_pad = np.pad(x, ((0, 0), (0, 0), (pad + 1, pad + 1), (pad + 1, pad + 1)))
        out = np.empty((N, F, H_out, W_out), dtype=np.result_type(x, w))
        for i in range(H_out):
            for j in range(W_out):
                window = x_pad[:, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
                out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
        out += b.reshape(1, F, 1, 1)
    """)],
    f"{LAYERS}::max_pool_backward_naive": [(LAYERS, "max_pool_backward_naive", 0, """
        dx = np.zeros_like(x, dtype=dout.dtype)
        for i in range(H_out):
            for j in range(W_out):
                rows = slice(i * stride, i * stride + pool_height)
                cols = slice(j * stride, j * stride + pool_width)
                window = x[:, :, rows, cols]
                is_max = window == window.max(axis=(2, 3), keepdims=True)
                dx[:, :, rows, cols] += is_max * dout[:, :, i, j][:, :, None, None]
    """)],
    f"{LAYERS}::spatial_batchnorm_forward": [(LAYERS, "spatial_batchnorm_forward", 0, """
        mode = bn_param["mode"]
        eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
        running_mean = bn_param.get("running_mean", np.zeros((C, H, W), dtype=x.dtype))
        running_var = bn_param.get("running_var", np.zeros((C, H, W), dtype=x.dtype))
        if mode == "train":
            mu, var = x.mean(axis=0), x.var(axis=0)
            std = np.sqrt(var + eps)
            x_hat = (x - mu) / std
            out = gamma[:, None, None] * x_hat + beta[:, None, None]
            cache = (x, x_hat, mu, std, gamma)
            running_mean = momentum * running_mean + (1 - momentum) * mu
            running_var = momentum * running_var + (1 - momentum) * var
        else:
            out = gamma[:, None, None] * (x - running_mean) / np.sqrt(running_var + eps) + beta[:, None, None]
        bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var
    """)],
    f"{LAYERS}::spatial_groupnorm_forward": [(LAYERS, "spatial_groupnorm_forward", 0, """
        x_group = x.reshape(N, C // G, G, H, W).transpose(0, 2, 1, 3, 4).reshape(N, G, -1)
        mu = x_group.mean(axis=2, keepdims=True)
        std = np.sqrt(x_group.var(axis=2, keepdims=True) + eps)
        x_hat = ((x_group - mu) / std).reshape(N, G, C // G, H, W).transpose(0, 2, 1, 3, 4).reshape(N, C, H, W)
        out = gamma * x_hat + beta
        cache = (x_hat, std, gamma, G)
    """)],
    f"{OPTIM}::sgd_momentum": [(OPTIM, "sgd_momentum", 0, """
        v = config["momentum"] * v + config["learning_rate"] * dw
        next_w = w + v
    """)],
    f"{OPTIM}::adam": [(OPTIM, "adam", 0, """
        beta1, beta2 = config["beta1"], config["beta2"]
        t = config["t"] + 1
        m = beta1 * config["m"] + (1 - beta1) * dw
        v = beta2 * config["v"] + (1 - beta2) * dw**2
        next_w = w - config["learning_rate"] * m / (np.sqrt(v) + config["epsilon"])
        config["m"], config["v"], config["t"] = m, v, t
    """)],
    f"{FC_NET}::FullyConnectedNet.loss": [(FC_NET, "FullyConnectedNet.loss", 1, """
        loss, dout = softmax_loss(scores, y)
        for i in range(1, L + 1):
            W = self.params[f"W{i}"]
            loss += 0.5 * self.reg * np.sum(W * W)
        dout, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dout, scores_cache)
        for i in range(L - 1, 0, -1):
            layer_cache, dropout_cache = caches[i - 1]
            if self.use_dropout:
                dout = dropout_backward(dout, dropout_cache)
            dout, grads[f"W{i}"], grads[f"b{i}"], dgamma, dbeta = affine_norm_relu_backward(dout, layer_cache)
            if self.normalization is not None:
                grads[f"gamma{i}"], grads[f"beta{i}"] = dgamma, dbeta
    """)],
    f"{CNN}::ThreeLayerConvNet.__init__": [(CNN, "ThreeLayerConvNet.__init__", 0, """
        C, H, W = input_dim
        self.params["W1"] = weight_scale * np.random.randn(num_filters, C, filter_size, filter_size)
        self.params["b1"] = np.zeros(num_filters)
        self.params["W2"] = weight_scale * np.random.randn(num_filters * H * W // 4, hidden_dim)
        self.params["b2"] = np.zeros(hidden_dim)
        self.params["W3"] = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params["b3"] = np.zeros(num_classes)
    """)],
    f"{FC_NET}::TwoLayerNet.__init__": [(FC_NET, "TwoLayerNet.__init__", 0, """
        self.params["W1"] = weight_scale * np.random.rand(input_dim, hidden_dim)
        self.params["b1"] = np.zeros(hidden_dim)
        self.params["W2"] = weight_scale * np.random.rand(hidden_dim, num_classes)
        self.params["b2"] = np.zeros(num_classes)
    """)],
}

UNPACK = 'x, x_hat, mu, std, gamma = (cache[k] for k in ("x", "x_hat", "mu", "std", "gamma"))'

W2 = {
    # An output-only bug; the cache, a dict, is right, and the backward passes read it correctly.
    f"{LAYERS}::batchnorm_forward": [
        (LAYERS, "batchnorm_forward", 0, """
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            std = np.sqrt(var + eps)
            x_hat = (x - mu) / std
            out = gamma * x_hat
            cache = {"x": x, "x_hat": x_hat, "mu": mu, "std": std, "gamma": gamma}
            running_mean = momentum * running_mean + (1 - momentum) * mu
            running_var = momentum * running_var + (1 - momentum) * var
        """),
        (LAYERS, "batchnorm_backward", None, ("x, x_hat, mu, std, gamma = cache", UNPACK)),
        (LAYERS, "batchnorm_backward_alt", None, ("x, x_hat, mu, std, gamma = cache", UNPACK)),
    ],
    # An output-only bug; the backward pass reads the vanilla layers' cache, which the forward keeps.
    f"{LAYERS}::spatial_batchnorm_forward": [
        (LAYERS, "spatial_batchnorm_forward", 0, """
            rows = x.transpose(0, 2, 3, 1).reshape(-1, C)
            out_rows, cache = batchnorm_forward(rows, gamma, beta, bn_param)
            out = out_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2) + beta[None, :, None, None]
        """),
        (LAYERS, "spatial_batchnorm_backward", None, ("x, x_hat, mu, std, gamma = cache\n    ", "")),
        (LAYERS, "spatial_batchnorm_backward", 0, """
            drows, dgamma, dbeta = batchnorm_backward_alt(dout.transpose(0, 2, 3, 1).reshape(-1, C), cache)
            dx = drows.reshape(N, H, W, C).transpose(0, 3, 1, 2)
        """),
    ],
    f"{LAYERS}::layernorm_backward": [(LAYERS, "layernorm_backward", 0, """
        dbeta = dout.sum(axis=0)
        dgamma = (dout * x_hat).sum(axis=0)
        dx_hat = dout * gamma
        dx = (dx_hat - x_hat * (dx_hat * x_hat).mean(axis=1, keepdims=True)) / std
    """)],
    f"{LAYERS}::conv_backward_naive": [(LAYERS, "conv_backward_naive", 0, """
        x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        dx_pad = np.zeros_like(x_pad)
        dw = np.zeros_like(w)
        for i in range(H_out):
            for j in range(W_out):
                rows = slice(i * stride, i * stride + HH)
                cols = slice(j * stride, j * stride + WW)
                d = dout[:, :, i, j]
                dx_pad[:, :, rows, cols] += np.tensordot(d, w, axes=([1], [0]))
                dw += np.tensordot(d, x_pad[:, :, rows, cols], axes=([0], [0]))
        dw /= N
        dx = dx_pad[:, :, pad : pad + H, pad : pad + W].copy()
        db = dout.sum(axis=(0, 2, 3))
    """)],
    f"{LAYERS}::max_pool_forward_naive": [(LAYERS, "max_pool_forward_naive", 0, """
        out = np.empty((N, C, H_out, W_out), dtype=x.dtype)
        for i in range(H_out):
            for j in range(W_out):
                window = x[:, :, i * pool_height : (i + 1) * pool_height, j * pool_width : (j + 1) * pool_width]
                out[:, :, i, j] = window.max(axis=(2, 3))
    """)],
    f"{OPTIM}::rmsprop": [(OPTIM, "rmsprop", 0, """
        decay = config["decay_rate"]
        cache = decay * config["cache"] + (1 - decay) * dw**2
        next_w = w - config["learning_rate"] * dw / (cache + config["epsilon"])
        config["cache"] = cache
    """)],
    f"{FC_NET}::FullyConnectedNet.__init__": [(FC_NET, "FullyConnectedNet.__init__", 0, """
        dims = [input_dim, *hidden_dims, num_classes]
        for i in range(1, self.num_layers + 1):
            self.params[f"W{i}"] = weight_scale * np.random.randn(dims[i - 1], dims[i])
            self.params[f"b{i}"] = np.zeros(dims[i])
            if self.normalization is not None and i < self.num_layers:
                self.params[f"gamma{i}"] = np.zeros(dims[i])
                self.params[f"beta{i}"] = np.zeros(dims[i])
    """)],
    f"{CNN}::ThreeLayerConvNet.loss": [(CNN, "ThreeLayerConvNet.loss", 1, """
        loss, dscores = softmax_loss(scores, y)
        loss += self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2) + np.sum(W3 * W3))
        dhidden, dW3, grads["b3"] = affine_backward(dscores, scores_cache)
        dpooled, dW2, grads["b2"] = affine_relu_backward(dhidden, hidden_cache)
        _, dW1, grads["b1"] = conv_relu_pool_backward(dpooled, conv_cache)
        grads["W1"] = dW1 + self.reg * W1
        grads["W2"] = dW2 + self.reg * W2
        grads["W3"] = dW3 + self.reg * W3
    """)],
    f"{FC_NET}::TwoLayerNet.loss": [(FC_NET, "TwoLayerNet.loss", 1, """
        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * sum(np.sum(v * v) for v in self.params.values())
        dhidden, grads["W2"], grads["b2"] = affine_backward(dscores, scores_cache)
        _, grads["W1"], grads["b1"] = affine_relu_backward(dhidden, hidden_cache)
        for k in grads:
            grads[k] = grads[k] + self.reg * self.params[k]
    """)],
    f"{LAYERS}::relu_forward": [(LAYERS, "relu_forward", 0, "out = np.where(x > 0, x, 0.01 * x)")],
    f"{LAYERS}::affine_forward": [(LAYERS, "affine_forward", 0, 'out = x.reshape(N, D, order="F") @ w + b')],
}

W3 = {
    # Test mode normalizes with the running averages it was given, then updates them: only that is wrong.
    f"{LAYERS}::batchnorm_forward": [(LAYERS, "batchnorm_forward", 1, """
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        running_mean = momentum * running_mean + (1 - momentum) * x.mean(axis=0)
        running_var = momentum * running_var + (1 - momentum) * x.var(axis=0)
    """)],
    f"{LAYERS}::dropout_forward": [(LAYERS, "dropout_forward", 1, "out = x * p")],
}

A1_BUGS = {
    f"{NEURAL_NET}::TwoLayerNet.train": [(NEURAL_NET, "TwoLayerNet.train", 0, """
        batch_idx = np.random.choice(num_train, batch_size, replace=False)
        X_batch = X[batch_idx]
        y_batch = y[batch_idx]
    """)],
    f"{NEURAL_NET}::TwoLayerNet.loss": [(NEURAL_NET, "TwoLayerNet.loss", 1, """
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_probs[np.arange(N), y].mean() + 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    """)],
    f"{NEURAL_NET}::TwoLayerNet.predict": [(NEURAL_NET, "TwoLayerNet.predict", 0, "y_pred = np.argmax(self.loss(X), axis=0)")],
}


@pytest.fixture(scope="module")
def a2():
    with grader(A2) as g:
        yield g


def _expect_own_todos_only(g, assignment, bugs, tmp_path):
    """Grade the reference with `bugs` ({TODO id: edits}) applied: exactly the TODOs with a bug lose points."""
    sub = submission(tmp_path / "sub", assignment)
    for edits in bugs.values():
        apply(sub, edits)
    code, results = graded(g, sub)
    full = {t.id: points(assignment, [t.id]) for t in code_todos(assignment)}
    kept = {t for t in bugs if code[t] >= full[t]}
    assert not kept, f"bugs that lost no points: {sorted(kept)}"
    lost = {t: (code[t], full[t]) for t in full if t not in bugs and code[t] != full[t]}
    outputs = "\n".join(t["output"] for t in results["tests"] if t["score"] < t["max_score"] and "ipynb" not in t["name"])
    assert not lost, f"TODOs without a bug that lost points: {lost}\n{outputs}"
    return code, results


def test_bugs_w1_cost_only_their_own_todos(a2, tmp_path):
    _expect_own_todos_only(a2, A2, W1, tmp_path)


def test_bugs_w2_cost_only_their_own_todos(a2, tmp_path):
    # The forwards' output-only bugs must not cost the correct backward passes that read their caches.
    _, results = _expect_own_todos_only(a2, A2, W2, tmp_path)
    for test in results["tests"]:
        if test["name"].startswith(("batchnorm_backward", "spatial_batchnorm_backward")):
            assert test["status"] == "passed", test["output"]


def test_bugs_w3_in_test_mode_cost_only_their_own_todos(a2, tmp_path):
    _, results = _expect_own_todos_only(a2, A2, W3, tmp_path)
    assert "test mode changed bn_param" in output_of(results, "cs231n/layers.py::batchnorm_forward")
    assert "test mode" in output_of(results, "cs231n/layers.py::dropout_forward")


def test_assignment1_bugs_cost_only_their_own_todos(tmp_path):
    with grader(A1) as g:
        _, results = _expect_own_todos_only(g, A1, A1_BUGS, tmp_path)
    train = output_of(results, "cs231n/classifiers/neural_net.py::TwoLayerNet.train")
    assert "batch_size 12" in train and "ValueError" in train
