"""Part 1: the lab's linear classifier, with its gradient written by hand.

For a patch ``x`` (35x35) with label ``t`` (1 = cell, 0 = background), the lab defines

    y   = sum(w * x) + w0                  the score: one number per patch
    p   = sigmoid(y) = 1 / (1 + e^-y)      the probability of "cell"
    L_i = -t ln p - (1 - t) ln(1 - p)      the negative log-likelihood of one patch

and asks for dL/dtheta = dL/dp * dp/dy * dy/dtheta for theta in {w, w0}. :class:`LinearNLL` is a
``torch.autograd.Function`` that computes L_i in its forward and those factors in its backward;
autograd does none of the calculus. :class:`LinearClassifier` holds ``w`` and ``w0``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.autograd.function import FunctionCtx, once_differentiable
from torch.nn import functional as F


def linear_score(x: torch.Tensor, w: torch.Tensor, w0: torch.Tensor) -> torch.Tensor:
    """The score ``y = sum(w * x) + w0`` of every patch in a batch.

    The sum runs over all pixels: one number per patch, not one per column (the ``dot(X, w)``
    mistake of LAB2.md).

    Args:
        x: ``(N, H, W)`` patches.
        w: ``(H, W)`` filter.
        w0: ``()`` bias.

    Returns:
        ``(N,)`` scores.
    """
    return x.flatten(1) @ w.flatten() + w0  # (N, H*W) @ (H*W,) -> (N,)


def nll_from_score(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The per-patch loss ``L_i`` from the score: ``softplus(y) - t * y``.

    That is ``-ln p`` for ``t = 1`` and ``-ln(1 - p)`` for ``t = 0``, without forming ``p`` or
    ``e^y``, so it stays finite for any ``y``; ``exp(y) / (1 + exp(y))`` is NaN beyond y = 710.
    """
    return F.softplus(y) - t * y  # (N,)


def score_gradient(p, t):
    """dL/dy, the first two chain-rule factors of the lab multiplied out by hand.

        dL/dp = -t / p + (1 - t) / (1 - p)      the likelihood's factor
        dp/dy = p (1 - p)                        the sigmoid's factor
        dL/dy = dL/dp * dp/dy = p - t            p (1 - p) cancels

    Formed separately, the two factors give ``inf * 0 = NaN`` as soon as ``p`` rounds to 0 or 1
    (|y| > 37 in float64, LAB2.md), which init scale 10 reaches at once; ``p - t`` cannot.

    Written with operators only, so it serves tensors (:meth:`LinearNLL.backward`) and Python
    floats (:func:`sgd_per_example_`) alike: the gradient is written once.
    """
    return p - t


