"""Write the three notebooks from the cells below (so they are reviewed as code); outputs are never committed.

    python notebooks/build.py            # rewrites notebooks/*.ipynb
    python notebooks/build.py --check    # exit 1 if a committed notebook differs from what this script writes

Each notebook has a parameter cell: GENLAB_TINY=1 shrinks every model and loop so the test
suite (tests/notebooks/test_notebooks.py) runs it top to bottom in seconds; without it the
notebook runs at full size in a few minutes on a laptop CPU, offline.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from genlab.atomic import atomic_write_text

HERE = Path(__file__).resolve().parent

SETUP = """import os, tempfile, time
from pathlib import Path

import numpy as np
import torch
import matplotlib.pyplot as plt

TINY = os.environ.get("GENLAB_TINY") == "1"   # the test suite sets this; leave it unset to run at full size
OUT = Path(os.environ.get("GENLAB_NOTEBOOK_OUT") or tempfile.mkdtemp(prefix="genlab-notebook-"))  # runs go here
print("tiny" if TINY else "full size", "- runs in", OUT)"""

SHOW = '''from genlab.data import make_grid

def show(images, title="", size=5):
    """Show uint8 images (N, C, H, W) as one grid (in the notebook only: files go through genlab.data.save_grid)."""
    plt.figure(figsize=(size, size))
    plt.imshow(make_grid(images), cmap="gray")
    plt.title(title)
    plt.axis("off")
    plt.show()'''


def gan_basics() -> list:
    return [
        new_markdown_cell(
            "# GAN basics\n\nThe game between a generator G and a discriminator D, its optimum in closed form, "
            "a 1-D GAN written in NumPy, and genlab's MLP GAN on MNIST. Guide: `docs/guide/gan-game.md`."
        ),
        new_code_cell(SETUP, metadata={"tags": ["parameters"]}),
        new_code_cell(SHOW),
        new_markdown_cell(
            "## The optimal discriminator\n\nFor a fixed G, the best D is D*(x) = p_data(x) / (p_data(x) + p_g(x)), "
            "and the value of the game at D* is -2 log 2 + 2 JSD(p_data || p_g): it reaches -2 log 2 only when p_g = "
            "p_data."
        ),
        new_code_cell("""from scipy.stats import norm
from genlab.data.toy import bimodal_1d_pdf
from genlab.math import VALUE_AT_EQUILIBRIUM, gan_value, jensen_shannon, optimal_discriminator

x = np.linspace(-6, 6, 4001)
p_data, p_g = bimodal_1d_pdf(x), norm.pdf(x, scale=1.5)
d_star = optimal_discriminator(p_data, p_g)
print(f"V(D*, G) = {gan_value(d_star, p_data, p_g, x):.4f}; -2 log 2 + 2 JSD = {VALUE_AT_EQUILIBRIUM + 2 * jensen_shannon(p_data, p_g, x):.4f}")
plt.plot(x, p_data, "k", label="p_data"); plt.plot(x, p_g, label="p_g"); plt.plot(x, d_star, "--", label="D*")
plt.legend(); plt.show()"""),
        new_markdown_cell(
            "## A 1-D GAN with hand-written backprop\n\n`genlab.models.gan_numpy.fit_samples` trains an MLP GAN in "
            "NumPy. "
            "Watch the D loss: near 2 log 2 ≈ 1.386 the discriminator can no longer tell the two apart."
        ),
        new_code_cell("""from genlab.data.toy import bimodal_1d
from genlab.models.gan_numpy import NumpyGANConfig, fit_samples, generate

