"""Mini-batches sliced from tensors held in memory.

The lab's data sets are small (a few hundred patches, a few thousand digits), so every split
lives in one tensor, on the training device. A batch is one indexing operation; there is no
per-example Python work, no worker process and no collate function, which is what makes the
lab's batch-size-one SGD affordable.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch


class EpochOrder:
    """The order in which one epoch visits the examples.

    With ``shuffle=True`` every epoch gets a fresh permutation drawn from ``(seed, epoch)``, so a
    resumed run sees the same orders as an uninterrupted one; with ``shuffle=False`` every epoch
    visits the examples in their stored order (Ex 2.7).

    With several processes (DDP), each ``rank`` takes every ``num_replicas``-th example of the
    epoch's order. For training (``pad=True``) the order is first padded by repeating its start,
    so every process runs the same number of steps; evaluation does not pad, so no example is
    counted twice.

    Lightning calls :meth:`set_epoch` at the start of every training epoch, as it does for a
    ``DistributedSampler``.
    """

    def __init__(
        self,
        n: int,
        shuffle: bool,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        pad: bool = True,
    ) -> None:
        self.n, self.shuffle, self.seed = n, shuffle, seed
        self.num_replicas, self.rank, self.pad = num_replicas, rank, pad
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def indices(self) -> torch.Tensor:
        """The example indices this process visits in the current epoch, in order."""
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
            order = torch.from_numpy(order)
        else:
            order = torch.arange(self.n)
        if self.num_replicas == 1:
            return order
        if self.pad and self.n % self.num_replicas:
            extra = self.num_replicas - self.n % self.num_replicas
            order = torch.cat([order, order[:extra]])
        return order[self.rank :: self.num_replicas]

    def __len__(self) -> int:
        if self.num_replicas == 1:
            return self.n
        if self.pad:
            return -(-self.n // self.num_replicas)
        return len(range(self.rank, self.n, self.num_replicas))


class TensorBatches:
    """An iterable of mini-batches ``(x[idx], t[idx])`` over tensors of equal length.

    Args:
        tensors: tensors whose first dimension indexes the examples.
        batch_size: examples per batch; the last batch may be smaller.
        order: which examples each epoch visits, and in which order. Exposed as ``sampler`` so
            that Lightning finds its ``set_epoch``.
    """

    def __init__(self, tensors: tuple[torch.Tensor, ...], batch_size: int, order: EpochOrder):
        lengths = {len(t) for t in tensors}
        if len(lengths) != 1:
            raise ValueError(f"tensors must have the same first dimension, got {sorted(lengths)}")
        self.tensors = tensors
        self.batch_size = batch_size
        self.sampler = order
        self.batch_sampler = None  # Lightning inspects both attributes of a loader

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        indices = self.sampler.indices().to(self.tensors[0].device)
        for start in range(0, len(indices), self.batch_size):
            batch = indices[start : start + self.batch_size]
            yield tuple(t[batch] for t in self.tensors)

    def __len__(self) -> int:
        return -(-len(self.sampler) // self.batch_size)
