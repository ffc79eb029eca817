"""Public refs (store.new_ref): letters and digits, every one as likely as the others (bench #10 made a
ref one read of the OS's randomness instead of one per letter)."""

from __future__ import annotations

from collections import Counter

from server.store import REF_ALPHABET, new_ref


def test_refs_have_the_asked_length_and_only_letters_and_digits() -> None:
    for length in (1, 8, 12, 16, 40):
        refs = [new_ref(length) for _ in range(500)]
        assert all(len(ref) == length and ref.isascii() and ref.isalnum() for ref in refs)


def test_every_letter_and_digit_is_equally_likely() -> None:
    counts = Counter("".join(new_ref() for _ in range(20_000)))  # 240,000 letters, ~3,871 each
    assert set(counts) == set(REF_ALPHABET)
    expected = 240_000 / len(REF_ALPHABET)
    # A modulo bias (bytes 248-255 kept) would give the first 8 letters ~3% more; chance spread is ~1.6%.
    chi2 = sum((n - expected) ** 2 / expected for n in counts.values())
    assert chi2 < 120, chi2  # 61 degrees of freedom: p < 1e-5 of failing by chance
    assert len({new_ref() for _ in range(20_000)}) == 20_000
