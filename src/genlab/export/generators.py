"""Export adapters of the noise-to-image families: the GANs (MLP, DCGAN, WGAN, attr-gan), the VAEs
(decoder and encoder) and StyleGAN-lite (mapping with truncation psi as an input, and synthesis).

StyleGAN's modulated convolution runs per-sample weights as one grouped convolution with B
groups; an ONNX graph fixes the group count, so its export runs the equivalent form of
StyleGAN2's ``fused_modconv=False`` path instead: scale the input channels by the style,
convolve with the shared weight, scale the output channels by the demodulation factor
(Karras et al. 2020, eqs. 1-3). Same numbers up to float rounding; the parity tests hold it
to 1e-4 against ``family.sample``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genlab.data.captions import ATTRIBUTE_SIZES, NUM_CODES, code_to_attributes
from genlab.export.graphs import BATCH, Exportable, Graph, Runner, TensorSpec, integers, normal
from genlab.models.gan import AdversarialFamily
from genlab.models.stylegan import StyleGANLite
from genlab.models.stylegan_net import StyleGenerator, StyleLayer
from genlab.models.text_gan import AttrGAN
from genlab.models.vae import VAEFamily
from genlab.nn.style import ModulatedConv2d, leaky_gain

IMAGES = "[-1, 1]"


def image_spec(name: str, shape: tuple[int, int, int], meaning: str, value_range: str = IMAGES) -> TensorSpec:
    return TensorSpec(name, (BATCH, *shape), "float32", value_range, meaning)


class _Call(nn.Module):
    """``module(*inputs)``, clamped to [-1, 1] when ``clamp``: a network as one graph."""

    def __init__(self, module: nn.Module, clamp: bool) -> None:
        super().__init__()
        self.module, self.clamp = module, clamp

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        out = self.module(*inputs)
        return out.clamp(-1, 1) if self.clamp else out


class LatentExportable(Exportable):
    """A generator (or decoder) of N(0, I) latents, optionally with class labels: one ``generator`` graph."""

    latent_dim: int = 0
    num_classes: int = 0  # > 0: a ``labels`` input
    latent_name = "z"

    def example_inputs(self, name, n, generator):
        return self._inputs(name, n, generator, None)

    def calibration(self, name, n, generator):
        return [self._inputs(name, 1, generator, None) for _ in range(n)]

    def _inputs(self, name, n, generator, labels):
        inputs = {self.latent_name: normal((n, self.latent_dim), generator)}
        if self.num_classes:
            inputs["labels"] = integers(self.num_classes, (n,), generator) if labels is None else labels
        return inputs

    def generate(self, runner: Runner, n: int, generator: torch.Generator) -> np.ndarray:
        # family.sample: z ~ N(0, I) from the generator, labels 0, 1, ..., K-1, 0, ... when conditional
        labels = np.arange(n, dtype=np.int64) % self.num_classes if self.num_classes else None
        return runner("generator", self._inputs("generator", n, generator, labels))[0]


def label_spec(num_classes: int, meaning: str = "class label") -> TensorSpec:
    return TensorSpec("labels", (BATCH,), "int64", f"0..{num_classes - 1}", meaning)


def gan_exportable(family: AdversarialFamily) -> Exportable:
    cfg = family.cfg
    if cfg.rejection == "drs":
        raise ValueError(
            "its samples come from rejection sampling against a critic (rejection=drs), a loop no single graph holds"
        )
    use_ema = cfg.ema and cfg.sample_ema
    g = family.nets["generator_ema" if use_ema else "generator"].eval()
    k = family.info.num_classes if family.conditional else 0
    inputs = [TensorSpec("z", (BATCH, cfg.z_dim), "float32", "N(0, 1)", "latent noise")]
    inputs += [label_spec(k)] if k else []
    out_range = IMAGES if family.bounded_output else "unbounded (output=identity)"
    graph = Graph(
        _Call(g, family.bounded_output), inputs, [image_spec("images", family.image_shape, "samples", out_range)]
    )
    ex = LatentExportable(family.registry_name, family.kind, family.image_shape, {"generator": graph})
    ex.latent_dim, ex.num_classes = cfg.z_dim, k
    ex.conventions = {"generator": "EMA weights" if use_ema else "trained weights"}
    if k:
        ex.conventions["labels"] = f"class labels 0..{k - 1}; genlab sample's default is 0, 1, ..., {k - 1}, 0, ..."
    return ex


class AttrExportable(LatentExportable):
    """attr-gan: z and the four attribute indices (value, or the attribute's size for "unspecified")."""

    def _inputs(self, name, n, generator, labels):
        codes = integers(NUM_CODES, (n,), generator) if labels is None else labels
        return {"z": normal((n, self.latent_dim), generator), "attributes": code_to_attributes(codes).astype(np.int64)}

    def generate(self, runner, n, generator):
        # family.sample: caption codes 0, 1, ... cycled over NUM_CODES; z drawn first
        z = normal((n, self.latent_dim), generator)
        codes = np.arange(n) % NUM_CODES
        return runner("generator", {"z": z, "attributes": code_to_attributes(codes).astype(np.int64)})[0]


def attr_gan_exportable(family: AttrGAN) -> Exportable:
    g = family.nets["generator_ema"].eval()
    sizes = ", ".join(str(s) for s in ATTRIBUTE_SIZES)
    inputs = [
        TensorSpec("z", (BATCH, family.cfg.z_dim), "float32", "N(0, 1)", "latent noise"),
        TensorSpec(
            "attributes",
            (BATCH, len(ATTRIBUTE_SIZES)),
            "int64",
            f"0..size per column (sizes {sizes})",
            "motif, colour, background, size; the size itself means unspecified",
        ),
    ]
    graph = Graph(_Call(g, True), inputs, [image_spec("images", family.image_shape, "samples")])
    ex = AttrExportable(family.registry_name, family.kind, family.image_shape, {"generator": graph})
    ex.latent_dim = family.cfg.z_dim
    ex.conventions = {"attributes": "genlab.data.captions.code_to_attributes of a caption code; EMA generator"}
    return ex


class _Encoder(nn.Module):
    """A VAE's q(z | x[, y]) with the one-hot label made inside the graph."""

    def __init__(self, family: VAEFamily) -> None:
        super().__init__()
        self.encoder, self.k = family.nets["encoder"], family.info.num_classes if family.conditional else 0

    def forward(self, x: torch.Tensor, *labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cond = F.one_hot(labels[0], self.k).float() if self.k else None
        return self.encoder(x, cond)


class _DecoderMean(nn.Module):
    """The decoder mean in [-1, 1] (``VAEFamily.decode_mean``)."""

    def __init__(self, family: VAEFamily) -> None:
        super().__init__()
        self.decoder, self.k = family.nets["decoder"], family.info.num_classes if family.conditional else 0
        self.bernoulli = family.cfg.likelihood == "bernoulli"

    def forward(self, z: torch.Tensor, *labels: torch.Tensor) -> torch.Tensor:
        cond = F.one_hot(labels[0], self.k).float() if self.k else None
        out = self.decoder(z, cond)
        mean = torch.sigmoid(out) if self.bernoulli else out.clamp(0, 1)
        return mean * 2 - 1


class VAEExportable(LatentExportable):
    def __init__(self, *args: Any, data: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.data = data  # () -> (uint8 images, labels) of the run's train split

    def _inputs(self, name, n, generator, labels):
        if name == "generator":
            return super()._inputs(name, n, generator, labels)
        x = torch.rand((n, *self.image_shape), generator=generator).numpy()
        return {"images": x, **({"labels": integers(self.num_classes, (n,), generator)} if self.num_classes else {})}

    def calibration(self, name, n, generator):
        if name == "generator":
            return super().calibration(name, n, generator)
        images, labels = self.data()
        rows = torch.randint(0, len(images), (n,), generator=generator).numpy()
        return [
            {
                "images": images[i : i + 1].astype(np.float32) / 255,
                **({"labels": labels[i : i + 1]} if self.num_classes else {}),
            }
            for i in rows
        ]


def vae_exportable(family: VAEFamily, data: Any) -> Exportable:
    k = family.info.num_classes if family.conditional else 0
    lab = [label_spec(k, "class label (one-hot inside the graph)")] if k else []
    prior = "N(0, 1)" if family.cfg.sample_prior == "standard" else "the ex-post mixture of VAEFamily.prior_sample"
    z = TensorSpec("z", (BATCH, family.cfg.latent_dim), "float32", prior, "latent")
    graphs = {
        "generator": Graph(
            _DecoderMean(family).eval(), [z, *lab], [image_spec("images", family.image_shape, "decoder mean")]
        ),
        "encoder": Graph(
            _Encoder(family).eval(),
            [image_spec("images", family.image_shape, "images to encode", "[0, 1]"), *lab],
            [
                TensorSpec("mu", (BATCH, family.cfg.latent_dim), "float32", "unbounded", "posterior mean"),
                TensorSpec("logvar", (BATCH, family.cfg.latent_dim), "float32", "unbounded", "posterior log variance"),
            ],
        ),
    }
    ex = VAEExportable(family.registry_name, family.kind, family.image_shape, graphs, data=data)
    ex.latent_dim, ex.num_classes = family.cfg.latent_dim, k
    ex.conventions = {
        "generator": "the decoder: z ~ N(0, I) -> decoder mean in [-1, 1] (sigmoid of the Bernoulli logits, or the "
        "clamped Gaussian mean)",
        "encoder": "images in [0, 1] (pixel / 255) -> mu, logvar of q(z | x)",
    }
    if k:
        ex.conventions["labels"] = f"class labels 0..{k - 1}"
    return ex


# -- StyleGAN-lite --------------------------------------------------------------------------


def modulated_conv(conv: ModulatedConv2d, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """:class:`ModulatedConv2d` without grouped convolution. Shapes: (B, I, H, W), (B, w_dim) -> (B, O, H', W')."""
    if conv.up:
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
    s = conv.affine(w)  # (B, I)
    weight = conv.weight * conv.scale  # (O, I, k, k)
    out = F.conv2d(x * s[:, :, None, None], weight, padding=weight.shape[-1] // 2)  # (B, O, H, W)
    if conv.demodulate:  # 1 / sqrt(sum_{i,k} (s_i w_oik)^2 + 1e-8) = rsqrt(s^2 . sum_k w_oik^2 + 1e-8)
        demod = torch.rsqrt(s.square() @ weight.square().sum(dim=(2, 3)).t() + 1e-8)  # (B, O)
        out = out * demod[:, :, None, None]
    return out


def style_layer(layer: StyleLayer, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
    if layer.style == "modulation":
        x = modulated_conv(layer.conv, x, w)
    else:
        if layer.up:
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        x = layer.conv(x)
    x = layer.noise(x, noise)
    x = leaky_gain(x + layer.bias[None, :, None, None])
    return layer.adain(x, w) if layer.style == "adain" else x


class _Mapping(nn.Module):
    """z, psi -> ws (B, L, w_dim): w = w_avg + psi (mapping(z) - w_avg), the same w at every layer."""

    def __init__(self, g: StyleGenerator) -> None:
        super().__init__()
        self.g = g

    def forward(self, z: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
        w = self.g.mapping(z)
        w = self.g.w_avg + psi * (w - self.g.w_avg)  # torch.lerp(w_avg, w, psi), as nn.style.truncate
        return w[:, None, :].expand(-1, self.g.num_ws, -1)


class _Synthesis(nn.Module):
    """ws and one noise image per layer -> images at the data size, clamped (``family.render``)."""

    def __init__(self, g: StyleGenerator, size: tuple[int, int]) -> None:
        super().__init__()
        self.g, self.size = g, size

    def forward(self, ws: torch.Tensor, *noises: torch.Tensor) -> torch.Tensor:
        g = self.g
        x = g.const[None].expand(ws.shape[0], -1, -1, -1)  # (B, C4, 4, 4)
        rgb = None
        for i, layer in enumerate(g.layers):
            x = style_layer(layer, x, ws[:, i], noises[i] if noises else None)
            if i % 2 == 0:  # as StyleGenerator.synthesis: a toRGB reads the next layer's style
                conv = g.to_rgb[i // 2]
                skip = modulated_conv(conv.conv, x, ws[:, i + 1]) + conv.bias[None, :, None, None]
                up = (
                    None if rgb is None else F.interpolate(rgb, scale_factor=2.0, mode="bilinear", align_corners=False)
                )
                rgb = skip if up is None else up + skip
        if rgb.shape[-1] != self.size[1]:
            rgb = F.interpolate(rgb, size=self.size, mode="bilinear", align_corners=False)
        return rgb.clamp(-1, 1)


class StyleExportable(Exportable):
    z_dim = w_dim = num_ws = 0
    noise_sizes: tuple[int, ...] = ()
    psi = 1.0

    def _noises(self, n, generator):
        return {f"noise_{i:02d}": normal((n, 1, s, s), generator) for i, s in enumerate(self.noise_sizes)}

    def example_inputs(self, name, n, generator):
        if name == "mapping":
            return {"z": normal((n, self.z_dim), generator), "psi": np.array(0.7, np.float32)}
        return {"ws": normal((n, self.num_ws, self.w_dim), generator), **self._noises(n, generator)}

    def calibration(self, name, n, generator):
        return [self.example_inputs(name, 1, generator) for _ in range(n)]  # the mapping's input is its prior

    def generate(self, runner, n, generator):
        # family.sample: z, then one noise image per layer in layer order, from the same generator
        z = normal((n, self.z_dim), generator)
        (ws,) = runner("mapping", {"z": z, "psi": np.array(self.psi, np.float32)})
        return runner("synthesis", {"ws": ws, **self._noises(n, generator)})[0]


def stylegan_exportable(family: StyleGANLite) -> Exportable:
    cfg, g = family.cfg, family.sampling_generator.eval()
    sizes, s = [], 4
    for layer in g.layers:
        s *= 2 if layer.up else 1
        sizes.append(s)
    noise_specs = (
        [
            TensorSpec(f"noise_{i:02d}", (BATCH, 1, s, s), "float32", "N(0, 1)", f"per-pixel noise of layer {i}")
            for i, s in enumerate(sizes)
        ]
        if cfg.noise
        else []
    )
    ws = TensorSpec("ws", (BATCH, g.num_ws, cfg.w_dim), "float32", "unbounded", "one style per layer")
    graphs = {
        "mapping": Graph(
            _Mapping(g),
            [
                TensorSpec("z", (BATCH, cfg.z_dim), "float32", "N(0, 1)", "latent noise"),
                TensorSpec("psi", (), "float32", "[0, 1]", "truncation psi: 1 none, 0 the mean w"),
            ],
            [ws],
        ),
        "synthesis": Graph(
            _Synthesis(g, (family.info.height, family.info.width)),
            [ws, *noise_specs],
            [image_spec("images", family.image_shape, "samples at the data size")],
        ),
    }
    ex = StyleExportable(family.registry_name, family.kind, family.image_shape, graphs)
    ex.z_dim, ex.w_dim, ex.num_ws, ex.noise_sizes = cfg.z_dim, cfg.w_dim, g.num_ws, tuple(sizes) if cfg.noise else ()
    ex.psi = cfg.truncation
    ex.conventions = {
        "truncation": f"psi is an input of the mapping graph; the run samples with psi = {cfg.truncation}",
        "noise": "one N(0, 1) image per synthesis layer, drawn after z in layer order (genlab's order)"
        if cfg.noise
        else "none (the run was trained with noise=false)",
        "generator": "EMA weights" if cfg.ema else "trained weights",
    }
    return ex
