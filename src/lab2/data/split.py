"""Seeded random splits of a data set into named parts."""

from __future__ import annotations

import torch

from lab2.errors import InputError, is_number


def split_indices(
    n: int, fractions: dict[str, float], seed: int, labels: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """Splits ``range(n)`` at random into parts of the given sizes; the rest is ``"train"``.

    Each part ``name`` gets ``round(fraction * n)`` examples (per class when ``labels`` is given,
    so each part keeps the class proportions: a stratified split). The order within a part is
    the random order it was drawn in.

    Args:
        n: the number of examples.
        fractions: the share of each held-out part, for example ``{"val": 0.2}``; the names are
            the settings' names without the ``_fraction`` suffix.
        seed: seed of the permutation; the same seed gives the same split.
        labels: ``(n,)`` class labels to stratify by, or ``None`` for a plain random split.

    Returns:
        The indices of each part, ``"train"`` first, as int64 tensors.

    Raises:
        InputError: a fraction outside [0, 1), or a part (or a class within it) left empty.

    Example:
        >>> parts = split_indices(10, {"val": 0.2}, seed=0)
        >>> {name: len(idx) for name, idx in parts.items()}
        {'train': 8, 'val': 2}
    """
    for name, fraction in fractions.items():
        if not is_number(fraction) or not 0.0 <= fraction < 1.0:
            raise InputError(f"data.{name}_fraction must be a number in [0, 1), got {fraction!r}")
    if sum(fractions.values()) >= 1.0:
        raise InputError(
            f"the held-out fractions {fractions} add up to {sum(fractions.values()):g}; "
            "they must leave some data for training (a sum below 1)"
        )

    generator = torch.Generator().manual_seed(seed)
    groups = (
        [torch.arange(n)]
        if labels is None
        else [torch.nonzero(labels == c).flatten() for c in torch.unique(labels)]
    )
    parts: dict[str, list[torch.Tensor]] = {"train": [], **{name: [] for name in fractions}}
    for group in groups:
        group = group[torch.randperm(len(group), generator=generator)]
        start = 0
        for name, fraction in fractions.items():
            size = round(fraction * len(group))
            parts[name].append(group[start : start + size])
            start += size
        parts["train"].append(group[start:])

    merged = {}
    for name, pieces in parts.items():
        indices = torch.cat(pieces)
        # Mix the classes back together in a seeded order, so "fixed order" is not class-sorted.
        merged[name] = indices[torch.randperm(len(indices), generator=generator)]
        _check_not_empty(name, merged[name], fractions, n, labels)
    return merged


def _check_not_empty(
    name: str,
    indices: torch.Tensor,
    fractions: dict[str, float],
    n: int,
    labels: torch.Tensor | None,
) -> None:
    setting = "the training share left over" if name == "train" else f"data.{name}_fraction"
    if len(indices) == 0:
        raise InputError(
            f"the split leaves the {name!r} set empty: {setting} of {n} examples rounds to 0 "
            f"(fractions {fractions}); use a larger fraction or more data"
        )
    if labels is None:
        return
    missing = set(torch.unique(labels).tolist()) - set(torch.unique(labels[indices]).tolist())
    if missing:
        raise InputError(
            f"the split leaves class(es) {sorted(missing)} out of the {name!r} set: {setting} "
            f"is too small for the examples of those classes; use a larger fraction or more data"
        )
