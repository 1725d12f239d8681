"""Cross-attention against a hand-written softmax attention, masking and its identity start."""

import math

import pytest
import torch

from genlab.nn.cross_attention import CrossAttention, attend


def reference_attention(q, k, v, mask):
    """softmax(q k^T / sqrt(d)) v with masked keys at -inf, written out (Vaswani et al. 2017, eq. 1)."""
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (B, h, N, L)
    scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def randomise_output(block, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        block.to_out.weight.copy_(torch.randn(block.to_out.weight.shape, generator=g) * 0.5)
        block.to_out.bias.copy_(torch.randn(block.to_out.bias.shape, generator=g))
    return block


def test_attend_matches_the_reference_with_a_mask():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 4, generator=g) for _ in range(3))
    k, v = k[:, :, :4], v[:, :, :4]  # 4 keys
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    torch.testing.assert_close(attend(q, k, v, mask), reference_attention(q, k, v, mask))


def test_a_fresh_block_is_the_identity():
    torch.manual_seed(0)
    block = CrossAttention(8, 6)
    x, context = torch.randn(2, 8, 4, 4), torch.randn(2, 3, 6)
    assert torch.equal(block(x, context, torch.ones(2, 3, dtype=torch.bool)), x)


def test_masked_tokens_do_not_change_the_output():
    torch.manual_seed(0)
    block = randomise_output(CrossAttention(8, 6, heads=2))
    x, context = torch.randn(2, 8, 4, 4), torch.randn(2, 5, 6)
    mask = torch.tensor([[True, True, False, False, False], [True, True, True, True, False]])
    other = context.clone()
    other[~mask] = torch.randn(int((~mask).sum()), 6)
    torch.testing.assert_close(block(x, context, mask), block(x, other, mask))
    assert not torch.allclose(block(x, context, mask), block(x, other, None))


def test_one_token_context_adds_its_projected_value_everywhere():
    # softmax over a single key is 1, so every position receives W_O W_V c + b_O.
    torch.manual_seed(0)
    block = randomise_output(CrossAttention(4, 3, heads=1))
    x, c = torch.randn(1, 4, 3, 3), torch.randn(1, 1, 3)
    expected = x + (block.to_out(block.to_v(c)))[0, 0][None, :, None, None]
    torch.testing.assert_close(block(x, c, torch.ones(1, 1, dtype=torch.bool)), expected)


@pytest.mark.parametrize(("channels", "heads"), [(8, 4), (6, 4)])
def test_heads_divide_the_channels_or_fall_back_to_one(channels, heads):
    block = CrossAttention(channels, 5, heads)
    assert block.heads == (heads if channels % heads == 0 else 1)
    x = torch.randn(2, channels, 2, 2)
    assert block(x, torch.randn(2, 3, 5), torch.ones(2, 3, dtype=torch.bool)).shape == x.shape
