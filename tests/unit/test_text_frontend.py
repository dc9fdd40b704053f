"""Text front end: written forms become words; chunks stay sentence-sized and in order."""

import pytest

from services.synthesis.engine.text import chunk_text, normalise
from services.synthesis.engine.text.english_numbers import cardinal, ordinal, year


@pytest.mark.parametrize(
    "number, words",
    [
        (0, "zero"),
        (7, "seven"),
        (21, "twenty-one"),
        (105, "one hundred five"),
        (1_234_567, "one million two hundred thirty-four thousand five hundred sixty-seven"),
    ],
)
def test_cardinals(number, words):
    assert cardinal(number) == words


def test_ordinals_and_years():
    assert [ordinal(n) for n in (1, 2, 3, 12, 20, 21, 100)] == [
        "first",
        "second",
        "third",
        "twelfth",
        "twentieth",
        "twenty-first",
        "one hundredth",
    ]
    assert year(1984) == "nineteen eighty-four"
    assert year(2005) == "two thousand five"
    assert year(2026) == "twenty twenty-six"
    assert year(1900) == "nineteen hundred"


@pytest.mark.parametrize(
    "text, spoken",
    [
        ("It costs $5.20.", "It costs five dollars and twenty cents."),
        ("Dr. Smith arrived on 2026-11-26.", "Doctor Smith arrived on November twenty-sixth, twenty twenty-six."),
        ("We grew 12% in 1999", "We grew twelve percent in nineteen ninety-nine"),
        ("Meet at 9:05 on the 3rd floor", "Meet at nine oh five on the third floor"),
        ("It weighs 2.5 kg", "It weighs two point five kilograms"),
        ("Tom & Jerry", "Tom and Jerry"),
    ],
)
def test_english_normalisation(text, spoken):
    assert normalise(text, "en") == spoken


def test_thai_normalisation_reads_numbers_money_and_dates():
    assert normalise("ราคา 120 บาท", "th") == "ราคา หนึ่งร้อยยี่สิบบาทถ้วน"
    assert "หนึ่งร้อยยี่สิบเอ็ด" in normalise("มี ๑๒๑ คน", "th")
    assert normalise("วันที่ 26/11/2026", "th") == "วันที่ ยี่สิบหก พฤศจิกายน สองพันยี่สิบหก"
    assert not any(ch.isdigit() for ch in normalise("โทร 1669 ตอน 10:30", "th"))


def test_control_characters_are_dropped():
    assert normalise("a\x00b\u200bc", "en") == "a b c"


def test_english_chunks_are_sentences_in_order():
    text = "First sentence. Second one! Is this the third? Yes."
    assert chunk_text(text, "en") == ["First sentence.", "Second one!", "Is this the third?", "Yes."]


def test_long_sentences_split_at_clauses_then_words_under_the_limit():
    clause = "a clause with several words in it"
    text = ", ".join([clause] * 30) + "."
    chunks = chunk_text(text, "en", limit=100)
    assert all(len(c) <= 100 for c in chunks)
    assert " ".join(chunks).replace(" ", "") == text.replace(" ", "")
    words = " ".join(["word"] * 200)
    assert all(len(c) <= 50 for c in chunk_text(words, "en", limit=50))
    assert chunk_text("x" * 130, "en", limit=50) == ["x" * 50, "x" * 50, "x" * 30]


def test_thai_chunks_join_phrases_and_keep_every_character():
    text = " ".join(["สวัสดีครับ", "วันนี้อากาศดีมาก", "เราจะไปเที่ยวทะเลด้วยกัน"] * 10)
    chunks = chunk_text(text, "th")
    assert 1 < len(chunks) < 30
    assert all(len(c) <= 120 for c in chunks)
    assert "".join(chunks).replace(" ", "") == text.replace(" ", "")
    long_word = "ก" * 400
    assert all(len(c) <= 300 for c in chunk_text(long_word, "th"))
