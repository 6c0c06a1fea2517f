"""The minimal NumPy loop lab2-bench measures against must itself be the lab's algorithm."""

import numpy as np
import torch

from lab2.bench import in_fresh_process
from lab2.bench.reference import numpy_sgd
from lab2.models.linear import LinearNLL


def small_problem(n=12, size=7, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, size, size))
    t = rng.integers(0, 2, n)
    w = 0.1 * rng.standard_normal((size, size))
    orders = [rng.permutation(n) for _ in range(3)]
    return x, t, w, orders


def autograd_sgd(x, t, w, w0, lr, orders):
    """Per-example SGD through the hand-written backward, one update per example."""
    x = torch.from_numpy(x)
    w = torch.tensor(w, requires_grad=True)
    w0 = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    for order in orders:
        for i in order:
            loss, _ = LinearNLL.apply(x[i : i + 1], w, w0, torch.tensor([int(t[i])]))
            grad_w, grad_w0 = torch.autograd.grad(loss.sum(), (w, w0))
            with torch.no_grad():
                w -= lr * grad_w
                w0 -= lr * grad_w0
    return w.detach().numpy(), w0.item()


def test_the_numpy_loop_ends_where_the_hand_written_gradient_does():
    x, t, w, orders = small_problem()
    expected_w, expected_w0 = autograd_sgd(x, t, w, 0.0, 0.5, orders)
    for flat in (False, True):
        result = numpy_sgd(x, t, w, 0.0, 0.5, orders, flat)
        np.testing.assert_allclose(result["w"], expected_w, rtol=0, atol=1e-12)
        assert abs(result["w0"] - expected_w0) < 1e-12
        assert result["examples"] == 3 * len(t)
        assert result["seconds"] > 0


def test_the_numpy_loop_follows_the_order_it_is_given():
    x, t, w, orders = small_problem()
    forward = numpy_sgd(x, t, w, 0.0, 0.5, orders)["w"]
    backward = numpy_sgd(x, t, w, 0.0, 0.5, [o[::-1] for o in orders])["w"]
    assert np.abs(forward - backward).max() > 1e-6


def test_in_fresh_process_returns_the_result_and_its_own_peak_memory():
    x, t, w, orders = small_problem()
    result = in_fresh_process(numpy_sgd, x, t, w, 0.0, 0.5, orders)
    np.testing.assert_array_equal(result["w"], numpy_sgd(x, t, w, 0.0, 0.5, orders)["w"])
    # A process that imported NumPy but not torch: well under torch's few hundred MiB.
    assert 5 < result["peak_rss_mb"] < 150
