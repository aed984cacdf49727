"""The v1 fold and content hash (golden values pinned) and the near-duplicate signature."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from syndicator.fingerprint import (
    HASH_VERSION,
    NEAR_DUPLICATE,
    content_hash,
    fold,
    signature,
    signature_bits,
    similarity,
)

TITLE = "روسيا تريد «ضمانات أمنية» في أي تسوية لحرب أوكرانيا"
PARAGRAPHS = [
    "قال وزير الخارجية الروسي، سيرغي لافروف، الثلاثاء، إنه لا يوجد ما يدعو إلى التحمس.",
    "واتفق الطرفان على حضور جولة مقبلة من المناقشات في 2026.",
]

# Golden values: a change here is a change of the contract (a new fold means a new prefix).
GOLDEN = {
    ("", ()): "v1:01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b",
    # sha256("hello world\none paragraph")
    ("Hello, World!", ("One paragraph.",)): (
        "v1:4fafed3796c4c83c109e224fea21eded1b66118078a1dfd0eb6b5c33fdc5fecf"
    ),
    (TITLE, tuple(PARAGRAPHS)): (
        "v1:61754106b932f0d1e2da3146c6018b455f484f2bf637f8e96792411524c2a665"
    ),
}
FOLDED_TITLE = "روسيا تريد ضمانات امنيه في اي تسويه لحرب اوكرانيا"


def test_fold_contract_examples() -> None:
    assert fold("  Hello,   WORLD!  ") == "hello world"
    assert fold("عزَّز") == "عزز"  # shadda and fatha
    assert fold("الاستراتيـــجية") == "الاستراتيجيه"  # tatweel (and ة → ه)
    assert fold("أإآٱ") == "اااا"
    assert fold("مصطفى") == "مصطفي"
    assert fold("مدرسة") == "مدرسه"
    assert fold("٠١٢٣٤٥٦٧٨٩ ۰۱۲۳") == "0123456789 0123"
    assert fold('«تحديات» "تحديات" “تحديات”') == "تحديات تحديات تحديات"
    assert fold("a\u200bb\u200fc\u202ad\u2066e\ufeff") == "abcde"
    assert fold("Straße") == "strasse"  # casefold
    assert fold("ﷺ ﻻ") == fold(unicodedata.normalize("NFKC", "ﷺ ﻻ"))  # NFKC first
    assert fold("x + y = z $ 5 €") == "x y z 5"  # symbols dropped


def test_hash_is_sha256_of_the_folded_text() -> None:
    import hashlib

    folded_body = fold(" ".join(PARAGRAPHS))
    assert fold(TITLE) == FOLDED_TITLE
    expected = hashlib.sha256(f"{FOLDED_TITLE}\n{folded_body}".encode()).hexdigest()
    assert content_hash(TITLE, PARAGRAPHS) == f"v1:{expected}"


def test_hash_ignores_typesetting() -> None:
    base = content_hash(TITLE, PARAGRAPHS)
    retyped = content_hash(
        'روسيا  تريد "ضمانات  أمنيـة" في أيّ تسوية لحرب أوكرانيا',
        [
            "قالَ وزير الخارجية الروسي ، سيرغي لافروف ، الثلاثاء ، إنه لا يوجد ما يدعو الى التحمس .",
            "واتفق الطرفان على حضور جولة مقبلة من المناقشات في ٢٠٢٦.",
        ],
    )
    assert retyped == base
    # Paragraph breaks are whitespace too.
    assert content_hash(TITLE, [" ".join(PARAGRAPHS)]) == base


def test_hash_changes_with_words() -> None:
    base = content_hash(TITLE, PARAGRAPHS)
    assert content_hash(TITLE, [*PARAGRAPHS, "تحديث: أضيفت تصريحات جديدة."]) != base
    assert (
        content_hash(TITLE, [PARAGRAPHS[0].replace("الثلاثاء", "الأربعاء"), PARAGRAPHS[1]]) != base
    )
    assert content_hash(TITLE + " جديد", PARAGRAPHS) != base
    # The title and the body are separate: moving a word across the boundary is a change.
    assert content_hash("a b", ["c"]) != content_hash("a", ["b c"])


def test_hash_format() -> None:
    h = content_hash(TITLE, PARAGRAPHS)
    assert h.startswith(f"{HASH_VERSION}:")
    assert len(h) == 3 + 64


@pytest.mark.parametrize(("title", "paragraphs"), list(GOLDEN))
def test_golden_hashes(title: str, paragraphs: tuple[str, ...]) -> None:
    assert content_hash(title, paragraphs) == GOLDEN[(title, paragraphs)]


def test_punctuation_table_covers_every_code_point() -> None:
    from syndicator import fingerprint

    for cp in range(sys.maxunicode + 1):
        if unicodedata.category(chr(cp))[0] in "PS":
            assert fingerprint._folding().table.get(cp, "missing") is None, hex(cp)


def _story(seed: int, n: int = 12) -> list[str]:
    """Paragraphs of distinct made-up words, the same for the same seed."""
    return [" ".join(f"w{seed}x{i}x{j}" for j in range(25)) + "." for i in range(n)]


def test_similarity_near_and_far() -> None:
    story = _story(1)
    a = signature(TITLE, story)
    lightly_edited = [*story[:5], story[5].replace("w1x5x3", "changed"), *story[6:]]
    b = signature(TITLE, lightly_edited)
    unrelated = signature("عنوان آخر تماما", _story(2))
    assert similarity(a, a) == 1.0
    assert similarity(a, b) >= NEAR_DUPLICATE
    assert similarity(a, unrelated) < NEAR_DUPLICATE
    assert signature_bits(a) >= 0
    with pytest.raises(ValueError):
        signature_bits("v1:abc")


# Signatures are stored: a change of these is a new signature version (s3:), never a silent one.
GOLDEN_SIGNATURES = {
    ("", ()): "s2:0000000000000000",
    ("Hello, World!", ("One paragraph.",)): "s2:294004a200485800",
    (TITLE, tuple(PARAGRAPHS)): "s2:d5bd4b061f7d8e77",
}


@pytest.mark.parametrize(("title", "paragraphs"), list(GOLDEN_SIGNATURES))
def test_golden_signatures(title: str, paragraphs: tuple[str, ...]) -> None:
    assert signature(title, paragraphs) == GOLDEN_SIGNATURES[(title, paragraphs)]


def test_signatures_of_other_versions_are_never_alike() -> None:
    current = signature(TITLE, PARAGRAPHS)
    stored_s1 = "s1:b5b31984aa8ec380"  # what an earlier release stored for the same text
    assert similarity(current, stored_s1) == 0.0
    assert similarity(stored_s1, stored_s1) == 1.0  # two s1 signatures still compare
    with pytest.raises(ValueError):
        signature_bits(stored_s1)  # only the current version is indexed
    with pytest.raises(ValueError):
        similarity(current, "x9:0000000000000000")


def test_signatures_do_not_depend_on_the_word_digests_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Word digests are kept across articles (and dropped when too many): the signatures are
    the same whatever is kept, emptied part-way through an article included."""
    from syndicator import fingerprint

    expected = {k: signature(*k) for k in GOLDEN_SIGNATURES}
    monkeypatch.setattr(fingerprint, "_DIGESTS", {})
    monkeypatch.setattr(fingerprint, "_DIGESTS_KEPT", 5)
    for _ in range(2):
        for key, value in expected.items():
            assert signature(*key) == value == GOLDEN_SIGNATURES[key]
    # Emptied when full: what is left is the last article's words.
    assert len(fingerprint._DIGESTS) == len(set(fold(" ".join([TITLE, *PARAGRAPHS])).split()))
