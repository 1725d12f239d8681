"""The text-conditioned U-Net: shapes, where cross-attention sits, and that the caption matters."""

import torch

from genlab.nn.cross_attention import CrossAttention
from genlab.nn.unet_text import TextUNet


def unet(**kw):
    torch.manual_seed(0)
    net = TextUNet(3, 6, base=4, channel_mults=(1, 2), attention=False, **kw)
    with torch.no_grad():  # zero-initialised layers (identity blocks, output conv) would hide the caption
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return net


def test_output_shape_and_cross_attention_below_full_resolution():
    net = unet()
    x, t = torch.randn(2, 3, 8, 8), torch.tensor([3, 7])
    out = net(x, t, torch.randn(2, 4, 6), torch.ones(2, 4, dtype=torch.bool))
    assert out.shape == x.shape
    kinds = [type(m).__name__ for m in (*net.down_cross, net.mid_cross, *net.up_cross)]
    assert kinds == ["_NoCross", "CrossAttention", "CrossAttention", "CrossAttention", "_NoCross"]
    assert not any(isinstance(m, CrossAttention) for m in unet(cross_attention=False).modules())


def test_the_caption_changes_the_prediction_and_padding_does_not():
    net = unet()
    x, t = torch.randn(2, 3, 8, 8), torch.tensor([3, 7])
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(2, 4, 6, generator=g), torch.randn(2, 4, 6, generator=g)
    mask = torch.tensor([[True, True, False, False], [True, True, True, False]])
    assert not torch.allclose(net(x, t, a, mask), net(x, t, b, mask))
    padded = a.clone()
    padded[~mask] = 5.0
    torch.testing.assert_close(net(x, t, a, mask), net(x, t, padded, mask))
