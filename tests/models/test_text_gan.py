"""attr-gan: prompts parsed into attributes, the projection discriminator as a closed form."""

import pytest
import torch

from genlab.data import DataInfo
from genlab.data.captions import ATTRIBUTE_SIZES
from genlab.errors import ConfigError, DataError
from genlab.models.registry import get_family
from genlab.models.text_gan import AttrGANConfig, ProjectionDiscriminator, attributes_of


def build(size=16, **overrides):
    spec = get_family("attr-gan")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return spec.family_cls(spec.config_cls(**{**spec.tiny, **overrides}), DataInfo(3, size, size, 576))


def test_unnamed_attributes_are_unspecified():
    assert attributes_of(["small blue rosettes", "a red star motif on a cream background"]).tolist() == [
        [0, 5, ATTRIBUTE_SIZES[2], 0],
        [1, 0, 0, ATTRIBUTE_SIZES[3]],
    ]
    with pytest.raises(DataError, match="unicorn"):
        attributes_of(["a unicorn"])


def test_projection_discriminator_is_head_plus_one_inner_product_per_attribute():
    torch.manual_seed(0)
    d = ProjectionDiscriminator(2, 3, 8)
    x, y = torch.randn(3, 3, 8, 8), torch.tensor([[0, 1, 2, 0], [5, 7, 4, 3], [2, 8, 0, 1]])
    phi = d.features(x)
    expected = d.head(phi).squeeze(1) + sum((d.embeds[j](y[:, j]) * phi).sum(1) for j in range(4))
    torch.testing.assert_close(d(x, y), expected)


def test_prompt_samples_have_the_image_shape_and_follow_the_seed():
    family = build(size=8)
    a = family.sample_captions(["small blue rosettes"] * 2, generator=torch.Generator().manual_seed(0))
    b = family.sample_captions(["small blue rosettes"] * 2, generator=torch.Generator().manual_seed(0))
    assert a.shape == (2, 3, 8, 8) and torch.equal(a, b) and a.abs().max() <= 1


@pytest.mark.parametrize("size", [6, 12, 64])
def test_image_side_must_be_a_caption_size(size):
    with pytest.raises(ConfigError, match="task-specific .* takes only 8x8, 16x16 or 32x32 images with 3 channels"):
        build(size=size)


def test_bad_config():
    with pytest.raises(ConfigError, match="attribute_dropout"):
        AttrGANConfig(attribute_dropout=1.0).check()
