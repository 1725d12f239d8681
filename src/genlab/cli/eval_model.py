"""``genlab eval nll`` and ``genlab eval disentangle``: scores that read a model itself (its likelihood or
variational bound, its latent codes), not only its samples. Registered on :mod:`genlab.cli.eval`'s group."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from genlab.cli.app import SEED_RANGE, DataDir, Quiet, out
from genlab.cli.eval import AsJson, eval_app
from genlab.console import Progress
from genlab.runs.loading import load_family

NLL_HELP = (
    "Test negative log-likelihood of a VAE run (vae, conv-vae, cvae) by importance sampling: the IWAE bound "
    "log (1/k) sum_i p(x, z_i) / q(z_i | x) with k samples per image (Burda et al. 2016), in nats per image and "
    "bits/dim, beside the ELBO (k = 1) and the posterior-collapse diagnostics (KL per latent dimension, active "
    "units). "
    "A Bernoulli model is scored on the test set binarised once with --binarize-seed (the dynamically binarised "
    "MNIST protocol); a Gaussian one on grey levels in [0, 1] (a density, not comparable). A conditional model gives "
    "log p(x | y) with the true labels. Lower is better. "
    "A diffusion run (ddpm) gives its variational bound L_T + sum_t L_{t-1} + L_0 (Ho et al. 2020, eq. 5) on the "
    "256 grey levels scaled to [-1, 1] with a discretised Gaussian decoder (no dequantisation), the DDPM sampler's "
    "variance beta_t, over all T steps or a stratified sample of --timesteps of them, with its standard error."
)


@eval_app.command(help=NLL_HELP)
def nll(
    run_dir: Annotated[Path, typer.Argument(help="A VAE or diffusion (ddpm) run directory.")],
    k: Annotated[int, typer.Option("--k", help="Importance samples per image (the literature uses 5000).")] = 5000,
    timesteps: Annotated[
        int,
        typer.Option(
            "--timesteps", help="Diffusion: KL terms per image, a stratified sample over t (0: all T, exact)."
        ),
    ] = 0,
    n: Annotated[int | None, typer.Option("-n", help="Score only the first n test images (default: all).")] = None,
    binarize_seed: Annotated[
        int, typer.Option("--binarize-seed", help="Seed of the one binarisation of the test set.", **SEED_RANGE)
    ] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the importance samples.", **SEED_RANGE)] = 0,
    checkpoint: Annotated[str, typer.Option(help="latest, best or a step number.")] = "latest",
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Test images per batch (memory: batch x chunk decoder rows).")
    ] = 100,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    quiet: Quiet = False,
) -> None:
    from genlab.eval.diffusion_nll import BoundResult
    from genlab.report.run_scores import run_nll

    with Progress(f"eval nll (k={k})", n, unit="images", quiet=quiet) as bar:

        def progress(done: int, total: int) -> None:
            if bar.total != total:
                bar.stage(f"eval nll (k={k})", total)
            bar.update(done)

        result, what = run_nll(
            run_dir,
            k=k,
            timesteps=timesteps,
            n=n,
            binarize_seed=binarize_seed,
            seed=seed,
            checkpoint=checkpoint,
            batch_size=batch_size,
            data_dir=data_dir,
            progress=progress,
        )
    if as_json:
        print(json.dumps({"what": what, **dataclasses.asdict(result)}, indent=1))
        return
    if isinstance(result, BoundResult):
        out.print(bound_table(result, what))
        return
    table = Table("metric", "value", "meaning", title=escape(what))
    table.add_row(
        "nll",
        f"{result.nll:.2f} nats",
        f"-log (1/k) sum_i p(x, z_i)/q(z_i|x), k = {k}: upper bound on -log p(x), tightens with k",
    )
    table.add_row("bits/dim", f"{result.bits_per_dim:.4f}", f"nll / ({result.dims} ln 2)")
    table.add_row(
        "-elbo",
        f"{result.elbo_nll:.2f} nats",
        escape(f"-E_q[log p(x, z) / q(z|x)] (k = 1); gap to nll {result.elbo_nll - result.nll:.2f}"),
    )
    table.add_row(
        "active units",
        f"{result.active_units} / {len(result.kl_per_dim)}",
        escape("latent dims with Var_x(E_q[z_u|x]) > 0.01 (Burda et al. 2016)"),
    )
    table.add_row("kl", f"{sum(result.kl_per_dim):.2f} nats", "KL(q(z|x) || N(0, I)), averaged over the images")
    out.print(table)
    out.print(
        "KL per latent dimension (nats): " + "  ".join(f"{j:02d}:{v:.2f}" for j, v in enumerate(result.kl_per_dim))
    )


def bound_table(result, what: str) -> Table:
    """The variational bound of a diffusion run, term by term (``genlab eval nll``)."""
    table = Table("metric", "value", "meaning", title=escape(what))
    how = "all T - 1 steps" if result.exact else f"stratified, {result.timesteps} steps per image"
    table.add_row(
        "nll",
        f"{result.nll:.2f} ± {result.nll_se:.2f} nats",
        escape("L_T + L_0 + sum of L_{t-1}: upper bound on -log p(x); ± standard error over images"),
    )
    table.add_row(
        "bits/dim", f"{result.bits_per_dim:.4f} ± {result.bits_per_dim_se:.4f}", f"nll / ({result.dims} ln 2)"
    )
    table.add_row("L_T", f"{result.prior:.3f} nats", "KL(q(x_T|x_0) || N(0, I))")
    table.add_row("sum L_{t-1}", f"{result.diffusion:.2f} nats", escape(f"KL terms, t = 2..{result.steps} ({how})"))
    table.add_row("L_0", f"{result.decoder:.2f} nats", "-log p(x_0|x_1), discretised Gaussian, variance beta_1")
    return table


DISENTANGLE_HELP = (
    "Disentanglement of a VAE run's representation: the posterior means of the test images of a data set with "
    "known generating factors (shapes64: motif, hue, background, x, y, size, count), scored with MIG (Chen et al. "
    "2018), "
    "DCI (Eastwood & Williams 2018, random forests) and the FactorVAE score (Kim & Mnih 2018). Higher is better; all "
    "in [0, 1]."
)
DISENTANGLE_MEANING = {
    "mig": "mutual information gap: per factor, (top - second) MI with a latent / H(factor), averaged",
    "dci_disentanglement": "each latent predicts one factor (1 - entropy of its importance row)",
    "dci_completeness": "each factor is captured by one latent",
    "dci_informativeness": "factor classification accuracy from the codes (held-out quarter)",
    "factorvae": "majority-vote accuracy of 'least-varying latent -> fixed factor'",
}


@eval_app.command(help=DISENTANGLE_HELP)
def disentangle(
    run_dir: Annotated[Path, typer.Argument(help="A VAE run trained on shapes64.")],
    n: Annotated[
        int | None, typer.Option("-n", help="Score only the first n test images (default: all 5 000).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the DCI forests and the FactorVAE votes.", **SEED_RANGE)] = 0,
    checkpoint: Annotated[str, typer.Option(help="latest, best or a step number.")] = "latest",
    as_json: AsJson = False,
) -> None:
    from genlab.eval.factors import score_disentanglement

    family, run, meta = load_family(run_dir, checkpoint)
    result = score_disentanglement(family, run.train.dataset, n=n, seed=seed)
    what = f"{run.family} run {run_dir}, step {meta['step']}, {result['n']} {run.train.dataset} test images"
    if as_json:
        print(json.dumps({"what": what, **result}, indent=1))
        return
    table = Table("metric", "value", "meaning", title=escape(what))
    for name, meaning in DISENTANGLE_MEANING.items():
        table.add_row(name, f"{result[name]:.3f}", escape(meaning))
    out.print(table)
