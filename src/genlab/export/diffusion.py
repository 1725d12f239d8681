"""Export adapters of the diffusion families: the ``ddpm`` U-Net, the ``ldm`` latent denoiser with its
VAE decoder, and ``text-ddpm``'s text encoder and cross-attention U-Net.

A denoiser graph always outputs the noise prediction eps (a v- or x0-predicting network is
converted inside the graph with the run's alpha-bar), so any sampler written against the
manifest's schedule works unchanged. The sampling loop itself stays outside the graphs: the
manifest carries alpha-bar (float64, as a list), the step spacing, eta, clipping and the
guidance rule, and :meth:`DiffusionExportable.generate` runs genlab's own sampler around any
runner.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from genlab.data.captions import NUM_CODES, canonical_captions, max_tokens, tokenize, vocabulary
from genlab.export.generators import image_spec
from genlab.export.graphs import BATCH, Exportable, Graph, Runner, TensorSpec, integers, normal
from genlab.math.diffusion import eps_from_v, eps_from_x0, q_sample
from genlab.models.ddpm import DDPM
from genlab.models.ldm import LatentDiffusion
from genlab.models.text_ddpm import TextDDPM
from genlab.nn.text import CaptionTransformer
from genlab.samplers import run_sampler

SPACING = (
    "DDIM with n steps visits the 0-based step indices unique(round(linspace(T - 1, 0, n))) in descending order "
    "(index i is t = i + 1); the step after the last goes to alpha_bar = 1. DDPM visits T - 1, ..., 0."
)


class _Eps(nn.Module):
    """net(x, t[, labels]) as a noise prediction: eps, or converted from v / x0 with alpha-bar (a buffer)."""

    def __init__(self, net: nn.Module, prediction: str, alpha_bar: torch.Tensor, extra: int) -> None:
        super().__init__()
        self.net, self.prediction, self.extra = net, prediction, extra
        self.register_buffer("alpha_bar", alpha_bar.float(), persistent=False)

    def forward(self, x: torch.Tensor, t: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        out = self.net(x, t, *rest) if self.extra else self.net(x, t)
        if self.prediction == "x0":
            return eps_from_x0(x, t, out, self.alpha_bar)
        if self.prediction == "v":
            return eps_from_v(x, t, out, self.alpha_bar)
        return out


def schedule(family: Any, clip_x0: bool, x_shape: tuple[int, ...], null_label: int | None) -> dict[str, Any]:
    cfg = family.cfg
    sampler = family.make_sampler()
    return {
        "diffusion_steps": cfg.diffusion_steps,
        "alpha_bar": [float(a) for a in family.alpha_bar.double()],
        "sampler": cfg.sampler,
        "sample_steps": cfg.sample_steps if cfg.sampler == "ddim" else cfg.diffusion_steps,
        "timesteps": [int(t) for t in sampler.timesteps],
        "timestep_spacing": SPACING,
        "eta": cfg.eta,
        "clip_x0": clip_x0,
        "x_shape": list(x_shape),
        "prediction": "eps (v and x0 predictions are converted inside the denoiser graph)",
        "guidance": cfg.guidance,
        "guidance_rule": "eps = eps_u + w (eps_c - eps_u): w = 0 unconditional, 1 conditional, > 1 guided",
        "null_label": null_label,
    }


class DiffusionExportable(Exportable):
    """The reverse process around a ``denoiser`` graph (and a ``decoder`` graph for latents)."""

    def __init__(self, *args: Any, family: Any = None, data: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.family, self.data = family, data
        self.x_shape: tuple[int, ...] = ()
        self.num_classes = 0  # labels 0..K-1, K the null label; 0: unconditional

    def _labels(self, n: int, generator: torch.Generator) -> dict[str, np.ndarray]:
        return {"labels": integers(self.num_classes + 1, (n,), generator)} if self.num_classes else {}

    def example_inputs(self, name, n, generator):
        if name == "decoder":
            return {"z": normal((n, *self.x_shape), generator)}
        t = integers(self.family.cfg.diffusion_steps, (n,), generator)
        return {"x": normal((n, *self.x_shape), generator), "t": t, **self._labels(n, generator)}

    def clean(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, np.ndarray]:
        """``n`` training images as the model sees them (x_0), with their labels."""
        images, labels = self.data()
        rows = torch.randint(0, len(images), (n,), generator=generator).numpy()
        x = torch.from_numpy(images[rows].astype(np.float32) / 127.5 - 1.0)
        return x, labels[rows]

    def calibration(self, name, n, generator):
        """x_t = q_sample(x_0 of the run's data, t, noise) at uniform t, labels of the data (10 % null)."""
        x0, labels = self.clean(n, generator)
        if name == "decoder":
            return [{"z": z[None].numpy()} for z in x0]
        t = torch.randint(0, self.family.cfg.diffusion_steps, (n,), generator=generator)
        xt = q_sample(x0, t, torch.randn(x0.shape, generator=generator), self.family.alpha_bar.float())
        drop = torch.rand(n, generator=generator) < 0.1
        out = []
        for j in range(n):
            row = {"x": xt[j : j + 1].numpy(), "t": t[j : j + 1].numpy()}
            if self.num_classes:
                row["labels"] = np.array([self.num_classes if drop[j] else labels[j]], np.int64)
            out.append(row)
        return out

    def eps_fn(self, runner: Runner, labels: np.ndarray | None, guidance: float):
        """As ``family.eps_fn``: (x_t, i) -> guided eps through the ``denoiser`` graph."""
        k = self.num_classes

        def predict(x: torch.Tensor, i: int, y: np.ndarray | None) -> torch.Tensor:
            inputs = {"x": x.numpy(), "t": np.full((x.shape[0],), i, np.int64)}
            if k:
                inputs["labels"] = np.full((x.shape[0],), k, np.int64) if y is None else y
            return torch.from_numpy(runner("denoiser", inputs)[0])

        def eps(x: torch.Tensor, i: int) -> torch.Tensor:
            if labels is None or guidance == 0:
                return predict(x, i, None)
            if guidance == 1:
                return predict(x, i, labels)
            both = predict(torch.cat([x, x]), i, np.concatenate([labels, np.full(len(labels), k, np.int64)]))
            cond, uncond = both.chunk(2)
            return uncond + guidance * (cond - uncond)

        return eps

    def generate(self, runner, n, generator):
        # family.sample: x_T ~ N(0, I) from the generator; labels 0, 1, ..., K-1, 0, ...; then the sampler
        x = torch.randn((n, *self.x_shape), generator=generator)
        labels = np.arange(n, dtype=np.int64) % self.num_classes if self.num_classes else None
        x0 = run_sampler(
            self.family.make_sampler(), self.eps_fn(runner, labels, self.family.cfg.guidance), x, generator
        )
        if "decoder" in self.graphs:
            return runner("decoder", {"z": x0.float().numpy()})[0]
        return x0.float().clamp(-1, 1).numpy()


def ddpm_exportable(family: DDPM, data: Any) -> Exportable:
    cfg, k = family.cfg, family.num_classes
    x = image_spec("x", family.image_shape, "x_t", "unbounded")
    inputs = [x, TensorSpec("t", (BATCH,), "int64", f"0..{cfg.diffusion_steps - 1}", "0-based step index (t - 1)")]
    if k:
        inputs.append(TensorSpec("labels", (BATCH,), "int64", f"0..{k}", f"class label; {k} = no label (null)"))
    eps = image_spec("eps", family.image_shape, "predicted noise", "unbounded")
    net = _Eps(family.nets["ema"].net.eval(), cfg.prediction, family.alpha_bar, 1 if k else 0)
    ex = DiffusionExportable(
        family.registry_name,
        family.kind,
        family.image_shape,
        {"denoiser": Graph(net, inputs, [eps])},
        family=family,
        data=data,
    )
    ex.x_shape, ex.num_classes = family.image_shape, k
    ex.diffusion = schedule(family, True, family.image_shape, k if k else None)
    ex.conventions = {
        "denoiser": "EMA weights, float32 (the run's sample_dtype/sample_compile options are PyTorch-only)",
        "x_T": "N(0, I) of shape (n, C, H, W); the final x_0 is clamped to [-1, 1]",
    }
    if k:
        ex.conventions["labels"] = f"class labels 0..{k - 1}, {k} is the null label classifier-free guidance uses"
    return ex


class _Decoder(nn.Module):
    """Scaled latents -> images in [-1, 1] (``LatentDiffusion.decode_latents``)."""

    def __init__(self, family: LatentDiffusion) -> None:
        super().__init__()
        self.vae = family.autoencoder
        self.decoder = family.autoencoder.nets["decoder"]
        self.register_buffer("scale", family.latent_scale.detach().float().reshape(()).clone(), persistent=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.decoder(z / self.scale, None)
        mean = torch.sigmoid(out) if self.vae.cfg.likelihood == "bernoulli" else out.clamp(0, 1)
        return (mean * 2 - 1).clamp(-1, 1)


class LatentExportable(DiffusionExportable):
    def calibration(self, name, n, generator):
        """Scaled posterior means of the run's data, noised at uniform t (decoder: the clean latents)."""
        images, labels = self.data()
        rows = torch.randint(0, len(images), (n,), generator=generator).numpy()
        with torch.no_grad():
            z0 = self.family.encode_latents(torch.from_numpy(images[rows].astype(np.float32) / 255))
        if name == "decoder":
            return [{"z": z[None].numpy()} for z in z0]
        t = torch.randint(0, self.family.cfg.diffusion_steps, (n,), generator=generator)
        zt = q_sample(z0, t, torch.randn(z0.shape, generator=generator), self.family.alpha_bar.float())
        return [
            {
                "x": zt[j : j + 1].numpy(),
                "t": t[j : j + 1].numpy(),
                **({"labels": labels[rows[j] : rows[j] + 1]} if self.num_classes else {}),
            }
            for j in range(n)
        ]


def ldm_exportable(family: LatentDiffusion, data: Any) -> Exportable:
    cfg, k, d = family.cfg, family.num_classes, family.latent_dim
    inputs = [
        TensorSpec("x", (BATCH, d), "float32", "unbounded", "z_t, scaled latent"),
        TensorSpec("t", (BATCH,), "int64", f"0..{cfg.diffusion_steps - 1}", "0-based step index (t - 1)"),
    ]
    if k:
        inputs.append(TensorSpec("labels", (BATCH,), "int64", f"0..{k}", f"class label; {k} = no label (null)"))
    graphs = {
        "denoiser": Graph(
            _Eps(family.nets["ema"].net.eval(), "eps", family.alpha_bar, 1 if k else 0),
            inputs,
            [TensorSpec("eps", (BATCH, d), "float32", "unbounded", "predicted noise")],
        ),
        "decoder": Graph(
            _Decoder(family).eval(),
            [TensorSpec("z", (BATCH, d), "float32", "unbounded", "scaled latent z_0 (the sampler's output)")],
            [image_spec("images", family.image_shape, "the VAE decoder mean")],
        ),
    }
    ex = LatentExportable(family.registry_name, family.kind, family.image_shape, graphs, family=family, data=data)
    ex.x_shape, ex.num_classes = (d,), k
    ex.diffusion = schedule(family, False, (d,), k if k else None)
    ex.conventions = {
        "latent_scale": float(family.latent_scale),
        "decoder": "the frozen VAE's decoder mean of z / latent_scale, in [-1, 1]; run it on the sampler's z_0",
    }
    if k:
        ex.conventions["labels"] = f"class labels 0..{k - 1}, {k} is the null label classifier-free guidance uses"
    return ex


class _TextEncoder(nn.Module):
    """Token ids and mask -> context (``CaptionTransformer.forward`` after its tokenizer)."""

    def __init__(self, encoder: CaptionTransformer) -> None:
        super().__init__()
        self.enc = encoder

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        e = self.enc
        h = e.tokens(ids) + e.positions[None, : ids.shape[1]]  # (B, L, dim)
        h = e.layers(h, src_key_padding_mask=~mask)
        return e.norm(h) * mask[:, :, None]


class TextExportable(DiffusionExportable):
    def _tokens(self, captions: list[str]) -> dict[str, np.ndarray]:
        ids, mask = tokenize(captions)
        return {"ids": ids.numpy(), "mask": mask.numpy()}

    def _codes(self, n, generator):
        return canonical_captions(integers(NUM_CODES, (n,), generator))

    def _context(self, runner, captions):
        tokens = self._tokens(captions)
        return runner("text_encoder", tokens)[0], tokens["mask"]

    def example_inputs(self, name, n, generator):
        captions = [c if j % 3 else "" for j, c in enumerate(self._codes(n, generator))]
        tokens = self._tokens(captions)
        if name == "text_encoder":
            return tokens
        context = normal((n, max_tokens(), self.context_dim), generator) * tokens["mask"][:, :, None]
        t = integers(self.family.cfg.diffusion_steps, (n,), generator)
        return {"x": normal((n, *self.x_shape), generator), "t": t, "context": context, "mask": tokens["mask"]}

    def calibration(self, name, n, generator):
        x0, codes = self.clean(n, generator)
        drop = torch.rand(n, generator=generator) < 0.1
        captions = ["" if d else c for c, d in zip(canonical_captions(codes), drop.tolist())]
        tokens = self._tokens(captions)
        if name == "text_encoder":
            return [{"ids": tokens["ids"][j : j + 1], "mask": tokens["mask"][j : j + 1]} for j in range(n)]
        with torch.no_grad():
            context = self.graphs["text_encoder"].module(
                torch.from_numpy(tokens["ids"]), torch.from_numpy(tokens["mask"])
            )
        t = torch.randint(0, self.family.cfg.diffusion_steps, (n,), generator=generator)
        xt = q_sample(x0, t, torch.randn(x0.shape, generator=generator), self.family.alpha_bar.float())
        return [
            {
                "x": xt[j : j + 1].numpy(),
                "t": t[j : j + 1].numpy(),
                "context": context[j : j + 1].numpy(),
                "mask": tokens["mask"][j : j + 1],
            }
            for j in range(n)
        ]

    def generate(self, runner, n, generator):
        # family.sample: caption codes 0, 1, ... as full captions; x_T ~ N(0, I); guidance against ""
        captions = canonical_captions(np.arange(n) % NUM_CODES)
        context, mask = self._context(runner, captions)
        empty, empty_mask = self._context(runner, [""] * n)
        w = self.family.cfg.guidance

        def predict(x: torch.Tensor, i: int, c: np.ndarray, m: np.ndarray) -> torch.Tensor:
            t = np.full((x.shape[0],), i, np.int64)
            return torch.from_numpy(runner("denoiser", {"x": x.numpy(), "t": t, "context": c, "mask": m})[0])

        def eps(x: torch.Tensor, i: int) -> torch.Tensor:
            if w == 0:
                return predict(x, i, empty, empty_mask)
            if w == 1:
                return predict(x, i, context, mask)
            both = predict(torch.cat([x, x]), i, np.concatenate([context, empty]), np.concatenate([mask, empty_mask]))
            cond, uncond = both.chunk(2)
            return uncond + w * (cond - uncond)

        x = torch.randn((n, *self.x_shape), generator=generator)
        return run_sampler(self.family.make_sampler(), eps, x, generator).clamp(-1, 1).numpy()


class _TextDenoiser(nn.Module):
    def __init__(self, family: TextDDPM) -> None:
        super().__init__()
        self.unet, self.prediction = family.nets["ema"].net.unet, family.cfg.prediction
        self.register_buffer("alpha_bar", family.alpha_bar.float(), persistent=False)

    def forward(self, x, t, context, mask):
        out = self.unet(x, t, context, mask)
        return eps_from_v(x, t, out, self.alpha_bar) if self.prediction == "v" else out


def text_ddpm_exportable(family: TextDDPM, data: Any) -> Exportable:
    cfg = family.cfg
    encoder = family.nets["ema"].net.encoder
    if not isinstance(encoder, CaptionTransformer):
        raise ValueError(
            "its text encoder is the frozen MiniLM of sentence-transformers, whose weights live outside the "
            "checkpoint; export a text-ddpm run trained with text_encoder=builtin"
        )
    length, dim = max_tokens(), encoder.dim
    ids = TensorSpec("ids", (BATCH, length), "int64", f"0..{len(vocabulary()) - 1}", "token ids, 0 pads")
    mask = TensorSpec("mask", (BATCH, length), "bool", "{false, true}", "true at real tokens")
    context = TensorSpec("context", (BATCH, length, dim), "float32", "unbounded", "caption context, 0 at padding")
    t = TensorSpec("t", (BATCH,), "int64", f"0..{cfg.diffusion_steps - 1}", "0-based step index (t - 1)")
    graphs = {
        "text_encoder": Graph(_TextEncoder(encoder).eval(), [ids, mask], [context]),
        "denoiser": Graph(
            _TextDenoiser(family).eval(),
            [image_spec("x", family.image_shape, "x_t", "unbounded"), t, context, mask],
            [image_spec("eps", family.image_shape, "predicted noise", "unbounded")],
        ),
    }
    ex = TextExportable(family.registry_name, family.kind, family.image_shape, graphs, family=family, data=data)
    ex.x_shape, ex.context_dim = family.image_shape, dim
    ex.diffusion = schedule(family, True, family.image_shape, None)
    ex.diffusion["guidance_rule"] = "eps = eps('') + w (eps(caption) - eps('')): the empty caption is unconditional"
    ex.conventions = {
        "tokenizer": "lower-case the caption, drop commas and full stops, split on spaces; ids are positions in "
        "vocabulary, preceded by <start> (1) and padded with <pad> (0) to max_tokens",
        "vocabulary": list(vocabulary()),
        "max_tokens": length,
    }
    return ex
