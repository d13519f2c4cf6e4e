"""Tests for cs231n.gradient_check: numerical gradients against known derivatives, and x left intact."""

import numpy as np
import pytest

from cs231n.gradient_check import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    eval_numerical_gradient_blobs,
    eval_numerical_gradient_net,
    grad_check_sparse,
    rel_error,
)


class Blob:
    def __init__(self, vals):
        self.vals = vals
        self.diffs = np.zeros_like(vals)


def test_rel_error():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert abs(rel_error(np.array([1.0, 3.0]), np.array([1.0, 1.0])) - 0.5) < 1e-15
    # Near zero the denominator is floored at 1e-8, so tiny absolute errors stay tiny.
    assert abs(rel_error(0.0, 1e-12) - 1e-4) < 1e-15


def test_eval_numerical_gradient_of_quadratic():
    rng = np.random.RandomState(0)
    x = rng.randn(3, 4)
    x0 = x.copy()
    grad = eval_numerical_gradient(lambda x: np.sum(x**2) + np.sum(np.sin(x)), x, verbose=False)
    assert rel_error(grad, 2 * x0 + np.cos(x0)) < 1e-8
    assert np.array_equal(x, x0)


def test_eval_numerical_gradient_verbose_prints_each_element(capsys):
    eval_numerical_gradient(lambda x: np.sum(x), np.zeros(3), verbose=True)
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_eval_numerical_gradient_restores_x_when_f_raises():
    x = np.ones(3)

    def f(x):
        if x[0] != 1.0:
            raise RuntimeError("boom")
        return 0.0

    with pytest.raises(RuntimeError):
        eval_numerical_gradient(f, x, verbose=False)
    assert np.array_equal(x, np.ones(3))


def test_eval_numerical_gradient_array_of_matmul():
    rng = np.random.RandomState(1)
    x, w, df = rng.randn(4, 3), rng.randn(3, 5), rng.randn(4, 5)
    x0 = x.copy()
    grad = eval_numerical_gradient_array(lambda x: x @ w, x, df)
    assert rel_error(grad, df @ w.T) < 1e-9
    assert np.array_equal(x, x0)


def test_eval_numerical_gradient_array_when_f_returns_a_view_of_x():
    x, df = np.random.RandomState(2).randn(5), np.random.RandomState(3).randn(5)
    grad = eval_numerical_gradient_array(lambda x: x, x, df)
    assert rel_error(grad, df) < 1e-9


def test_eval_numerical_gradient_blobs_and_net():
    rng = np.random.RandomState(3)
    a, b = Blob(rng.randn(2, 3)), Blob(rng.randn(2, 3))
    out = Blob(np.zeros((2, 3)))
    out.diffs = rng.randn(2, 3)
    a0, b0 = a.vals.copy(), b.vals.copy()

    def f(a, b, out):
        out.vals = a.vals * b.vals

    da, db = eval_numerical_gradient_blobs(f, (a, b), out)
    assert rel_error(da, out.diffs * b.vals) < 1e-9
    assert rel_error(db, out.diffs * a.vals) < 1e-9
    assert np.array_equal(a.vals, a0) and np.array_equal(b.vals, b0)

    class Net:
        def forward(self):
            f(a, b, out)

    da_net, db_net = eval_numerical_gradient_net(Net(), (a, b), out)
    assert rel_error(da_net, da) < 1e-12 and rel_error(db_net, db) < 1e-12


def test_grad_check_sparse_returns_errors_and_restores_x(capsys):
    rng = np.random.RandomState(4)
    x = rng.randn(6, 7)
    x0 = x.copy()
    f = lambda x: np.sum(x**3)
    errors = grad_check_sparse(f, x, 3 * x0**2, num_checks=5, seed=0)
    assert len(errors) == 5 and max(errors) < 1e-7
    assert len(capsys.readouterr().out.splitlines()) == 5
    assert np.array_equal(x, x0)
    wrong = grad_check_sparse(f, x, 3 * x0**2 + 1, num_checks=5, seed=0)
    assert min(wrong) > 1e-3


def test_grad_check_sparse_seed_reproduces():
    x = np.random.RandomState(5).randn(10, 10)
    grad = np.random.RandomState(6).randn(10, 10)
    f = lambda x: np.sum(x**2)
    assert grad_check_sparse(f, x, grad, seed=3) == grad_check_sparse(f, x, grad, seed=3)


def test_grad_check_sparse_rejects_shape_mismatch():
    with pytest.raises(ValueError, match=r"analytic_grad has shape \(3,\) but x has shape \(4,\)"):
        grad_check_sparse(np.sum, np.zeros(4), np.zeros(3))
