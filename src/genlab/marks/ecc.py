"""Error correction for the invisible watermark's payload: a binary BCH code and a small CRC.

No BCH library is pinned in genlab's dependencies, so this is the textbook construction
(Lin & Costello, *Error Control Coding*, 2nd ed., ch. 6): arithmetic in GF(2^m) from
log/antilog tables, a generator polynomial built from minimal polynomials, syndrome
decoding with Berlekamp–Massey and a Chien search. Bit arrays are uint8 vectors;
``codeword[i]`` is the coefficient of x^i, message bits sit in the top ``k`` positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from genlab.errors import ConfigError

# Primitive polynomials (bit i = coefficient of x^i), Lin & Costello table 2.7.
PRIMITIVE = {4: 0b10011, 5: 0b100101, 6: 0b1000011, 7: 0b10001001, 8: 0b100011101}


@dataclass(frozen=True)
class GaloisField:
    """GF(2^m) with exp/log tables; elements are ints 0 .. 2^m - 1."""

    m: int
    exp: np.ndarray = field(repr=False)  # exp[i] = alpha^i, doubled length so exp[a + b] needs no modulo
    log: np.ndarray = field(repr=False)  # log[alpha^i] = i; log[0] is unused

    @classmethod
    def build(cls, m: int) -> GaloisField:
        if m not in PRIMITIVE:
            raise ConfigError(f"GF(2^m) needs m in {sorted(PRIMITIVE)}, got {m}")
        n = (1 << m) - 1
        exp = np.zeros(2 * n, np.int64)
        log = np.zeros(n + 1, np.int64)
        x = 1
        for i in range(n):
            exp[i], log[x] = x, i
            x <<= 1
            if x >> m:
                x ^= PRIMITIVE[m]
        exp[n:] = exp[:n]
        return cls(m, exp, log)

    @property
    def order(self) -> int:
        return (1 << self.m) - 1

    def mul(self, a: int, b: int) -> int:
        return 0 if a == 0 or b == 0 else int(self.exp[self.log[a] + self.log[b]])

    def inv(self, a: int) -> int:
        return int(self.exp[(self.order - self.log[a]) % self.order])

    def power(self, i: int) -> int:
        return int(self.exp[i % self.order])


def _poly_mul_gf2(a: int, b: int) -> int:
    """Product of two GF(2)[x] polynomials held as bit masks."""
    out = 0
    while b:
        if b & 1:
            out ^= a
        a, b = a << 1, b >> 1
    return out


def _poly_mod_gf2(a: int, g: int) -> int:
    """Remainder of a(x) / g(x) over GF(2)."""
    dg = g.bit_length() - 1
    while a.bit_length() - 1 >= dg:
        a ^= g << (a.bit_length() - 1 - dg)
    return a


def _minimal_polynomial(gf: GaloisField, i: int) -> int:
    """Minimal polynomial over GF(2) of alpha^i: prod (x - alpha^j) over the cyclotomic coset of i."""
    coset, j = [], i % gf.order
    while j not in coset:
        coset.append(j)
        j = (2 * j) % gf.order
    poly = [1]  # GF(2^m) coefficients, lowest degree first
    for j in coset:
        root = gf.power(j)
        nxt = [0] * (len(poly) + 1)
        for d, c in enumerate(poly):  # (x + root) * poly
            nxt[d + 1] ^= c
            nxt[d] ^= gf.mul(c, root)
        poly = nxt
    if any(c not in (0, 1) for c in poly):
        raise ArithmeticError("minimal polynomial has coefficients outside GF(2)")
    return sum(c << d for d, c in enumerate(poly))


class BCH:
    """Narrow-sense binary BCH code of length n = 2^m - 1 correcting ``t`` bit errors.

    Shapes: ``encode`` takes uint8 (k,) and returns (n,); ``decode`` takes (n,) and
    returns ((k,), errors corrected) or None when more than ``t`` errors are detected.
    """

    def __init__(self, m: int, t: int) -> None:
        self.gf = GaloisField.build(m)
        self.n, self.t = self.gf.order, t
        if not 1 <= t < self.n // 2:
            raise ConfigError(f"BCH with n={self.n} needs 1 <= t < {self.n // 2}, got t={t}")
        g, seen = 1, set()
        for i in range(1, 2 * t + 1):
            mp = _minimal_polynomial(self.gf, i)
            if mp not in seen:
                seen.add(mp)
                g = _poly_mul_gf2(g, mp)
        self.generator = g
        self.k = self.n - (g.bit_length() - 1)

    def encode(self, message: np.ndarray) -> np.ndarray:
        """Systematic codeword: parity in positions 0 .. n-k-1, the message above it."""
        bits = _check_bits(message, self.k, "message")
        shifted = _to_int(bits) << (self.n - self.k)
        return _to_bits(shifted | _poly_mod_gf2(shifted, self.generator), self.n)

    def decode(self, received: np.ndarray) -> tuple[np.ndarray, int] | None:
        bits = _check_bits(received, self.n, "received word").copy()
        gf = self.gf
        # 1. Syndromes S_j = r(alpha^j), j = 1 .. 2t.
        ones = np.flatnonzero(bits)
        syndromes = [0] * (2 * self.t)
        for j in range(1, 2 * self.t + 1):
            s = 0
            for pos in ones:
                s ^= gf.power(j * int(pos))
            syndromes[j - 1] = s
        if not any(syndromes):
            return bits[self.n - self.k :], 0
        # 2. Berlekamp–Massey: shortest LFSR (error locator Lambda) generating the syndromes.
        lam, prev = [1], [1]
        length, shift, prev_disc = 0, 1, 1
        for r in range(2 * self.t):
            disc = syndromes[r]
            for i in range(1, length + 1):
                if i < len(lam):
                    disc ^= gf.mul(lam[i], syndromes[r - i])
            if disc == 0:
                shift += 1
                continue
            coef = gf.mul(disc, gf.inv(prev_disc))
            update = [0] * shift + [gf.mul(coef, c) for c in prev]
            new = [
                a ^ b for a, b in zip(lam + [0] * (len(update) - len(lam)), update + [0] * (len(lam) - len(update)))
            ]
            if 2 * length <= r:
                prev, length, prev_disc, shift = lam, r + 1 - length, disc, 1
            else:
                shift += 1
            lam = new
        while len(lam) > 1 and lam[-1] == 0:
            lam.pop()
        degree = len(lam) - 1
        if degree > self.t:
            return None
        # 3. Chien search: position p is in error when Lambda(alpha^-p) = 0.
        errors = []
        for p in range(self.n):
            value = 0
            for i, c in enumerate(lam):
                if c:
                    value ^= gf.mul(c, gf.power(-i * p))
            if value == 0:
                errors.append(p)
        if len(errors) != degree:
            return None  # the locator has roots outside the code: more than t errors
        bits[errors] ^= 1
        return bits[self.n - self.k :], degree


def crc(bits: np.ndarray, poly: int = 0b10011) -> np.ndarray:
    """CRC remainder of a bit vector (first bit = highest degree); default CRC-4 x^4 + x + 1."""
    width = poly.bit_length() - 1
    reg = _poly_mod_gf2(_to_int(np.asarray(bits, np.uint8)[::-1]) << width, poly)
    return _to_bits(reg, width)[::-1].copy()


def _check_bits(bits: np.ndarray, n: int, what: str) -> np.ndarray:
    bits = np.asarray(bits)
    if bits.shape != (n,) or not np.isin(bits, (0, 1)).all():
        raise ConfigError(f"{what} must be {n} bits of 0/1, got shape {bits.shape}")
    return bits.astype(np.uint8)


def _to_int(bits: np.ndarray) -> int:
    """Bit i of the result = bits[i]."""
    return sum(int(b) << i for i, b in enumerate(bits))


def _to_bits(value: int, n: int) -> np.ndarray:
    return np.array([(value >> i) & 1 for i in range(n)], np.uint8)