class LinearNLL(torch.autograd.Function):
    """Per-patch negative log-likelihood of the linear classifier, with a hand-written backward.

    ``LinearNLL.apply(x, w, w0, t)`` returns ``(losses, y)``: the ``(N,)`` losses ``L_i`` and the
    ``(N,)`` scores ``y`` they came from (``y`` carries no gradient; it is returned so that
    predictions need no second pass).

    The forward evaluates ``L_i`` with :func:`nll_from_score`, finite for any ``y``.
    """

    @staticmethod
    def forward(
        ctx: FunctionCtx, x: torch.Tensor, w: torch.Tensor, w0: torch.Tensor, t: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        y = linear_score(x, w, w0)  # (N,)
        t = t.to(y.dtype)  # (N,)
        losses = nll_from_score(y, t)  # (N,)
        ctx.save_for_backward(x, w, y, t)
        ctx.mark_non_differentiable(y)
        return losses, y

    @staticmethod
    @once_differentiable
    def backward(
        ctx: FunctionCtx, grad_losses: torch.Tensor, _grad_y: torch.Tensor | None
    ) -> tuple[torch.Tensor | None, ...]:
        x, w, y, t = ctx.saved_tensors
        p = torch.sigmoid(y)  # (N,)

        # dL/dp * dp/dy = dL/dy, multiplied out by hand to p - t (see score_gradient).
        grad_y = grad_losses * score_gradient(p, t)  # (N,)

        # dy/dw = x: every pixel's weight moves with that pixel's intensity.
        grad_w = None
        if ctx.needs_input_grad[1]:
            grad_w = (grad_y @ x.flatten(1)).view_as(x[0])  # (N,) @ (N, H*W) -> (H, W)

        # dy/dw0 = 1.
        grad_w0 = grad_y.sum() if ctx.needs_input_grad[2] else None  # ()

        # dy/dx = w, for saliency maps; training never asks for it. Labels get no gradient.
        grad_x = grad_y[:, None, None] * w if ctx.needs_input_grad[0] else None  # (N, H, W)
        return grad_x, grad_w, grad_w0, None


class LinearClassifier(nn.Module):
    """The lab's classifier: one ``patch_size`` x ``patch_size`` filter ``w`` and a bias ``w0``.

    Args:
        patch_size: height and width of the patches (35 in the lab).
        init_scale: ``s`` in ``w = s * randn(35, 35)`` (Ex 2.6); ``w0`` starts at 0.
        dtype: the parameters' floating-point type. The lab computes in double precision; with
            a learning rate of 0.1 per-example SGD is sensitive enough that float32 rounding
            alone changes which patches end up misclassified.
    """

    def __init__(
        self, patch_size: int = 35, init_scale: float = 0.01, dtype: torch.dtype = torch.float64
    ) -> None:
        super().__init__()
        self.w = nn.Parameter(init_scale * torch.randn(patch_size, patch_size, dtype=dtype))
        self.w0 = nn.Parameter(torch.zeros((), dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores ``y`` of a batch of patches ``x`` ``(N, S, S)``; ``p = sigmoid(y)``."""
        return linear_score(x.to(self.w.dtype), self.w, self.w0)  # (N,)

    def nll(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-patch losses ``L_i`` ``(N,)`` and scores ``y`` ``(N,)`` for patches ``x`` and
        labels ``t``, through the hand-written backward of :class:`LinearNLL`."""
        return LinearNLL.apply(x.to(self.w.dtype), self.w, self.w0, t)


def sgd_per_example_(
    w: torch.Tensor, w0: torch.Tensor, x: torch.Tensor, t: torch.Tensor, lr: float
) -> torch.Tensor:
    """Stochastic gradient descent on one patch at a time, in place, in the order given (Ex 2.5).

    For each patch in turn: ``y = <w, x_i> + w0``, ``p = sigmoid(y)``, ``dL/dy`` from
    :func:`score_gradient` (the same code as :meth:`LinearNLL.backward`), then
    ``w -= lr * dL/dy * x_i`` (dy/dw = x) and ``w0 -= lr * dL/dy`` (dy/dw0 = 1). This is the
    update ``LinearNLL`` and ``torch.optim.SGD`` make with a batch of one, without the
    per-step cost of building and walking an autograd graph or of dispatching a torch
    operation: the scalar factors are Python floats, and the dot product and the update work on
    NumPy views of the tensors' own memory, which makes the lab's batch-size-one training run
    at the speed of a plain NumPy loop.

    Args:
        w: ``(H, W)`` filter on the CPU, updated in place.
        w0: ``()`` bias, updated in place.
        x: ``(N, H, W)`` patches on the CPU, in the order to visit them.
        t: ``(N,)`` labels (1 = cell, 0 = background).
        lr: the learning rate.

    Returns:
        ``(N,)`` the score of each patch just before its own update: the training predictions
        the loss and metrics of the epoch are computed from.
    """
    if w.device.type != "cpu" or x.device.type != "cpu":
        raise ValueError(f"sgd_per_example_ runs on the CPU, got w on {w.device}, x on {x.device}")
    scores = np.empty(len(t))
    with torch.no_grad():
        w_flat = w.detach().view(-1).numpy()  # (H*W,), shares w's memory
        rows = x.to(w.dtype).flatten(1).numpy()  # (N, H*W)
        bias = float(w0)
        for i, (row, label) in enumerate(zip(rows, t.tolist(), strict=True)):
            y = float(row @ w_flat) + bias  # y = <w, x> + w0
            grad_y = score_gradient(_sigmoid(y), label)  # dL/dy
            w_flat -= (lr * grad_y) * row  # dy/dw = x
            bias -= lr * grad_y  # dy/dw0 = 1
            scores[i] = y
        w0.fill_(bias)
    return torch.from_numpy(scores).to(w.dtype)


def _sigmoid(y: float) -> float:
    """``1 / (1 + e^-y)`` for a Python float, without overflow for any ``y``."""
    e = math.exp(-abs(y))
    return 1.0 / (1.0 + e) if y >= 0 else e / (1.0 + e)
