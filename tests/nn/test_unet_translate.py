"""The pix2pix generators: the mobile (depthwise-separable) U-Net of the real-time filter."""

import pytest
import torch
from torch import nn

from genlab.nn.unet_translate import MobileTranslationUNet, TranslationUNet


@pytest.mark.parametrize("size", [(28, 28), (64, 48), (256, 256)])
def test_mobile_unet_keeps_the_image_size_and_range(size):
    net = MobileTranslationUNet(3, 3, 4, 4).eval()
    x = torch.rand(2, 3, *size) * 2 - 1
    y = net(x)
    assert y.shape == (2, 3, *size) and y.abs().max() < 1


def test_mobile_unet_is_deterministic_and_ignores_dropout_generators():
    net = MobileTranslationUNet(1, 1, 4, 3).eval()
    x = torch.randn(3, 1, 32, 32)
    assert torch.equal(net(x, torch.Generator().manual_seed(0)), net(x, torch.Generator().manual_seed(1)))
    assert torch.equal(net(x), net(x, None))


def test_mobile_unet_uses_depthwise_convolutions_and_is_much_smaller():
    mobile, unet = MobileTranslationUNet(3, 3, 8, 6), TranslationUNet(3, 3, 8, 6)
    depthwise = [m for m in mobile.modules() if isinstance(m, nn.Conv2d) and m.groups == m.in_channels > 1]
    assert len(depthwise) == 2 * 5  # one per separable block: 5 down, 5 up
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert count(mobile) * 5 < count(unet)
    assert count(mobile) * 4 / 1e6 < 12  # float32 bytes, far below the 12 MB budget


def test_each_output_pixel_sees_the_whole_picture_at_depth_6():
    """Filling a shape needs context beyond the outline: an input change far away reaches the centre."""
    torch.manual_seed(0)
    net = MobileTranslationUNet(3, 3, 4, 6).eval()
    x = torch.randn(1, 3, 256, 256, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    net(x)[0, :, 128, 128].sum().backward()
    reach = x.grad[0].abs().sum(0).nonzero()
    assert (reach.max(0).values - reach.min(0).values).min() > 128
