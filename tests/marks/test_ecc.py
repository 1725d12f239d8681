"""BCH and CRC against textbook generator polynomials and exhaustive-enough error patterns."""

import numpy as np
import pytest

from genlab.errors import ConfigError
from genlab.marks.ecc import BCH, GaloisField, crc


@pytest.mark.parametrize(
    ("t", "k", "octal"),
    # Lin & Costello, Error Control Coding, table: BCH codes of length 63, generators in octal.
    [(1, 57, "103"), (2, 51, "12471"), (3, 45, "1701317"), (4, 39, "166623567"), (5, 36, "1033500423")],
)
def test_generator_polynomials_match_the_published_table(t, k, octal):
    code = BCH(6, t)
    assert (code.n, code.k) == (63, k)
    assert code.generator == int(octal, 8)


def test_field_tables_are_consistent():
    gf = GaloisField.build(6)
    assert sorted(int(v) for v in gf.exp[:63]) == list(range(1, 64))  # alpha generates every non-zero element
    for a in (1, 2, 17, 63):
        assert gf.mul(a, gf.inv(a)) == 1


def test_codewords_are_multiples_of_the_generator_and_systematic():
    code = BCH(6, 5)
    message = np.random.default_rng(0).integers(0, 2, code.k).astype(np.uint8)
    word = code.encode(message)
    np.testing.assert_array_equal(word[code.n - code.k :], message)
    assert code.decode(word)[1] == 0


@pytest.mark.parametrize("t", [1, 3, 5])
def test_corrects_every_pattern_of_up_to_t_errors(t):
    code = BCH(6, t)
    rng = np.random.default_rng(t)
    for trial in range(60):
        message = rng.integers(0, 2, code.k).astype(np.uint8)
        errors = trial % (t + 1)
        received = code.encode(message)
        received[rng.choice(code.n, errors, replace=False)] ^= 1
        decoded, corrected = code.decode(received)
        np.testing.assert_array_equal(decoded, message)
        assert corrected == errors


def test_more_than_t_errors_never_return_the_sent_message():
    code = BCH(6, 5)
    rng = np.random.default_rng(1)
    outcomes = []
    for _ in range(40):
        message = rng.integers(0, 2, code.k).astype(np.uint8)
        received = code.encode(message)
        received[rng.choice(code.n, code.t + 1, replace=False)] ^= 1
        result = code.decode(received)
        assert result is None or not np.array_equal(result[0], message)  # distance >= 2t+1
        outcomes.append(result is None)
    assert any(outcomes)  # and most such words are reported as undecodable


def test_crc_catches_every_single_bit_error():
    bits = np.random.default_rng(2).integers(0, 2, 32).astype(np.uint8)
    check = crc(bits)
    assert check.shape == (4,)
    for i in range(32):
        flipped = bits.copy()
        flipped[i] ^= 1
        assert not np.array_equal(crc(flipped), check)


def test_crc_of_a_known_word():
    # x^4+x+1 over the 8-bit message 1000_0000 (first bit = x^7): x^11 mod (x^4+x+1) = x^3+x^2+x
    np.testing.assert_array_equal(crc(np.array([1, 0, 0, 0, 0, 0, 0, 0], np.uint8)), [1, 1, 1, 0])


def test_bad_input_is_a_config_error():
    with pytest.raises(ConfigError, match="36 bits"):
        BCH(6, 5).encode(np.zeros(35, np.uint8))
    with pytest.raises(ConfigError):
        BCH(6, 40)