data = bimodal_1d(1000, torch.Generator().manual_seed(0)).numpy().astype(np.float64)   # (1000, 1)
cfg = NumpyGANConfig(z_dim=4, hidden=16 if TINY else 64, layers=2, lr=1e-3, beta1=0.5)
players, losses = fit_samples(data / 4, cfg, steps=100 if TINY else 3000, seed=0)
fake = generate(players["generator"], 20_000, np.random.default_rng(1))[:, 0] * 4
print(f"mean D loss over the last 100 steps: {losses[-100:, 0].mean():.3f} (2 log 2 = {2 * np.log(2):.3f})")
plt.hist(fake, bins=100, density=True, alpha=0.5, label="GAN"); plt.plot(x, p_data, "k", label="p_data")
plt.xlim(-5, 5); plt.legend(); plt.show()"""),
        new_markdown_cell(
            "## genlab's MLP GAN on MNIST\n\nThe same trainer as `genlab train gan --preset small`: non-saturating "
            "loss, "
            "Adam (0.5, 0.999). A fixed-noise grid is written into the run every epoch."
        ),
        new_code_cell("""from genlab.config import TrainConfig
from genlab.models import get_family
from genlab.runs import RunConfig, read_metrics
from genlab.training import train

spec = get_family("gan")
model = spec.config_cls(**(spec.tiny if TINY else spec.presets["small"]))
steps = 10 if TINY else 1500
result = train(RunConfig("gan", model, TrainConfig(steps=steps, batch_size=64, log_every=5 if TINY else 50)), OUT / "gan", quiet=True)
print(f"{result.step} steps in {result.wall_seconds:.0f} s, {result.num_parameters:,} parameters")
metrics = [m for m in read_metrics(OUT / "gan") if "loss_d" in m]
plt.plot([m["step"] for m in metrics], [m["loss_d"] for m in metrics], label="D loss")
plt.plot([m["step"] for m in metrics], [m["loss_g"] for m in metrics], label="G loss")
plt.xlabel("step"); plt.legend(); plt.show()"""),
        new_code_cell("""from genlab.runs.loading import load_family, sample_in_batches

family, run, meta = load_family(OUT / "gan")
show(sample_in_batches(family, 64, seed=0), f"gan after {meta['step']} steps")"""),
        new_markdown_cell(
            "What to look for: the D loss should hover near 1.0-1.4 (not fall to 0: then D wins and G's gradients "
            "vanish; "
            "the trainer warns). Samples that all look alike are mode collapse: see `docs/guide/mode-collapse.md`."
        ),
    ]


def vae_latent_space() -> list:
    return [
        new_markdown_cell(
            "# VAE latent space\n\nThe KL term in closed form, a VAE with a 2-D latent space, the test set "
            "encoded into it, and the decoder's picture of the whole plane. Guide: `docs/guide/vae.md`."
        ),
        new_code_cell(SETUP, metadata={"tags": ["parameters"]}),
        new_code_cell(SHOW),
        new_markdown_cell(
            "## The KL term\n\nKL(N(μ, σ²) ‖ N(0, 1)) = -½ Σ (1 + log σ² - μ² - σ²), the two worked examples:"
        ),
        new_code_cell("""from genlab.math import kl_normal_std

for mu, logvar in [([0.8, -0.3], [-0.5, 0.2]), ([0.5, -1.0, 2.0], [-0.5, 0.0, 0.5])]:
    kl = kl_normal_std(torch.tensor(mu, dtype=torch.float64), torch.tensor(logvar, dtype=torch.float64))
    print(f"mu={mu} logvar={logvar}: KL = {kl.item():.4f} nats")"""),
        new_markdown_cell(
            "## The reparameterisation trick\n\nz = μ + σ ε with ε ~ N(0, I) moves the randomness out of the path "
            "from μ, σ to z, so gradients reach them: dz/dμ = 1, dz/dσ = ε."
        ),
        new_code_cell("""mu = torch.tensor([0.5], requires_grad=True); log_sigma = torch.tensor([0.0], requires_grad=True)
