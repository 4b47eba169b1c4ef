"""Recognising the same customer again, however it was typed."""

from __future__ import annotations

import unicodedata

__all__ = ["normalize_customer"]


def normalize_customer(name: str) -> str:
    """A key for recognising the same customer again ("third time in 90 days").

    People type the same customer differently, so the key is the NFKC form, case-folded, with
    punctuation and symbols (Unicode categories P* and S*) removed and whitespace collapsed:
    "Acme, Inc.", "ACME inc" and "Acme Inc™" all become "acme inc". Deliberately nothing
    cleverer (no suffix lists, no fuzzy matching): a false match would tell a team about a
    history that isn't theirs. Pass unescaped text.
    """
    # Symbols go before NFKC too, which would otherwise spell "™" as "TM"; and again after it,
    # since compatibility forms can decompose into punctuation ("½" -> "1⁄2").
    folded = unicodedata.normalize("NFKC", _drop_punctuation(name)).casefold()
    return " ".join(_drop_punctuation(folded).split())


def _drop_punctuation(s: str) -> str:
    return "".join(ch for ch in s if unicodedata.category(ch)[0] not in "PS")
