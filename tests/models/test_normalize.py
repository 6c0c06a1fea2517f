import pytest
import torch

from lab2.models.normalize import ZeroCenter


def test_subtracts_the_fitted_mean_image():
    layer = ZeroCenter((1, 4, 4))
    images = torch.rand(10, 1, 4, 4)
    layer.fit(images.mean(0))
    centred = layer(images)
    torch.testing.assert_close(centred.mean(0), torch.zeros(1, 4, 4), atol=1e-6, rtol=0)
    torch.testing.assert_close(centred, images - images.mean(0))


def test_the_mean_is_a_saved_buffer_not_a_parameter():
    layer = ZeroCenter((1, 4, 4))
    layer.fit(torch.full((1, 4, 4), 0.25))
    assert list(layer.parameters()) == []
    assert torch.equal(layer.state_dict()["mean"], torch.full((1, 4, 4), 0.25))
    restored = ZeroCenter((1, 4, 4))
    restored.load_state_dict(layer.state_dict())
    assert torch.equal(restored.mean, layer.mean)


def test_a_mean_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"mean image of shape \(4, 4\), expected"):
        ZeroCenter((1, 4, 4)).fit(torch.zeros(4, 4))
