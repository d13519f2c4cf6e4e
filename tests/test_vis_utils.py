"""Tests of cs231n.vis_utils: grids for 1 and 3 channels, weight images and training curves (Agg backend)."""

import subprocess
import sys

import matplotlib
import numpy as np
import pytest

from cs231n.vis_utils import (
    draw_batchnorm_graph,
    draw_normalization_groups,
    imshow_grid,
    plot_history,
    show_weights,
    vis_grid,
    vis_nn,
    visualize_grid,
    weights_grid,
)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after selecting the backend)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def images(N, H, W, C, seed=0):
    return np.random.default_rng(seed).normal(size=(N, H, W, C))


def test_import_does_not_load_matplotlib():
    code = "import sys, cs231n.vis_utils; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("C", [1, 3])
def test_visualize_grid_layout_and_scaling(C):
    Xs = images(5, 4, 6, C)
    grid = visualize_grid(Xs, ubound=255.0, padding=2)
    # ceil(sqrt(5)) = 3 images per side, 2 pixels between them.
    assert grid.shape == (3 * 4 + 2 * 2, 3 * 6 + 2 * 2, C)
    assert grid.min() == 0.0 and abs(grid.max() - 255.0) < 1e-9
    second = grid[0:4, 8:14]
    expected = 255.0 * (Xs[1] - Xs[1].min()) / (Xs[1].max() - Xs[1].min())
    assert np.allclose(second, expected, atol=1e-9)
    assert not grid[4:6].any()
    assert not grid[-4:, 8:].any()


def test_visualize_grid_constant_image_gives_zeros():
    grid = visualize_grid(np.ones((1, 3, 3, 1)))
    assert grid.shape == (3, 3, 1) and not grid.any()


@pytest.mark.parametrize("C", [1, 3])
def test_vis_grid_and_vis_nn_scale_to_unit_range(C):
    G = vis_grid(images(4, 5, 5, C))
    assert G.shape == (12, 12, C)
    assert G.min() == 0.0 and abs(G.max() - 1.0) < 1e-12
    rows = [list(images(3, 5, 5, C, seed=s)) for s in range(2)]
    G = vis_nn(rows)
    assert G.shape == (12, 18, C)
    assert G.min() == 0.0 and abs(G.max() - 1.0) < 1e-12


def test_grids_reject_nhwc_mistakes():
    with pytest.raises(ValueError, match="transpose"):
        visualize_grid(np.zeros((4, 3, 8, 8)))
    with pytest.raises(ValueError):
        vis_nn([])


def test_weights_grid_conv_and_fc_agree():
    rng = np.random.default_rng(0)
    W_conv = rng.normal(size=(7, 3, 32, 32))
    W_fc = W_conv.reshape(7, -1).T
    expected = visualize_grid(W_conv.transpose(0, 2, 3, 1))
    assert np.array_equal(weights_grid(W_conv), expected)
    assert np.array_equal(weights_grid(W_fc), expected)
    assert np.array_equal(weights_grid(W_fc, image_shape=(3, 32, 32)), expected)


def test_weights_grid_infers_gray_28x28():
    W = np.random.default_rng(1).normal(size=(784, 10))
    grid = weights_grid(W)
    assert grid.shape == (4 * 28 + 3, 4 * 28 + 3, 1)
    assert np.array_equal(grid, weights_grid(W, image_shape=(1, 28, 28)))


@pytest.mark.parametrize("W, shape", [(np.zeros((100, 5)), None), (np.zeros((784, 5)), (3, 32, 32)),
                                      (np.zeros(10), None)])
def test_weights_grid_bad_shapes(W, shape):
    with pytest.raises(ValueError):
        weights_grid(W, image_shape=shape)


@pytest.mark.parametrize("C", [1, 3])
def test_imshow_grid_gray_and_rgb(C):
    grid = visualize_grid(images(4, 6, 6, C))
    ax = imshow_grid(grid, title="grid")
    shown = ax.get_images()[0]
    assert shown.get_array().ndim == (2 if C == 1 else 3)
    if C == 1:
        assert shown.get_cmap().name == "gray"
    else:
        assert float(shown.get_array().max()) <= 1.0
    assert ax.get_title() == "grid"