eps = torch.randn(1, generator=torch.Generator().manual_seed(0))
z = mu + log_sigma.exp() * eps
z.backward()
print(f"eps = {eps.item():.4f}; dz/dmu = {mu.grad.item():.1f}; dz/dlog_sigma = {log_sigma.grad.item():.4f} (= sigma * eps)")"""),
        new_markdown_cell("## A VAE with z in 2 dimensions"),
        new_code_cell("""from genlab.config import TrainConfig
from genlab.models import get_family
from genlab.runs import RunConfig
from genlab.training import train
from genlab.runs.loading import load_family

spec = get_family("vae")
model = spec.config_cls(**(spec.tiny if TINY else {"latent_dim": 2}))   # MLP 784-400-2
schedule = TrainConfig(steps=10, batch_size=32) if TINY else TrainConfig(epochs=5)
result = train(RunConfig("vae", model, schedule), OUT / "vae2d", quiet=True)
print(f"{result.step} steps in {result.wall_seconds:.0f} s: {result.last_metrics}")
family, run, meta = load_family(OUT / "vae2d")"""),
        new_markdown_cell(
            "## The test set in latent space\n\nEach point is a posterior mean E[z | x], coloured by digit."
        ),
        new_code_cell("""from genlab.data import load_dataset
from genlab.models.latent import latent_codec

codec = latent_codec(family)
images, labels, _ = load_dataset("mnist", "test")
n = 500 if TINY else 5000
z = codec.encode(torch.from_numpy(images[:n].copy()), None).numpy()     # (n, 2)
plt.figure(figsize=(6, 5)); plt.scatter(z[:, 0], z[:, 1], c=labels[:n], cmap="tab10", s=3); plt.colorbar(label="digit")
plt.xlabel("z1"); plt.ylabel("z2"); plt.show()"""),
        new_markdown_cell(
            "## The decoder's map of the plane\n\nDecoding a regular grid of z shows what each region of the latent "
            "space means."
        ),
        new_code_cell("""from genlab.data import to_uint8

k = 5 if TINY else 15
axis = torch.linspace(-2.5, 2.5, k)
grid_z = torch.stack(torch.meshgrid(axis, -axis, indexing="xy"), dim=-1).reshape(-1, 2)   # (k*k, 2), row by row
show(to_uint8(codec.decode(grid_z, None)), "decoded grid over z in [-2.5, 2.5]^2", size=7)"""),
        new_markdown_cell(
            "What to look for: classes form regions and the decoded grid morphs smoothly between digits. "
            "With β > 1 (`--set beta=4`) the regions blur; with free bits or KL annealing, fewer latent units "
            "collapse "
            "(`docs/guide/vae.md`, posterior collapse)."
        ),
    ]


def diffusion_sampling() -> list:
    return [
        new_markdown_cell(
            "# Diffusion sampling\n\nThe forward process in closed form, a small class-conditional DDPM, "
            "DDPM against DDIM sampling, and classifier-free guidance. Guide: `docs/guide/diffusion.md`."
        ),
        new_code_cell(SETUP, metadata={"tags": ["parameters"]}),
        new_code_cell(SHOW),
        new_markdown_cell(
            "## The noise schedule and the forward process\n\nx_t = √ᾱ_t x_0 + √(1 - ᾱ_t) ε, with ᾱ_t = ∏ (1 - β_s)."
        ),
        new_code_cell("""from genlab.data import load_dataset, to_uint8
from genlab.math.diffusion import q_sample
from genlab.math.schedules import alpha_bar, named_betas

for name in ("linear", "cosine"):
    plt.plot(alpha_bar(named_betas(name, 1000)), label=name)
plt.yscale("log"); plt.xlabel("t"); plt.ylabel("alpha-bar"); plt.legend(); plt.show()

