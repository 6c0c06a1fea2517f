import lightning as L
import pytest
import torch

from lab2.data.loader import EpochOrder
from lab2.data.patches import SyntheticCells
from lab2.errors import InputError
from lab2.models.linear import LinearNLL
from lab2.tasks.linear import LinearTask

SGD = {"name": "sgd", "lr": 0.1}


def fit(task, data, epochs=3, **kwargs):
    trainer = L.Trainer(
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **kwargs,
    )
    trainer.fit(task, datamodule=data)
    return trainer


def small_data(**kwargs):
    return SyntheticCells(n_foreground=30, n_background=30, seed=2, **kwargs)


def test_fast_path_gives_the_w_of_a_plain_autograd_loop():
    torch.manual_seed(0)
    task = LinearTask(init_scale=1.0, optim=SGD, fast_sgd=True)
    start_w, start_w0 = task.model.w.detach().clone(), task.model.w0.detach().clone()
    data = small_data()
    trainer = fit(task, data, epochs=3)
    assert not task.automatic_optimization
    assert trainer.global_step == 3  # one Lightning step per epoch

    # The same epochs by hand: same split, same per-epoch orders, one patch per update.
    x, t = data.sets["train"]
    w, w0 = start_w.clone().requires_grad_(), start_w0.clone().requires_grad_()
    order = EpochOrder(len(t), shuffle=True, seed=2)
    for epoch in range(3):
        order.set_epoch(epoch)
        for i in order.indices().tolist():
            losses, _ = LinearNLL.apply(x[i : i + 1], w, w0, t[i : i + 1])
            losses.sum().backward()
            with torch.no_grad():
                w -= 0.1 * w.grad
                w0 -= 0.1 * w0.grad
            w.grad, w0.grad = None, None

    torch.testing.assert_close(task.model.w.detach(), w.detach(), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(task.model.w0.detach(), w0.detach(), rtol=1e-9, atol=1e-9)


def test_fast_and_lightning_paths_log_the_same_metrics():
    results = []
    for fast_sgd in (True, False):
        torch.manual_seed(0)
        trainer = fit(LinearTask(optim=SGD, fast_sgd=fast_sgd), small_data(), epochs=2)
        results.append({k: float(v) for k, v in trainer.callback_metrics.items()})
    assert results[0].keys() == results[1].keys()
    for key in results[0]:
        assert results[0][key] == pytest.approx(results[1][key], abs=1e-9), key


def test_auto_takes_lightning_steps_where_the_fast_path_does_not_apply():
    task = LinearTask(optim={**SGD, "momentum": 0.9})
    trainer = fit(task, small_data(), epochs=1)
    assert task.automatic_optimization
    assert trainer.global_step == 48  # one step per training patch


@pytest.mark.parametrize(
    ("optim", "data_kwargs", "reason"),
    [
        (SGD, {"batch_size": 4}, r"data.batch_size is 4"),
        ({**SGD, "weight_decay": 1e-4}, {}, r"optim is not plain SGD"),
        ({"name": "adam", "lr": 0.01}, {}, r"optim is not plain SGD"),
    ],
)
def test_requiring_the_fast_path_where_it_does_not_apply_says_why(optim, data_kwargs, reason):
    task = LinearTask(optim=optim, fast_sgd=True)
    with pytest.raises(InputError, match=rf"model.fast_sgd=true, but .*{reason}"):
        fit(task, small_data(**data_kwargs), epochs=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fast_sgd": "sometimes"}, r"model.fast_sgd must be true, false or auto"),
        ({"dtype": "float16"}, r"model.dtype must be one of \['float32', 'float64'\]"),
        ({"optim": {"name": "sgd", "lr": 0}}, r"optim.lr must be a positive number, got 0"),
        ({"optim": {"name": "rmsprop", "lr": 0.1}}, r"optim.name must be one of"),
    ],
)
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(InputError, match=message):
        LinearTask(**kwargs)


def test_float32_parameters_when_asked():
    task = LinearTask(optim=SGD, dtype="float32")
    assert task.model.w.dtype == torch.float32
    fit(task, small_data(), epochs=1)
    assert torch.isfinite(task.model.w).all()
