"""Numerical gradients by centered differences, for checking analytic backward passes."""

import numpy as np


def rel_error(x, y):
    """Return the maximum relative error between two arrays (or scalars)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def eval_numerical_gradient(f, x, verbose=True, h=1e-5):
    """
    Compute the numerical gradient of a scalar function f at x.

    Inputs:
    - f: Function taking one array argument and returning a scalar.
    - x: Array at which to evaluate the gradient; perturbed in place, then restored.
    - verbose: If True, print every element's index and gradient.
    - h: Step size of the centered difference.

    Returns:
    - grad: Array of the same shape as x holding df/dx.
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        oldval = x[ix]
        try:
            x[ix] = oldval + h
            fxph = f(x)
            x[ix] = oldval - h
            fxmh = f(x)
        finally:
            x[ix] = oldval
        grad[ix] = (fxph - fxmh) / (2 * h)
        if verbose:
            print(ix, grad[ix])
        it.iternext()
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """
    Compute the numerical gradient of sum(f(x) * df) at x, for a function returning an array.

    Inputs:
    - f: Function taking one array argument and returning an array.
    - x: Array at which to evaluate the gradient; perturbed in place, then restored.
    - df: Upstream gradient, of the same shape as f(x).
    - h: Step size of the centered difference.

    Returns:
    - grad: Array of the same shape as x.
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        oldval = x[ix]
        try:
            x[ix] = oldval + h
            # Copy: f may return a view of x, which the next perturbation would change.
            pos = np.array(f(x), copy=True)
            x[ix] = oldval - h
            neg = np.array(f(x), copy=True)
        finally:
            x[ix] = oldval
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def eval_numerical_gradient_blobs(f, inputs, output, h=1e-5):
    """
    Compute numerical gradients for a function operating on blobs.

    A blob is any object with `vals` and `diffs` arrays of the same shape. f is called as
    f(*inputs, output) and writes its result into output.vals.

    Inputs:
    - f: Function taking the input blobs and the output blob.
    - inputs: Tuple of input blobs.
    - output: Output blob; output.diffs holds the upstream gradient.
    - h: Step size of the centered difference.

    Returns:
    - numeric_diffs: List of arrays, one per input blob, each the shape of its vals.
    """
    numeric_diffs = []
    for input_blob in inputs:
        diff = np.zeros_like(input_blob.diffs)
        it = np.nditer(input_blob.vals, flags=["multi_index"], op_flags=["readwrite"])
        while not it.finished:
            idx = it.multi_index
            orig = input_blob.vals[idx]
            try:
                input_blob.vals[idx] = orig + h
                f(*(inputs + (output,)))
                pos = np.copy(output.vals)
                input_blob.vals[idx] = orig - h
                f(*(inputs + (output,)))
                neg = np.copy(output.vals)
            finally:
                input_blob.vals[idx] = orig
            diff[idx] = np.sum((pos - neg) * output.diffs) / (2.0 * h)
            it.iternext()
        numeric_diffs.append(diff)
    return numeric_diffs


def eval_numerical_gradient_net(net, inputs, output, h=1e-5):
    """Compute numerical gradients of a blob network; net.forward() writes into output.vals."""
    return eval_numerical_gradient_blobs(lambda *args: net.forward(), inputs, output, h=h)


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5, seed=None):
    """
    Compare numerical and analytic gradients of a scalar function f at a few random elements of x.

    Inputs:
    - f: Function taking one array argument and returning a scalar.
    - x: Array at which to check; perturbed in place, then restored.
    - analytic_grad: Array of the same shape as x.
    - num_checks: Number of random elements to check.
    - h: Step size of the centered difference.
    - seed: Optional seed for choosing the elements; None draws from np.random's global state,
      as the course does, so a notebook's np.random.seed makes the check reproducible.

    Returns:
    - rel_errors: List of num_checks relative errors, also printed one per line.
    """
    if np.shape(analytic_grad) != np.shape(x):
        raise ValueError(
            f"analytic_grad has shape {np.shape(analytic_grad)} but x has shape {np.shape(x)}; "
            "pass the gradient of f with respect to x"
        )
    rng = np.random if seed is None else np.random.RandomState(seed)
    rel_errors = []
    for _ in range(num_checks):
        ix = tuple(int(rng.randint(m)) for m in x.shape)
        oldval = x[ix]
        try:
            x[ix] = oldval + h
            fxph = f(x)
            x[ix] = oldval - h
            fxmh = f(x)
        finally:
            x[ix] = oldval
        grad_numerical = (fxph - fxmh) / (2 * h)
        grad_analytic = analytic_grad[ix]
        denom = max(1e-8, abs(grad_numerical) + abs(grad_analytic))
        rel = float(abs(grad_numerical - grad_analytic) / denom)
        print(f"numerical: {grad_numerical:f} analytic: {grad_analytic:f}, relative error: {rel:e}")
        rel_errors.append(rel)
    return rel_errors

