import torch

from lab2.data.loader import EpochOrder, TensorBatches


def visit_order(loader, epoch):
    loader.sampler.set_epoch(epoch)
    return torch.cat([x for x, _ in loader]).tolist()


def make_loader(n=10, batch_size=1, shuffle=True, **kwargs):
    x = torch.arange(n)
    return TensorBatches((x, x % 2), batch_size, EpochOrder(n, shuffle, seed=0, **kwargs))


def test_fixed_order_is_the_same_every_epoch():
    loader = make_loader(shuffle=False)
    orders = [visit_order(loader, epoch) for epoch in range(3)]
    assert orders[0] == orders[1] == orders[2] == list(range(10))


def test_shuffled_order_changes_every_epoch_and_is_reproducible():
    loader = make_loader(shuffle=True)
    first, second = visit_order(loader, 0), visit_order(loader, 1)
    assert first != second
    assert sorted(first) == sorted(second) == list(range(10))
    assert visit_order(make_loader(shuffle=True), 1) == second


def test_batches_cover_everything_once():
    loader = make_loader(n=10, batch_size=4)
    sizes = [len(x) for x, _ in loader]
    assert sizes == [4, 4, 2]
    assert len(loader) == 3


def test_labels_stay_with_their_examples():
    for x, t in make_loader(n=9, batch_size=2):
        assert torch.equal(t, x % 2)


def test_ranks_share_the_epoch_without_overlap_when_not_padded():
    shards = [
        visit_order(make_loader(n=10, num_replicas=3, rank=r, pad=False), epoch=2) for r in range(3)
    ]
    assert sorted(i for shard in shards for i in shard) == list(range(10))


def test_padded_ranks_run_the_same_number_of_steps():
    loaders = [make_loader(n=10, num_replicas=3, rank=r, pad=True) for r in range(3)]
    assert {len(loader) for loader in loaders} == {4}
    assert {len(visit_order(loader, 0)) for loader in loaders} == {4}
