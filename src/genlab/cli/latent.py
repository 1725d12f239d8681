"""``genlab latent interpolate | traverse | scatter``: walk a trained model's latent space."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import typer

from genlab.cli.app import SEED_RANGE, DataDir, app, out
from genlab.config import MAX_SEED, TrainConfig
from genlab.data import load_dataset, load_image, save_grid, to_uint8
from genlab.errors import ConfigError, short_repr
from genlab.math.interpolate import lerp, slerp
from genlab.models.latent import LatentCodec, codec_labels, latent_codec
from genlab.runs.loading import load_family

latent_app = typer.Typer(
    no_args_is_help=True, help="Latent-space tools: interpolation, traversal, 2-D scatter of the test set."
)
app.add_typer(latent_app, name="latent")

Run = Annotated[Path, typer.Argument(help="A run directory made by `genlab train`.")]
Checkpoint = Annotated[str, typer.Option(help="latest, best or a step number.")]
Output = Annotated[Path, typer.Option("-o", "--output", help="PNG to write.")]


def _endpoint(
    spec: str, codec: LatentCodec, family, train: TrainConfig, data_dir, label: int | None
) -> tuple[torch.Tensor, torch.Tensor | None, int | None]:
    """A latent from ``spec``: a test-set index or an image file (encoders), or a seed (GANs).

    Returns (latent (1, ...), the original image in [-1, 1] or None, the label used).
    """
    if codec.encode is None:
        try:
            seed = int(spec)
        except ValueError:
            raise ConfigError(
                f"this model has no encoder: --from/--to must be integer seeds, got {short_repr(spec)}"
            ) from None
        if not 0 <= seed <= MAX_SEED:
            raise ConfigError(f"--from/--to seeds must lie in 0..{MAX_SEED}, got {short_repr(seed)}")
        return codec.draw(1, torch.Generator().manual_seed(seed)), None, label
    if spec.lstrip("-").isdigit():
        images, labels, _ = load_dataset(train.dataset, "test", data_dir, train.data_options())
        index = int(spec)
        if not 0 <= index < images.shape[0]:
            raise ConfigError(f"test-set index must be in 0..{images.shape[0] - 1}, got {index}")
        image = torch.from_numpy(np.array(images[index : index + 1]))
        if label is None and codec.needs_label:
            label = int(labels[index])  # a conditional VAE encodes with the image's own class
    else:
        c, h, w = family.image_shape
        array = load_image(spec, size=(h, w), grayscale=c == 1)
        image = torch.from_numpy(array[None, None] if c == 1 else array.transpose(2, 0, 1)[None].copy())
    labels_t = codec_labels(family, codec, label, 1)
    original = image.float() / 127.5 - 1.0  # (1, C, H, W) in [-1, 1], like decoded images
    return codec.encode(image, labels_t), original, label


@latent_app.command()
def interpolate(
    run_dir: Run,
    from_: Annotated[
        str, typer.Option("--from", help="Start: a test-set index or an image file (VAE, diffusion), or a seed (GAN).")
    ] = "0",
    to: Annotated[str, typer.Option("--to", help="End, like --from.")] = "1",
    steps: Annotated[int, typer.Option(help="Images along each path, ends included.")] = 10,
    label: Annotated[
        int | None,
        typer.Option(
            help="Class for conditional models (CVAE: default the start image's class; GAN: 0; diffusion: none = "
            "unconditional)."
        ),
    ] = None,
    output: Output = Path("interpolation.png"),
    checkpoint: Checkpoint = "latest",
    data_dir: DataDir = None,
) -> None:
    """Linear (top row) and spherical (bottom row) interpolation between two latents."""
    if steps < 2:
        raise ConfigError(f"--steps must be >= 2, got {steps}")
    family, run, _ = load_family(run_dir, checkpoint)
    codec = latent_codec(family)
    z0, x0, label = _endpoint(from_, codec, family, run.train, data_dir, label)
    z1, x1, _ = _endpoint(to, codec, family, run.train, data_dir, label)
    t = torch.linspace(0, 1, steps)
    labels = codec_labels(family, codec, label, steps)
    rows = [codec.decode(path(z0[0], z1[0], t), labels) for path in (lerp, slerp)]
    save_grid(output, to_uint8(torch.cat(rows)), nrow=steps)
    out.print(f"{codec.what}: wrote {output} (top: linear, bottom: spherical; {steps} steps)")
    if x0 is not None:
        recon = codec.decode(torch.cat([z0, z1]), codec_labels(family, codec, label, 2))
        mse = ((recon - torch.cat([x0, x1])) / 2).square().mean(dim=(1, 2, 3))  # in [0, 1] pixel units
        psnr = [f"{-10 * np.log10(max(m.item(), 1e-12)):.1f} dB" for m in mse]
        out.print(
            f"reconstruction of the two ends: MSE {mse[0].item():.5f}, {mse[1].item():.5f} (pixels in [0, 1]); PSNR "
            f"{psnr[0]}, {psnr[1]}"
        )


@latent_app.command()
def traverse(
    run_dir: Run,
    dim: Annotated[int, typer.Option(help="Latent dimension to vary.")] = 0,
    span: Annotated[float, typer.Option(help="Vary the dimension over [-span, +span] around the start.")] = 3.0,
    steps: Annotated[int, typer.Option(help="Images per row.")] = 10,
    rows: Annotated[int, typer.Option(help="Rows, each from another start latent.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the start latents (drawn from the prior).", **SEED_RANGE)] = 0,
    label: Annotated[int | None, typer.Option(help="Class for conditional models.")] = None,
    output: Output = Path("traversal.png"),
    checkpoint: Checkpoint = "latest",
) -> None:
    """Vary one latent dimension with the others fixed (one row per start latent)."""
    if steps < 2 or rows < 1 or span <= 0:
        raise ConfigError("need --steps >= 2, --rows >= 1 and --span > 0")
    family, _, _ = load_family(run_dir, checkpoint)
    codec = latent_codec(family)
    start = codec.draw(rows, torch.Generator().manual_seed(seed))
    if start.dim() != 2:
        raise ConfigError(f"traverse needs a vector latent; this model's latent is {codec.what}")
    if not 0 <= dim < start.shape[1]:
        raise ConfigError(f"--dim must be in 0..{start.shape[1] - 1}, got {dim}")
    z = start.repeat_interleave(steps, dim=0)  # (rows * steps, Z)
    z[:, dim] = start[:, dim].repeat_interleave(steps) + torch.linspace(-span, span, steps).repeat(rows)
    images = codec.decode(z, codec_labels(family, codec, label, rows * steps))
    save_grid(output, to_uint8(images), nrow=steps)
    out.print(f"{codec.what}: dimension {dim} over ±{span:g}, {rows} rows -> {output}")


@latent_app.command()
def scatter(
    run_dir: Run,
    n: Annotated[int, typer.Option("-n", help="Test images to encode.")] = 5000,
    output: Output = Path("latent-scatter.png"),
    checkpoint: Checkpoint = "latest",
    data_dir: DataDir = None,
) -> None:
    """The test set's latents in 2-D (PCA when the latent has more dimensions), coloured by class."""
    from sklearn.decomposition import PCA

    from genlab.plots import figure, save_figure

    if n < 2:
        raise ConfigError(f"-n must be >= 2, got {n}")
    family, run, _ = load_family(run_dir, checkpoint)
    codec = latent_codec(family)
    if codec.encode is None or codec.draw(1, torch.Generator()).dim() != 2:
        raise ConfigError(f"scatter needs an encoder with a vector latent; this model's latent is {codec.what}")
    images, labels, _ = load_dataset(run.train.dataset, "test", data_dir, run.train.data_options())
    images, labels = images[:n], labels[:n]
    z = torch.cat(
        [
            codec.encode(torch.from_numpy(np.array(images[i : i + 500])), _labels_of(family, labels[i : i + 500]))
            for i in range(0, len(images), 500)
        ]
    )
    points = z.numpy() if z.shape[1] == 2 else PCA(2, random_state=0).fit_transform(z.numpy())
    fig, ax = figure(size=(5.5, 5))
    sc = ax.scatter(points[:, 0], points[:, 1], c=labels, cmap="tab10", s=3, alpha=0.7)
    fig.colorbar(sc, ax=ax, label="class")
    ax.set_title(
        f"{run.family} {run_dir.name}: {len(images)} test images"
        + ("" if z.shape[1] == 2 else f", PCA of {z.shape[1]}-D posterior means"),
        fontsize=9,
    )
    save_figure(fig, output)
    out.print(f"{codec.what}: {len(images)} test images -> {output}")


def _labels_of(family, labels: np.ndarray) -> torch.Tensor | None:
    return torch.from_numpy(np.asarray(labels, dtype=np.int64)) if family.conditional else None
