"""Every registered family, at tiny size, through the same checks (no per-family cases)."""

import dataclasses
import json

import pytest
import torch

from genlab.config import TrainConfig, field_types, from_dict, to_dict
from genlab.data import DataInfo
from genlab.models.registry import family_names, get_family
from genlab.runs.checkpoint import load_checkpoint, save_checkpoint


def info_for(spec):
    c, h, w = spec.example_shape
    return DataInfo(channels=c, height=h, width=w, num_classes=10)


FAMILIES = family_names()


def build(name, seed=0, **overrides):
    spec = get_family(name)
    cfg = spec.config_cls(**{**spec.tiny, **overrides})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return spec.family_cls(cfg, info_for(spec))


def batch(family, n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, *family.image_shape, generator=g)
    if family.data_scale == "-1,1":
        x = x * 2 - 1
    return x, torch.randint(0, 10, (n,), generator=g)


def weights(family):
    return {f"{k}.{n}": p.detach().clone() for k, net in family.nets.items() for n, p in net.named_parameters()}


@pytest.mark.parametrize("name", FAMILIES)
def test_one_train_step_changes_every_network_and_keeps_losses_finite(name):
    family = build(name)
    before = weights(family)
    x, y = batch(family)
    metrics = family.train_step(x, y, torch.Generator().manual_seed(0))
    assert metrics and all(isinstance(v, float) and torch.isfinite(torch.tensor(v)) for v in metrics.values())
    after = weights(family)
    for net_name in family.nets:
        changed = [k for k in before if k.startswith(net_name + ".") and not torch.equal(before[k], after[k])]
        assert changed, f"{name}: train_step left {net_name} unchanged"


@pytest.mark.parametrize("name", FAMILIES)
def test_sample_has_the_right_shape_range_and_is_deterministic(name):
    family = build(name)
    labels = torch.arange(5) % 10 if family.conditional else None
    a = family.sample(5, labels=labels, generator=torch.Generator().manual_seed(1))
    b = family.sample(5, labels=labels, generator=torch.Generator().manual_seed(1))
    c = family.sample(5, labels=labels, generator=torch.Generator().manual_seed(2))
    assert a.shape == (5, *get_family(name).example_shape) and a.dtype == torch.float32
    assert a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name", FAMILIES)
def test_sampling_leaves_the_global_rng_and_training_mode_alone(name):
    family = build(name)
    state = torch.get_rng_state()
    family.sample(
        3,
        labels=torch.zeros(3, dtype=torch.long) if family.conditional else None,
        generator=torch.Generator().manual_seed(0),
    )
    assert torch.equal(state, torch.get_rng_state())
    assert all(net.training for net in family.nets.values())


@pytest.mark.parametrize("name", FAMILIES)
def test_building_is_deterministic_under_the_seed(name):
    a, b, c = weights(build(name, seed=3)), weights(build(name, seed=3)), weights(build(name, seed=4))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("name", FAMILIES)
def test_config_round_trips_through_json(name):
    spec = get_family(name)
    cfg = spec.config_cls(**spec.tiny)
    assert from_dict(spec.config_cls, json.loads(json.dumps(to_dict(cfg)))) == cfg
    assert dataclasses.is_dataclass(cfg) and spec.config_cls.__dataclass_params__.frozen


@pytest.mark.parametrize("name", FAMILIES)
def test_config_keys_do_not_collide_with_trainer_keys(name):
    assert not set(field_types(get_family(name).config_cls)) & set(field_types(TrainConfig))


@pytest.mark.parametrize("name", FAMILIES)
def test_checkpoint_round_trip_gives_identical_outputs_and_training(name, tmp_path):
    family = build(name)
    x, y = batch(family)
    family.train_step(x, y, torch.Generator().manual_seed(0))
    save_checkpoint(tmp_path / "ckpt", family.state_dict(), {"family": name})
    state, meta = load_checkpoint(tmp_path / "ckpt.json")
    restored = build(name, seed=99)
    restored.load_state_dict(state)
    g = dict(labels=torch.arange(4) % 10 if family.conditional else None)
    assert torch.equal(
        family.sample(4, generator=torch.Generator().manual_seed(5), **g),
        restored.sample(4, generator=torch.Generator().manual_seed(5), **g),
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        m1 = family.train_step(x, y, torch.Generator().manual_seed(1))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        m2 = restored.train_step(x, y, torch.Generator().manual_seed(1))
    assert m1 == m2
    w1, w2 = weights(family), weights(restored)
    assert all(torch.equal(w1[k], w2[k]) for k in w1)


@pytest.mark.parametrize("name", FAMILIES)
def test_registry_entry_is_complete(name):
    spec = get_family(name)
    assert spec.description and spec.family_cls.registry_name == name
    for preset in spec.presets.values():
        spec.config_cls(**preset).check()


@pytest.mark.parametrize("name", FAMILIES)
def test_declared_capabilities_match_what_the_family_does(name):
    """Each family declares a ``kind``; its capability protocols follow from it, and each one works.

    kind vae <=> LatentLikelihood (encode + log p(x|z) give finite per-image values);
    kind diffusion <=> GuidedDiffusion (and its config has the sampling keys);
    Truncatable => a style generator whose config has ``truncation`` (psi = 0 gives one w for all z);
    TextConditioned => sample_captions draws images of the family's shape;
    VariationalBound => a diffusion family whose bound terms are finite per image.
    """
    from genlab.models.base import (
        GuidedDiffusion,
        LatentLikelihood,
        TextConditioned,
        Truncatable,
        VariationalBound,
        sampling_keys,
    )

    family = build(name)
    family.train(False)
    assert family.kind in ("gan", "vae", "diffusion", "translation")
    assert isinstance(family, LatentLikelihood) == (family.kind == "vae")
    assert isinstance(family, GuidedDiffusion) == (family.kind == "diffusion")
    fields = set(to_dict(family.cfg))
    assert set(sampling_keys(family)) <= fields
    x, y = batch(family, n=4)
    y = y if family.conditional else None
    if isinstance(family, LatentLikelihood):
        x01 = x if family.data_scale == "0,1" else (x + 1) / 2
        mu, logvar = family.encode(x01, y)
        assert mu.shape == logvar.shape and mu.shape[0] == 4
        log_px = family.log_px_given_z(x01, mu.unsqueeze(0).expand(3, *mu.shape), y)  # S = 3 latent samples
        assert log_px.shape == (3, 4) and torch.isfinite(log_px).all()
    if isinstance(family, VariationalBound):
        assert family.kind == "diffusion" and family.bound_steps() >= 1
        levels = torch.round((x + 1) * 127.5) / 127.5 - 1  # the 256 grey levels of [-1, 1]
        steps = torch.tensor([0, 1, family.bound_steps() - 1, 1])
        terms = family.bound_terms(levels, steps, y, generator=torch.Generator().manual_seed(0))
        assert terms.shape == (4,) and torch.isfinite(terms).all() and (terms >= 0).all()
        assert torch.isfinite(family.prior_term(levels)).all()
    if isinstance(family, Truncatable):
        z = torch.randn(3, family.cfg.z_dim, generator=torch.Generator().manual_seed(0))
        w = family.styles(z, psi=0.0)
        torch.testing.assert_close(w[0], w[1])
    if isinstance(family, TextConditioned):
        images = family.sample_captions(["a red star"] * 2, generator=torch.Generator().manual_seed(0))
        assert images.shape == (2, *family.image_shape)