images, labels, _ = load_dataset("mnist", "test")
x0 = torch.from_numpy(images[:1].astype(np.float32)) / 127.5 - 1                     # (1, 1, 28, 28)
ab = torch.from_numpy(alpha_bar(named_betas("linear", 1000)))
noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
ts = [1, 50, 100, 200, 400, 700, 1000]
show(to_uint8(torch.cat([q_sample(x0, torch.tensor([t - 1]), noise, ab) for t in ts]).clamp(-1, 1)), f"t = {ts}", size=8)"""),
        new_markdown_cell(
            "## Train a small class-conditional DDPM\n\nThe ε-prediction loss ‖ε - ε_θ(x_t, t, y)‖²; labels are "
            "dropped "
            "10 % of the time so the same network also predicts unconditionally (needed for guidance). "
            "A few minutes of CPU give blurry digits; `genlab train ddpm --preset small --steps 5000` (25 min) gives "
            "good ones."
        ),
        new_code_cell("""from genlab.config import TrainConfig
from genlab.models import get_family
from genlab.runs import RunConfig
from genlab.training import train

spec = get_family("ddpm")
model = spec.config_cls(**(spec.tiny if TINY else spec.presets["small"]))
schedule = TrainConfig(steps=3 if TINY else 600, batch_size=8 if TINY else 64, grid_size=4 if TINY else 64)
result = train(RunConfig("ddpm", model, schedule), OUT / "ddpm", quiet=True)
print(f"{result.step} steps in {result.wall_seconds:.0f} s: {result.last_metrics}")"""),
        new_markdown_cell(
            "## DDPM (every step) against DDIM (a few steps)\n\nThe weights are the same; only the sampler changes, "
            "as a sampling-time override."
        ),
        new_code_cell("""from genlab.runs.loading import load_family, sample_in_batches

T = model.diffusion_steps
labels10 = torch.arange(10).repeat_interleave(2 if TINY else 4)
for sampler, steps in (("ddpm", T), ("ddim", min(T, 50)), ("ddim", min(T, 10))):
    family, run, _ = load_family(OUT / "ddpm", overrides={"sampler": sampler, "sample_steps": steps})
    start = time.perf_counter()
    samples = sample_in_batches(family, len(labels10), labels=labels10, seed=0)
    seconds = time.perf_counter() - start
    show(samples, f"{sampler}, {steps} steps: {1000 * seconds / len(labels10):.0f} ms/image", size=4)"""),
        new_markdown_cell(
            "## Classifier-free guidance\n\nε = ε_uncond + w (ε_cond - ε_uncond): w = 0 ignores the label, w = 1 is "
            "the "
            "conditional model, w > 1 trades diversity for agreement with the label."
        ),
        new_code_cell("""for w in (0.0, 1.0, 3.0):
    family, run, _ = load_family(OUT / "ddpm", overrides={"sampler": "ddim", "sample_steps": min(T, 50), "guidance": w})
    show(sample_in_batches(family, len(labels10), labels=labels10, seed=0), f"guidance w = {w:g}", size=4)"""),
        new_markdown_cell(
            "What to look for: DDIM with 50 steps should look like DDPM with all T at a fraction of the time; "
            "as w grows, rows become more clearly their digit and less varied. Measured at full size: "
            "`docs/results/diffusion-sweep.md`."
        ),
    ]


NOTEBOOKS = {
    "gan_basics.ipynb": gan_basics,
    "vae_latent_space.ipynb": vae_latent_space,
    "diffusion_sampling.ipynb": diffusion_sampling,
}


def make(name: str):
    """The notebook ``name`` with stable cell ids, so a rebuild is byte-identical."""
    nb = new_notebook(cells=NOTEBOOKS[name]())
    for i, cell in enumerate(nb.cells):
        cell.id = f"{Path(name).stem}-{i:02d}"
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.validate(nb)
    return nb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    stale = []
    for name in NOTEBOOKS:
        text = nbformat.writes(make(name)) + "\n"
        path = HERE / name
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            atomic_write_text(path, text)
            print(f"wrote {path}")
    if stale:
        print(f"out of date (run python notebooks/build.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
