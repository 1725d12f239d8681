"""Style blocks against closed forms: demodulation, AdaIN statistics, truncation, mixing, equalised lr."""

import pytest
import torch
import torch.nn.functional as F

from genlab.nn.style import (
    AdaIN,
    EqualLinear,
    MappingNetwork,
    ModulatedConv2d,
    NoiseInjection,
    adain,
    mix_styles,
    modulate_weight,
    pixel_norm,
    truncate,
)


def test_demodulated_weights_have_unit_norm_per_output_channel():
    g = torch.Generator().manual_seed(0)
    weight, styles = torch.randn(5, 3, 3, 3, generator=g), torch.rand(4, 3, generator=g) * 3
    w = modulate_weight(weight, styles)
    assert w.shape == (4, 5, 3, 3, 3)
    assert torch.allclose(w.square().sum(dim=(2, 3, 4)), torch.ones(4, 5), atol=1e-5)


def test_modulation_without_demodulation_scales_the_input_channels():
    weight, styles = torch.randn(2, 3, 1, 1), torch.tensor([[1.0, 2.0, -1.0]])
    w = modulate_weight(weight, styles, demodulate=False)
    assert torch.equal(w[0], weight * torch.tensor([1.0, 2.0, -1.0]).view(1, 3, 1, 1))


def test_demodulation_gives_unit_variance_outputs_for_unit_variance_inputs():
    g = torch.Generator().manual_seed(1)
    conv = ModulatedConv2d(16, 8, 3, w_dim=6)
    x = torch.randn(3, 16, 66, 66, generator=g)
    w = torch.randn(3, 6, generator=g) * 2  # styles far from 1, which demodulation must undo
    with torch.no_grad():
        out = conv(x, w)[:, :, 1:-1, 1:-1]  # interior: the zero padding lowers the border's variance
    per_channel = out.var(dim=(2, 3))  # (3, 8), each over 4096 pixels
    assert torch.allclose(per_channel, torch.ones(3, 8), atol=0.12)
    with torch.no_grad():
        raw = ModulatedConv2d(16, 8, 3, w_dim=6, demodulate=False)
        raw.load_state_dict(conv.state_dict())
        assert raw(x, w).var() > 1.5  # without demodulation the styles' scale comes through


def test_modulated_conv_equals_a_per_sample_convolution():
    g = torch.Generator().manual_seed(2)
    conv = ModulatedConv2d(3, 4, 3, w_dim=5)
    x, w = torch.randn(2, 3, 6, 6, generator=g), torch.randn(2, 5, generator=g)
    with torch.no_grad():
        out = conv(x, w)
        weights = modulate_weight(conv.weight * conv.scale, conv.affine(w))
        ref = torch.cat([F.conv2d(x[i : i + 1], weights[i], padding=1) for i in range(2)])
    assert torch.allclose(out, ref, atol=1e-5)
    assert ModulatedConv2d(3, 4, 3, w_dim=5, up=True)(x, w).shape == (2, 4, 12, 12)


def test_adain_output_has_the_styles_mean_and_std_per_channel():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 4, 16, 16, generator=g) * 5 + 3
    scale, bias = torch.tensor([[0.5, 2.0, 1.0, 3.0], [1.5, 0.1, 4.0, 1.0]]), torch.randn(2, 4, generator=g)
    y = adain(x, scale, bias)
    assert torch.allclose(y.mean(dim=(2, 3)), bias, atol=1e-5)
    assert torch.allclose(y.std(dim=(2, 3), unbiased=False), scale, atol=1e-4)
    layer = AdaIN(4, w_dim=3)
    assert layer(x, torch.randn(2, 3, generator=g)).shape == x.shape


def test_truncation_endpoints_and_midpoint():
    w, w_avg = torch.randn(5, 3, 4), torch.randn(4)
    assert torch.allclose(truncate(w, w_avg, 0.0), w_avg.expand(5, 3, 4))
    assert torch.equal(truncate(w, w_avg, 1.0), w)
    assert torch.allclose(truncate(w, w_avg, 0.5), (w + w_avg) / 2)


def test_mix_styles_takes_layers_before_the_cutoff_from_the_first():
    a, b = torch.zeros(2, 6, 3), torch.ones(2, 6, 3)
    mixed = mix_styles(a, b, 2)
    assert torch.equal(mixed[:, :2], a[:, :2]) and torch.equal(mixed[:, 2:], b[:, 2:])
    assert torch.equal(mix_styles(a, b, 6), a) and torch.equal(mix_styles(a, b, 0), b)
    with pytest.raises(ValueError):
        mix_styles(a, b, 7)


def test_pixel_norm_makes_the_mapping_invariant_to_the_scale_of_z():
    torch.manual_seed(0)
    mapping = MappingNetwork(8, 5, layers=8, width=16)
    z = torch.randn(4, 8)
    assert torch.allclose(pixel_norm(z).square().mean(dim=1), torch.ones(4), atol=1e-5)
    assert mapping(z).shape == (4, 5) and len(mapping.net) == 8
    assert torch.allclose(mapping(z), mapping(3 * z), atol=1e-5)


def test_equalised_lr_multiplier_keeps_the_function_and_scales_the_gradient():
    x = torch.randn(6, 10)
    layers = []
    for lr_mul in (1.0, 0.01):
        torch.manual_seed(4)
        layer = EqualLinear(10, 3, bias_init=0.5, lr_mul=lr_mul)
        layer(x).square().sum().backward()
        layers.append(layer)
    fast, slow = layers
    assert torch.allclose(fast(x), slow(x), atol=1e-5)  # same effective weights at init
    assert torch.allclose(slow.weight.grad, 0.01 * fast.weight.grad, rtol=1e-4, atol=1e-7)


def test_noise_injection_starts_at_zero_and_scales_per_channel():
    layer = NoiseInjection(3)
    x, noise = torch.randn(2, 3, 4, 4), torch.randn(2, 1, 4, 4)
    assert torch.equal(layer(x, noise), x) and torch.equal(layer(x, None), x)
    with torch.no_grad():
        layer.strength.copy_(torch.tensor([0.0, 1.0, 2.0]))
    out = layer(x, noise)
    assert torch.allclose(out - x, noise * torch.tensor([0.0, 1.0, 2.0]).view(1, 3, 1, 1))
