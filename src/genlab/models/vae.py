"""``vae``: the MLP VAE of Kingma & Welling 2014 (784 -> 400 -> z=20 and back), and what every VAE shares.

Loss per image, in nats: reconstruction NLL (Bernoulli = BCE, or Gaussian = MSE with a
fixed sigma) + w_t * KL(q(z|x) || N(0, I)) in closed form, where the KL weight w_t follows
``kl_anneal`` up to ``beta`` (``genlab.math.anneal``) and ``free_bits`` keeps every latent
dimension at >= that many nats. ``binarize=dynamic`` trains on binarised MNIST: each batch
is resampled as Bernoulli pixels from the training stream's generator.

:class:`VAEFamily` holds the objective, sampling, the held-out diagnostics (KL per latent
dimension, active units) and the two hooks the importance-sampled likelihood
(``genlab.eval.nll``) needs: ``encode`` and ``log_px_given_z``. ``conv-vae`` and ``cvae``
(vae_conv.py, vae_cond.py) only bring their own networks.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.math.anneal import free_bits_kl, kl_weight
from genlab.math.kl import kl_normal_std_per_dim
from genlab.math.likelihoods import bernoulli_nll, gaussian_nll
from genlab.models.base import Family
from genlab.models.registry import register
from genlab.models.shapes import SIZES, ShapeSupport
from genlab.models.vae_prior import PosteriorBank, fit_class_gmms, fit_gmm, sample_class_gmms, sample_gmm
from genlab.nn.noise import bernoulli, randn

EVAL_BINARIZE_SEED = 1  # held-out metrics binarise each test batch with this seed (not 0: the sampling seed)
ACTIVE_UNIT_THRESHOLD = 0.01  # Burda et al. 2016, section 5.2: Cov_x(E_q[z_u]) > 0.01
MU_SUM, MU_SQ_SUM = "_mu_sum_", "_mu_sq_sum_"  # evaluate()'s private moments, consumed by summarise_evaluation


@dataclass(frozen=True)
class VAEOptions:
    """Options every VAE shares: latent size, likelihood, KL weighting, binarisation, lr."""

    latent_dim: int = 20
    likelihood: Literal["bernoulli", "gaussian"] = "bernoulli"
    gaussian_sigma: float = 0.1  # fixed decoder std for the Gaussian likelihood, in [0, 1] pixel units
    beta: float = 1.0  # the KL weight once any annealing is over
    kl_anneal: Literal["none", "linear", "cyclical"] = "none"
    kl_warmup_steps: int = 0  # span of the linear warm-up, or of all cycles together
    kl_cycles: int = 4  # cyclical: number of cycles within kl_warmup_steps (Fu et al. 2019, M)
    kl_cycle_ratio: float = 0.5  # cyclical: share of each cycle spent increasing (Fu et al. 2019, R)
    free_bits: float = 0.0  # minimum KL per latent dimension in nats (Kingma et al. 2016); 0 = off
    binarize: Literal["none", "dynamic"] = "none"  # dynamic: fresh Bernoulli pixels every batch
    lr: float = 1e-3
    # Where samples draw z: the N(0, I) prior, or a Gaussian mixture fitted to the posterior means of the last
    # prior_bank training images (ex-post density estimation, Ghosh et al. 2020; models/vae_prior.py), or (cvae)
    # one such mixture per class, fitted to that class's means: class-gmm.
    sample_prior: Literal["standard", "gmm", "class-gmm"] = "standard"
    prior_components: int = 10
    prior_bank: int = 10_000

    def check(self) -> None:
        if self.sample_prior not in ("standard", "gmm", "class-gmm"):
            raise ConfigError(f"sample_prior must be standard, gmm or class-gmm, got {self.sample_prior!r}")
        if self.prior_components < 1 or self.prior_bank < 2 * self.prior_components:
            raise ConfigError(
                f"prior_components must be >= 1 and prior_bank >= 2 x prior_components, got "
                f"{self.prior_components} and {self.prior_bank}"
            )
        if self.latent_dim < 1:
            raise ConfigError(f"latent_dim must be >= 1, got {self.latent_dim}")
        if self.gaussian_sigma <= 0 or self.beta < 0 or self.lr <= 0:
            raise ConfigError("gaussian_sigma and lr must be > 0 and beta >= 0")
        if self.kl_warmup_steps < 0 or self.free_bits < 0:
            raise ConfigError(
                f"kl_warmup_steps and free_bits must be >= 0, got {self.kl_warmup_steps} and {self.free_bits}"
            )
        if self.kl_anneal != "none" and self.kl_warmup_steps < 1:
            raise ConfigError(f"kl_anneal={self.kl_anneal} needs kl_warmup_steps >= 1 (the steps it anneals over)")
        if self.kl_cycles < 1 or not 0 < self.kl_cycle_ratio <= 1:
            raise ConfigError(
                f"kl_cycles must be >= 1 and kl_cycle_ratio in (0, 1], got {self.kl_cycles} and {self.kl_cycle_ratio}"
            )
        if self.kl_anneal == "cyclical" and self.kl_cycles > self.kl_warmup_steps:
            raise ConfigError(f"kl_cycles ({self.kl_cycles}) cannot exceed kl_warmup_steps ({self.kl_warmup_steps})")
        if self.binarize == "dynamic" and self.likelihood != "bernoulli":
            raise ConfigError("binarize=dynamic makes binary pixels: use it with likelihood=bernoulli")


@dataclass(frozen=True)
class VAEConfig(VAEOptions):
    hidden: int = 400
    hidden_layers: int = 1  # hidden layers in the encoder and in the decoder

    def check(self) -> None:
        super().check()
        if self.hidden < 1 or self.hidden_layers < 1:
            raise ConfigError(f"hidden and hidden_layers must be >= 1, got {self.hidden} and {self.hidden_layers}")


def mlp_body(d_in: int, hidden: int, layers: int) -> list[nn.Module]:
    """Linear + ReLU, ``layers`` times: d_in -> hidden -> ... -> hidden."""
    out: list[nn.Module] = []
    for i in range(layers):
        out += [nn.Linear(d_in if i == 0 else hidden, hidden), nn.ReLU()]
    return out


class MLPEncoder(nn.Module):
    """q(z | x[, c]): flattened image (and a condition vector, for the CVAE) -> mu, log sigma^2."""

    def __init__(self, d_in: int, hidden: int, latent_dim: int, layers: int = 1, cond_dim: int = 0) -> None:
        super().__init__()
        self.body = nn.Sequential(*mlp_body(d_in + cond_dim, hidden, layers))
        self.mu = nn.Linear(hidden, latent_dim)
        self.logvar = nn.Linear(hidden, latent_dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        # (B, C, H, W) [+ (B, K)] -> (B, Z), (B, Z)
        h = x.flatten(1) if cond is None else torch.cat([x.flatten(1), cond], 1)
        h = self.body(h)
        return self.mu(h), self.logvar(h)


class MLPDecoder(nn.Module):
    """p(x | z[, c]): latent (and condition) -> per-pixel logits (Bernoulli) or means (Gaussian)."""

    def __init__(
        self, latent_dim: int, hidden: int, out_shape: tuple[int, int, int], layers: int = 1, cond_dim: int = 0
    ) -> None:
        super().__init__()
        self.out_shape = out_shape
        d_out = out_shape[0] * out_shape[1] * out_shape[2]
        self.net = nn.Sequential(*mlp_body(latent_dim + cond_dim, hidden, layers), nn.Linear(hidden, d_out))

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        # (B, Z) [+ (B, K)] -> (B, C, H, W)
        h = z if cond is None else torch.cat([z, cond], 1)
        return self.net(h).view(z.shape[0], *self.out_shape)


def active_units(mu: torch.Tensor, threshold: float = ACTIVE_UNIT_THRESHOLD) -> int:
    """Dimensions u with Var_x(E_q[z_u | x]) > threshold (Burda et al. 2016). Shapes: mu (N, Z)."""
    if mu.shape[0] < 2:
        return 0
    return int((mu.double().var(dim=0, unbiased=False) > threshold).sum())


class VAEFamily(Family):
    """A VAE with a diagonal-Gaussian posterior and a N(0, I) prior; subclasses supply the networks.

    ``self.step`` counts training steps (the KL schedule's clock); it is part of
    ``state_dict`` so a resumed run continues bit-exactly.
    """

    kind = "vae"

    data_scale = "0,1"

    def __init__(self, cfg: VAEOptions, info: DataInfo, *, conditional: bool = False) -> None:
        super().__init__(cfg, info)
        cfg.check()
        self.conditional = conditional
        encoder, decoder = self.make_networks(cfg, info, info.num_classes if conditional else 0)
        self.nets = {"encoder": encoder, "decoder": decoder}
        self._mixture: tuple[int, Any] | None = None  # (bank count it was fitted at, the mixture or per-class list)
        if cfg.sample_prior == "class-gmm" and not conditional:
            raise ConfigError("sample_prior=class-gmm needs a conditional VAE (cvae); use sample_prior=gmm")
        if cfg.sample_prior != "standard":
            labelled = cfg.sample_prior == "class-gmm"
            self.nets["posterior_bank"] = PosteriorBank(cfg.prior_bank, cfg.latent_dim, labelled=labelled)
        params = [p for net in self.nets.values() for p in net.parameters()]
        self.opts = {"adam": torch.optim.Adam(params, lr=cfg.lr)}

    @abstractmethod
    def make_networks(self, cfg: Any, info: DataInfo, cond_dim: int) -> tuple[nn.Module, nn.Module]:
        """(encoder, decoder); ``cond_dim`` > 0 adds a one-hot label input to both."""

    def one_hot(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """The decoder/encoder condition: one-hot labels (n, K) for a conditional VAE, else None."""
        if not self.conditional:
            return None
        device = self.device
        labels = torch.arange(n, device=device) % self.info.num_classes if labels is None else labels.to(device)
        return F.one_hot(labels.long(), self.info.num_classes).float()

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters. Shapes: x (B, C, H, W) in [0, 1] -> mu, logvar (B, Z)."""
        return self.nets["encoder"](x, self.one_hot(labels, x.shape[0]))

    def log_px_given_z(self, x: torch.Tensor, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x | z) for S latent samples per image. Shapes: x (B, C, H, W), z (S, B, Z) -> (S, B)."""
        s, b = z.shape[:2]
        cond = self.one_hot(labels, b)
        cond = None if cond is None else cond.expand(s, *cond.shape).reshape(s * b, -1)  # (B, K) -> (S*B, K)
        out = self.nets["decoder"](z.reshape(s * b, -1), cond)  # (S*B, C, H, W)
        xs = x.expand(s, *x.shape).reshape(s * b, *x.shape[1:])
        return -self.recon_nll(out, xs).view(s, b)

    def recon_nll(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-log p(x | decoder output) per image, (B,)."""
        if self.cfg.likelihood == "bernoulli":
            return bernoulli_nll(out, x)
        return gaussian_nll(out, x, self.cfg.gaussian_sigma)

    def losses(
        self, x: torch.Tensor, labels: torch.Tensor | None, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        """Per-image recon NLL and KL (B,), KL per dimension (B, Z) and posterior means (B, Z)."""
        mu, logvar = self.encode(x, labels)
        # Reparameterisation: z = mu + sigma * eps keeps the sample differentiable in mu, sigma.
        z = mu + (0.5 * logvar).exp() * randn(mu.shape, generator, mu.device)
        recon = self.recon_nll(self.nets["decoder"](z, self.one_hot(labels, x.shape[0])), x)
        kl_dims = kl_normal_std_per_dim(mu, logvar)
        return {"recon": recon, "kl": kl_dims.sum(1), "kl_dims": kl_dims, "mu": mu}

    def kl_weight(self) -> float:
        cfg = self.cfg
        return kl_weight(
            cfg.kl_anneal,
            self.step,
            beta=cfg.beta,
            warmup_steps=cfg.kl_warmup_steps,
            cycles=cfg.kl_cycles,
            ratio=cfg.kl_cycle_ratio,
        )

    def train_step(self, images, labels, generator):
        if self.cfg.binarize == "dynamic":
            images = bernoulli(images, generator)
        parts = self.losses(images, labels, generator)
        weight = self.kl_weight()
        kl_term = free_bits_kl(parts["kl_dims"], self.cfg.free_bits)
        loss = parts["recon"].mean() + weight * kl_term
        opt = self.opts["adam"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        self.step += 1
        if "posterior_bank" in self.nets:
            self.nets["posterior_bank"].add(parts["mu"], labels if self.cfg.sample_prior == "class-gmm" else None)
        return {
            "loss": loss.item(),
            "recon": parts["recon"].mean().item(),
            "kl": parts["kl"].mean().item(),
            "kl_weight": weight,
        }

    @torch.no_grad()
    def evaluate(self, images, labels):
        """Sums over the batch of: loss (recon + beta KL), nelbo (recon + KL), recon, kl, KL per dimension
        (``kl_dim_00``...), and the first two moments of the posterior mean per dimension, from
        which ``summarise_evaluation`` counts the active units over the whole test set."""
        self.train(False)
        try:
            if self.cfg.binarize == "dynamic":
                images = bernoulli(images, torch.Generator().manual_seed(EVAL_BINARIZE_SEED))
            parts = self.losses(images, labels, torch.Generator().manual_seed(0))
        finally:
            self.train(True)
        recon, kl = parts["recon"], parts["kl"]
        sums = {
            "loss": (recon + self.cfg.beta * kl).sum().item(),
            "nelbo": (recon + kl).sum().item(),
            "recon": recon.sum().item(),
            "kl": kl.sum().item(),
        }
        sums.update({f"kl_dim_{j:02d}": v for j, v in enumerate(parts["kl_dims"].sum(0).tolist())})
        mu = parts["mu"].double()
        sums.update({f"{MU_SUM}{j:02d}": v for j, v in enumerate(mu.sum(0).tolist())})
        sums.update({f"{MU_SQ_SUM}{j:02d}": v for j, v in enumerate((mu * mu).sum(0).tolist())})
        return sums

    def summarise_evaluation(self, means):
        """Replace the posterior-mean moments with ``active_units``: dimensions u with
        Var_x(E_q[z_u | x]) > 0.01 over the whole test set (Burda et al. 2016)."""
        out = {k: v for k, v in means.items() if not k.startswith((MU_SUM, MU_SQ_SUM))}
        d = self.cfg.latent_dim
        if f"{MU_SUM}00" in means:
            variances = [means[f"{MU_SQ_SUM}{j:02d}"] - means[f"{MU_SUM}{j:02d}"] ** 2 for j in range(d)]
            out["active_units"] = float(sum(v > ACTIVE_UNIT_THRESHOLD for v in variances))
        return out

    def decode_mean(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder mean image in [-1, 1]. Shapes: (B, Z) -> (B, C, H, W)."""
        out = self.nets["decoder"](z, self.one_hot(labels, z.shape[0]))
        mean = torch.sigmoid(out) if self.cfg.likelihood == "bernoulli" else out.clamp(0, 1)
        return mean * 2 - 1

    @torch.no_grad()
    def sample(self, n, *, labels=None, generator):
        return self.decode_mean(self.prior_sample(n, generator, labels), labels)

    def prior_sample(self, n: int, generator: torch.Generator, labels: torch.Tensor | None = None) -> torch.Tensor:
        """z (n, latent_dim) from ``sample_prior``: N(0, I), or the mixture fitted to the posterior bank (refitted
        when the bank has changed; N(0, I) until it holds 2 x prior_components means). class-gmm draws row i from
        the mixture of its label (``labels``, or the cycle 0, 1, ..., K-1 that ``one_hot`` uses for None)."""
        bank = self.nets.get("posterior_bank")
        cfg = self.cfg
        if bank is None or int(bank.count) < 2 * cfg.prior_components:
            return randn((n, cfg.latent_dim), generator, self.device)
        if self._mixture is None or self._mixture[0] != int(bank.count):
            if cfg.sample_prior == "class-gmm":
                fit = fit_class_gmms(bank.filled(), bank.filled_labels(), self.info.num_classes, cfg.prior_components)
            else:
                fit = fit_gmm(bank.filled(), cfg.prior_components)
            self._mixture = (int(bank.count), fit)
        if cfg.sample_prior == "class-gmm":
            labels = torch.arange(n) % self.info.num_classes if labels is None else labels
            return sample_class_gmms(self._mixture[1], labels, cfg.latent_dim, generator).to(self.device)
        return sample_gmm(*self._mixture[1], n, generator).to(self.device)


@register(
    "vae",
    config=VAEConfig,
    description="MLP VAE (Kingma & Welling 2014); --set likelihood=, beta=, kl_anneal=, free_bits=, binarize=, "
    "hidden_layers=",
    presets={
        "small": {"hidden": 256},
        # Two hidden layers of 500 and z = 50, dynamically binarised MNIST (docs/results/vae.md).
        "binarized": {"hidden": 500, "hidden_layers": 2, "latent_dim": 50, "binarize": "dynamic"},
    },
    tiny={"hidden": 8, "latent_dim": 2},
    shapes=ShapeSupport(SIZES),
)
class VAE(VAEFamily):
    def __init__(self, cfg: VAEConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)

    def make_networks(self, cfg: VAEConfig, info: DataInfo, cond_dim: int) -> tuple[nn.Module, nn.Module]:
        d_in = info.channels * info.height * info.width
        encoder = MLPEncoder(d_in, cfg.hidden, cfg.latent_dim, cfg.hidden_layers, cond_dim)
        decoder = MLPDecoder(cfg.latent_dim, cfg.hidden, self.image_shape, cfg.hidden_layers, cond_dim)
        return encoder, decoder
