"""captions32: attribute codes, caption templates, the tokenizer and the held-out pairs."""

import numpy as np
import pytest
import torch

from genlab.data import load_dataset
from genlab.data.captions import (
    ATTRIBUTE_SIZES,
    BACKGROUND_WORDS,
    COLOURS,
    HELD_OUT_PAIRS,
    NUM_CODES,
    TEMPLATES,
    attributes_to_code,
    canonical_captions,
    caption,
    check_prompt,
    code_to_attributes,
    downsample,
    factors_to_attributes,
    held_out_mask,
    load_captions32,
    max_tokens,
    parse_prompt,
    random_captions,
    render_attributes,
    tokenize,
    vocabulary,
)
from genlab.data.shapes64 import BACKGROUNDS, MOTIFS
from genlab.errors import DataError

ALL = code_to_attributes(np.arange(NUM_CODES))


def test_codes_round_trip_and_cover_every_combination():
    assert NUM_CODES == 6 * 8 * 4 * 3 == len({tuple(a) for a in ALL})
    assert np.array_equal(attributes_to_code(ALL), np.arange(NUM_CODES))
    with pytest.raises(DataError, match="0..575"):
        code_to_attributes(np.array([NUM_CODES]))


def test_canonical_caption_names_every_attribute():
    assert canonical_captions([0]) == ["a small red rosette motif on a cream background"]
    m, c, b, s = 1, 5, 2, 2
    assert caption((m, c, b, s)) == "a large blue star motif on a mint background"
    assert caption((3, 0, 0, 0), template=3) == "small red lattices"


@pytest.mark.parametrize("template", range(len(TEMPLATES)))
def test_every_template_parses_back_to_the_attributes_it_names(template):
    for a in ALL[::7]:
        text = caption(a, template)
        named = [w for w in ("{motif", "{colour}", "{background}", "{size}") if w in TEMPLATES[template]]
        parsed = parse_prompt(text)
        for j, key in enumerate(("{motif", "{colour}", "{background}", "{size}")):
            assert parsed[j] == (int(a[j]) if key in named else None), (text, parsed)


def test_parse_prompt_of_partial_and_bad_prompts():
    assert parse_prompt("small blue rosettes") == (0, COLOURS.index("blue"), None, 0)
    assert parse_prompt("A Teal Spiral, on Rose paper.") == (4, 4, 3, None)
    with pytest.raises(DataError, match="unknown word 'unicorn'"):
        parse_prompt("a red unicorn")
    with pytest.raises(DataError, match="two values of the colour"):
        parse_prompt("a red blue star")


def test_tokenizer_pads_and_marks_real_tokens():
    ids, mask = tokenize(["", "a red star"])
    assert ids.shape == mask.shape == (2, max_tokens())
    assert mask.sum(1).tolist() == [1, 4]  # the start token, then the words
    vocab = vocabulary()
    assert vocab[:2] == ("<pad>", "<start>") and list(vocab[2:]) == sorted(vocab[2:])
    assert [vocab[i] for i in ids[1, :4]] == ["<start>", "a", "red", "star"]
    assert (ids[~mask] == 0).all()
    with pytest.raises(DataError, match="at most"):
        check_prompt(" ".join(["red"] * max_tokens()))


def test_no_word_names_two_attributes():
    words = list(MOTIFS) + list(COLOURS) + list(BACKGROUND_WORDS)
    assert len(words) == len(set(words))


def test_random_captions_are_seeded_and_vary_the_template():
    codes = torch.arange(40)
    a = random_captions(codes, torch.Generator().manual_seed(0))
    assert a == random_captions(codes, torch.Generator().manual_seed(0))
    assert a != random_captions(codes, torch.Generator().manual_seed(1))
    assert all(parse_prompt(t)[0] in (None, int(m)) for t, m in zip(a, code_to_attributes(codes)[:, 0]))


def test_held_out_pairs_cover_each_motif_and_colour_once():
    motifs, colours = zip(*HELD_OUT_PAIRS)
    assert sorted(motifs) == list(range(6)) and len(set(colours)) == 6
    assert held_out_mask(ALL).sum() == 6 * ATTRIBUTE_SIZES[2] * ATTRIBUTE_SIZES[3]


def test_downsample_is_a_2x2_box_filter():
    x = np.array([[0, 2], [4, 7]], dtype=np.uint8)[None, None].repeat(3, 1)  # (1, 3, 2, 2)
    assert downsample(np.tile(x, (2, 1, 2, 2))).tolist() == np.full((2, 3, 2, 2), 3).tolist()  # round(13 / 4)


def test_factors_to_attributes_bins_the_size():
    factors = np.array([[5, 7, 3, 0, 0, 5, 4], [0, 0, 0, 7, 7, 2, 0]])
    assert factors_to_attributes(factors).tolist() == [[5, 7, 3, 2], [0, 0, 0, 1]]


def test_rendered_references_have_the_asked_background():
    images = render_attributes((2, 5, 1, 0), 3, seed=0)  # small blue rings on sky paper
    assert images.shape == (3, 3, 32, 32) and images.dtype == np.uint8
    assert (images[:, :, 0, 0] == np.array(BACKGROUNDS["blue"])).all()  # a corner is paper


@pytest.mark.slow  # renders all 30 000 shapes64 training images
def test_train_split_lacks_the_held_out_pairs_and_test_keeps_them():
    train_images, train_codes = load_captions32("train")
    test_images, test_codes = load_captions32("test")
    assert train_images.shape[1:] == (3, 32, 32) and not train_images.flags.writeable
    assert not held_out_mask(code_to_attributes(train_codes)).any()
    assert held_out_mask(code_to_attributes(test_codes)).sum() > 0 and len(test_codes) == 5000
    images, labels, info = load_dataset("captions32", "test")
    assert (
        info.num_classes == NUM_CODES and (info.height, info.width) == (32, 32) and np.array_equal(labels, test_codes)
    )
