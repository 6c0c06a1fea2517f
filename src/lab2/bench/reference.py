"""The minimal loops the project's training paths are measured against.

:func:`numpy_sgd` imports NumPy only, so a process that runs it holds no torch or Lightning in
memory. :func:`torch_loop` is the bare PyTorch loop Part 2's ``fit`` is compared with.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np


def numpy_sgd(
    x: np.ndarray,
    t: np.ndarray,
    w: np.ndarray,
    w0: float,
    lr: float,
    orders: Sequence[np.ndarray],
    flat: bool = False,
) -> dict[str, Any]:
    """The lab's per-example SGD as a minimal NumPy loop, in float64.

    Args:
        x: ``(N, H, W)`` patches.
        t: ``(N,)`` labels (1 = cell).
        w: ``(H, W)`` initial filter (copied, not changed).
        w0: initial bias.
        lr: learning rate.
        orders: one index order per epoch.
        flat: ``False``: the lab's loop as written, ``y = sum(w .* x) + w0`` on the 35x35
            arrays. ``True``: the same on flattened patches with a dot product, about twice as
            fast in NumPy; the same numbers up to rounding.

    Returns:
        ``{"w", "w0", "seconds", "examples"}``: the final weights, the loop's time and the
        number of updates.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.array(w, dtype=np.float64)
    shape = w.shape
    if flat:
        x, w = x.reshape(len(x), -1), w.reshape(-1)
    started = time.perf_counter()
    for order in orders:
        for i in order:
            y = x[i] @ w + w0 if flat else np.sum(w * x[i]) + w0
            p = 1.0 / (1.0 + np.exp(-y))
            dloss_dy = p - t[i]  # dL/dp * dp/dy of the negative log-likelihood
            w -= lr * dloss_dy * x[i]
            w0 -= lr * dloss_dy
    seconds = time.perf_counter() - started
    return {
        "w": w.reshape(shape),
        "w0": float(w0),
        "seconds": seconds,
        "examples": sum(map(len, orders)),
    }


def torch_loop(config: dict[str, Any], epochs: int) -> dict[str, Any]:
    """A bare PyTorch loop over the model, optimiser, batch sizes, in-memory training data,
    device and mixed precision (``bf16-mixed``, ``16-mixed``) that ``lab2-train`` would use with
    ``config``: per epoch a shuffled pass of mini-batch steps, then the validation set's
    accuracy in batches of ``data.eval_batch_size`` (the project validates every epoch too).

    Returns:
        ``{"epoch_s": [...], "val_s": [...], "images": N, "val_acc": [...]}``: each epoch's
        wall time and the validation's share of it, the number of training images per epoch and
        each epoch's validation accuracy.
    """
    import torch
    import torch.nn.functional as F
    from omegaconf import OmegaConf

    from lab2.cli.common import build, build_task, seed_everything

    config = OmegaConf.create(config)
    seed_everything(config)
    datamodule = build(config.data)
    datamodule.setup("fit")
    # The device and precision lab2-train's Trainer would use.
    accelerator = config.trainer.accelerator
    gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if gpu else "cpu")
    precision = str(config.trainer.precision)
    autocast_dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)

    def autocast() -> torch.autocast:
        return torch.autocast(device.type, autocast_dtype, enabled=autocast_dtype is not None)

    model = build_task(config).model.to(device)  # the network behind its zero-centre layer
    model.zero_center.fit(datamodule.mean_input().to(device))
    optim = config.optim
    optimizer = torch.optim.SGD(
        model.parameters(), lr=optim.lr, momentum=optim.momentum, weight_decay=optim.weight_decay
    )
    x, t = (tensor.to(device) for tensor in datamodule.sets["train"])
    x_val, t_val = (tensor.to(device) for tensor in datamodule.sets["val"])
    # The memory order the task feeds its network (ImageClassifier.forward), set once here.
    x, x_val = (images.contiguous(memory_format=torch.channels_last) for images in (x, x_val))
    batch_size = datamodule.batch_size
    generator = torch.Generator().manual_seed(config.seed)

    epoch_s, val_s, val_acc = [], [], []
    for _ in range(epochs):
        started = time.perf_counter()
        model.train()
        for batch in torch.randperm(len(t), generator=generator).split(batch_size):
            batch = batch.to(device)
            with autocast():
                loss = F.cross_entropy(model(x[batch]), t[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        validation_started = time.perf_counter()
        model.eval()
        with torch.no_grad(), autocast():
            correct = sum(
                (model(images).argmax(dim=1) == labels).sum()
                for images, labels in zip(
                    x_val.split(datamodule.eval_batch_size),
                    t_val.split(datamodule.eval_batch_size),
                    strict=True,
                )
            ).item()
        ended = time.perf_counter()
        epoch_s.append(ended - started)
        val_s.append(ended - validation_started)
        val_acc.append(correct / len(t_val))
    return {"epoch_s": epoch_s, "val_s": val_s, "images": len(t), "val_acc": val_acc}


def lightning_loop(config: dict[str, Any], epochs: int, timing_path: str) -> dict[str, Any]:
    """The bare loop's work through a Lightning ``Trainer`` with nothing else: the same model,
    optimiser, data module and precision as ``lab2-train``, but a training step that is its
    forward pass and loss, a validation step that counts correct answers, and no metrics,
    logger, checkpoint, model summary or progress bar. What Lightning itself adds to a step.

    Times the fit with a :class:`~lab2.bench.timing.FitTimer` writing to ``timing_path``.

    Returns:
        ``{"val_acc": ...}``: the last validation's accuracy; the times are in ``timing_path``.
    """
    import lightning as L
    import torch
    import torch.nn.functional as F
    from omegaconf import OmegaConf

    from lab2.bench.timing import FitTimer
    from lab2.cli.common import build, build_task, seed_everything

    config = OmegaConf.create(config)
    seed_everything(config)
    datamodule = build(config.data)
    task = build_task(config)
    optim = config.optim

    class Plain(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = task.model
            self.correct = self.seen = 0

        def setup(self, stage: str) -> None:
            self.model.zero_center.fit(datamodule.mean_input())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.model(x.contiguous(memory_format=torch.channels_last))

        def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> torch.Tensor:
            x, t = batch
            return F.cross_entropy(self(x), t)

        def on_validation_epoch_start(self) -> None:
            self.correct = self.seen = 0

        def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
            x, t = batch
            self.correct += int((self(x).argmax(dim=1) == t).sum())
            self.seen += len(t)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(
                self.parameters(),
                lr=optim.lr,
                momentum=optim.momentum,
                weight_decay=optim.weight_decay,
            )

    module = Plain()
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator=config.trainer.accelerator,
        devices=1,
        precision=config.trainer.precision,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=False,
        callbacks=[FitTimer(timing_path)],
    )
    trainer.fit(module, datamodule=datamodule)
    return {"val_acc": module.correct / max(module.seen, 1)}
