"""Input normalisation that travels with the network."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class ZeroCenter(nn.Module):
    """Subtracts the mean training image: MATLAB's default input normalisation, 'zerocenter'.

    The mean is a buffer, not a parameter: it is set once from the training set (:meth:`fit`),
    never trained, and saved in the ``state_dict``, so a checkpoint carries it and a reloaded
    network sees its inputs exactly as in training.

    Args:
        input_shape: one example's shape, ``(C, H, W)``.
    """

    def __init__(self, input_shape: Sequence[int]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(tuple(input_shape)))

    def fit(self, mean: torch.Tensor) -> None:
        """Sets the mean image; ``mean`` must have the input shape."""
        if mean.shape != self.mean.shape:
            raise ValueError(f"mean image of shape {tuple(mean.shape)}, expected {self.mean.shape}")
        self.mean.copy_(mean)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.mean  # (N, C, H, W) - (C, H, W)

    def extra_repr(self) -> str:
        return f"input_shape={tuple(self.mean.shape)}"
