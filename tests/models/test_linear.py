import pytest
import torch
from torch.autograd import gradcheck

from lab2.models.linear import LinearClassifier, LinearNLL, linear_score, sgd_per_example_


def reference_nll(x, w, w0, t):
    """The lab's formulas written plainly, for autograd to differentiate."""
    y = (w * x).sum(dim=(1, 2)) + w0
    p = torch.sigmoid(y)
    return -(t * torch.log(p) + (1 - t) * torch.log(1 - p))


def random_inputs(n, size=6, scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, size, size, generator=g, dtype=torch.float64)
    w = scale * torch.randn(size, size, generator=g, dtype=torch.float64)
    w0 = torch.randn((), generator=g, dtype=torch.float64)
    t = torch.randint(0, 2, (n,), generator=g)
    return x, w, w0, t


@pytest.mark.parametrize("n", [1, 5])
@pytest.mark.parametrize("with_bias_grad", [True, False])
def test_gradcheck_float64(n, with_bias_grad):
    x, w, w0, t = random_inputs(n)
    inputs = (x.requires_grad_(), w.requires_grad_(), w0.requires_grad_(with_bias_grad))
    assert gradcheck(lambda x, w, w0: LinearNLL.apply(x, w, w0, t)[0], inputs)


@pytest.mark.parametrize("n", [1, 5])
def test_gradients_equal_autograd_on_the_same_expression(n):
    x, w, w0, t = random_inputs(n, size=35)
    w.requires_grad_()
    w0.requires_grad_()
    losses, _ = LinearNLL.apply(x, w, w0, t)
    grad_w, grad_w0 = torch.autograd.grad(losses.sum(), (w, w0))

    expected = reference_nll(x, w, w0, t.double())
    ref_w, ref_w0 = torch.autograd.grad(expected.sum(), (w, w0))

    torch.testing.assert_close(losses, expected)
    torch.testing.assert_close(grad_w, ref_w)
    torch.testing.assert_close(grad_w0, ref_w0)


def test_gradient_is_p_minus_t_times_x_for_one_patch():
    x, w, w0, t = random_inputs(1)
    w.requires_grad_()
    losses, y = LinearNLL.apply(x, w, w0, t)
    (grad_w,) = torch.autograd.grad(losses.sum(), w)
    torch.testing.assert_close(grad_w, (torch.sigmoid(y) - t) * x[0])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_finite_loss_and_gradients_when_p_saturates(dtype, sign):
    x = torch.ones(4, 35, 35, dtype=dtype)
    w = torch.full((35, 35), sign * 1e4 / 35**2, dtype=dtype, requires_grad=True)  # |y| = 1e4
    w0 = torch.zeros((), dtype=dtype, requires_grad=True)
    t = torch.tensor([1, 0, 1, 0])

    losses, y = LinearNLL.apply(x, w, w0, t)
    losses.sum().backward()

    torch.testing.assert_close(y.abs(), torch.full_like(y, 1e4))
    assert torch.isfinite(losses).all()
    assert torch.isfinite(w.grad).all()
    assert torch.isfinite(w0.grad).all()
    # The wrongly classified patches cost |y| each; the right ones cost nothing.
    wrong = (t == 1) if sign < 0 else (t == 0)
    torch.testing.assert_close(losses[wrong], torch.full_like(losses[wrong], 1e4))
    torch.testing.assert_close(losses[~wrong], torch.zeros_like(losses[~wrong]))


def test_score_sums_over_all_pixels_not_columns():
    # LAB2.md: dot(X, w) on two matrices gives one number per column. The score must be one
    # number per patch, the sum over every pixel.
    x, w, w0, _ = random_inputs(3)
    y = linear_score(x, w, w0)
    assert y.shape == (3,)
    torch.testing.assert_close(y, (x * w).sum(dim=(1, 2)) + w0)


def test_classifier_initialisation_follows_init_scale():
    torch.manual_seed(0)
    model = LinearClassifier(patch_size=35, init_scale=10.0)
    assert model.w.shape == (35, 35)
    assert model.w0.shape == ()
    assert model.w0.item() == 0.0
    assert 8.0 < model.w.std().item() < 12.0
    # Init scale 10 on patches like the course's puts scores in the hundreds: p saturates.
    y = model(torch.empty(100, 35, 35).uniform_(0.1, 0.75))
    assert y.abs().median() > 50


def test_training_with_init_scale_10_stays_finite():
    torch.manual_seed(0)
    model = LinearClassifier(init_scale=10.0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.rand(8, 35, 35)
    t = torch.tensor([1, 0] * 4)
    for i in range(8):
        losses, _ = model.nll(x[i : i + 1], t[i : i + 1])
        optimizer.zero_grad()
        losses.mean().backward()
        optimizer.step()
        assert torch.isfinite(model.w).all()
        assert torch.isfinite(model.w0).all()


def autograd_sgd(w, w0, x, t, lr, epochs_orders):
    """The straightforward loop: one patch, autograd through LinearNLL, one SGD update."""
    w = w.clone().requires_grad_()
    w0 = w0.clone().requires_grad_()
    for order in epochs_orders:
        for i in order:
            losses, _ = LinearNLL.apply(x[i : i + 1], w, w0, t[i : i + 1])
            grad_w, grad_w0 = torch.autograd.grad(losses.sum(), (w, w0))
            with torch.no_grad():
                w -= lr * grad_w
                w0 -= lr * grad_w0
    return w.detach(), w0.detach()


@pytest.mark.parametrize("init_scale", [0.01, 10.0])
def test_fast_per_example_sgd_equals_the_autograd_loop(init_scale):
    x, w, w0, t = random_inputs(40, size=35, scale=init_scale, seed=3)
    g = torch.Generator().manual_seed(0)
    orders = [torch.randperm(40, generator=g) for _ in range(4)]
    expected_w, expected_w0 = autograd_sgd(w, w0, x, t, 0.1, orders)

    fast_w, fast_w0 = w.clone(), w0.clone()
    for order in orders:
        sgd_per_example_(fast_w, fast_w0, x[order], t[order], lr=0.1)

    assert torch.isfinite(fast_w).all()
    torch.testing.assert_close(fast_w, expected_w, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(fast_w0, expected_w0, rtol=1e-10, atol=1e-10)


def test_fast_sgd_returns_each_score_before_its_own_update():
    x, w, w0, t = random_inputs(5, size=35)
    start_w, start_w0 = w.clone(), w0.clone()
    scores = sgd_per_example_(w, w0, x, t, lr=0.5)
    assert scores[0].item() == pytest.approx(linear_score(x[:1], start_w, start_w0).item())
    assert not torch.equal(w, start_w)  # updated in place
    w_after_4, w0_after_4 = autograd_sgd(start_w, start_w0, x, t, 0.5, [range(4)])
    assert scores[4].item() == pytest.approx(linear_score(x[4:], w_after_4, w0_after_4).item())
