"""The analysis tests run torch on one thread: their tensors are tiny, and on a machine shared
with a training run, two threads waiting on each other made them several times slower."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