def test_show_weights_draws_on_given_axes():
    fig, ax = plt.subplots()
    out = show_weights(np.random.default_rng(0).normal(size=(8, 1, 5, 5)), ax=ax)
    assert out is ax and len(ax.get_images()) == 1


class FakeSolver:
    loss_history = [2.3, 2.0, 1.7, 1.5]
    train_acc_history = [0.1, 0.4]
    val_acc_history = [0.1, 0.35]


def test_plot_history_solver_and_dict():
    history = {"loss_history": [2.3, 1.0], "train_acc_history": [0.2], "val_acc_history": [0.15]}
    fig = plot_history({"sgd": FakeSolver(), "adam": history})
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["Training loss", "Training accuracy", "Validation accuracy"]
    assert all(len(ax.get_lines()) == 2 for ax in axes)
    assert list(axes[2].get_lines()[0].get_ydata()) == [0.1, 0.35]


def test_plot_history_rejects_runs_without_histories():
    with pytest.raises(ValueError, match="val_acc_history"):
        plot_history({"bad": {"loss_history": [1.0], "train_acc_history": [0.1]}})
    with pytest.raises(ValueError):
        plot_history({})


def test_plot_history_labels_every_axis_and_titles_the_figure():
    fig = plot_history({"run": FakeSolver()}, title="two runs")
    for ax in fig.get_axes():
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    assert fig._suptitle.get_text() == "two runs"


class FakeEpochSolver:
    """Two epochs of a run with 4 minibatches per epoch (8 training images, batch size 2)."""
    X_train = np.zeros((8, 3))
    batch_size = 2
    loss_history = [2.0, 2.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    train_acc_history = [0.1, 0.5, 0.7]
    val_acc_history = [0.1, 0.4, 0.6]


def test_plot_history_on_epochs_lines_up_runs_of_different_batch_sizes():
    small_batches = {"loss_history": [1.0] * 20, "train_acc_history": [0.1, 0.2, 0.3],
                     "val_acc_history": [0.1, 0.2, 0.3], "iterations_per_epoch": 10}
    fig = plot_history({"b2": FakeEpochSolver(), "b1": small_batches}, x="epoch", loss_scale="log")
    loss_ax = fig.get_axes()[0]
    assert loss_ax.get_xlabel() == "Epoch" and loss_ax.get_yscale() == "log"
    raw, means, raw_small, means_small = loss_ax.get_lines()
    assert list(raw.get_xdata()) == [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]
    assert list(means.get_xdata()) == [1, 2] and list(means.get_ydata()) == [1.5, 0.375]
    assert raw_small.get_xdata()[-1] == 2.0 and list(means_small.get_xdata()) == [1, 2]


def test_plot_history_on_epochs_needs_iterations_per_epoch():
    history = {"loss_history": [2.3, 1.0], "train_acc_history": [0.2], "val_acc_history": [0.15]}
    with pytest.raises(ValueError, match="iterations_per_epoch"):
        plot_history({"dict": history}, x="epoch")
    with pytest.raises(ValueError, match="x must be"):
        plot_history({"dict": history}, x="minutes")


def test_draw_batchnorm_graph_has_five_nodes_and_seven_edges():
    ax = draw_batchnorm_graph()
    labels = [t.get_text() for t in ax.texts]
    for node in ("$X$", "$\\mu$", "$v$", "$\\sigma$", "$Y$"):
        assert node in labels
    assert len(ax.patches) == 5
    assert sum(1 for child in ax.get_children() if type(child).__name__ == "Annotation") == 7
    assert ax.get_title()


def test_draw_normalization_groups_shades_the_right_columns():
    N, C = 4, 6
    fig = draw_normalization_groups(N=N, C=C)
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["Batch Norm", "Layer Norm", "Instance Norm", "Group Norm"]
    # Three faces per (n, c) column; a shaded column has three blue faces.
    expected = {"Batch Norm": N, "Layer Norm": C, "Instance Norm": 1, "Group Norm": C // 2}
    for ax in axes:
        faces = [p for p in ax.patches]
        assert len(faces) == 3 * N * C
        blue = sum(1 for p in faces if p.get_facecolor()[:3] != (1.0, 1.0, 1.0))
        assert blue == 3 * expected[ax.get_title()]
    with pytest.raises(ValueError):
        draw_normalization_groups(C=5)
