"""Written forms a synthesiser cannot read → words: numbers, dates, times, money, percentages,
abbreviations. English rules are ours; Thai uses pythainlp's number and baht readers."""

from __future__ import annotations

import re
import unicodedata

from services.synthesis.engine.text import english_numbers as en

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_THAI_MONTHS = [
    "มกราคม",
    "กุมภาพันธ์",
    "มีนาคม",
    "เมษายน",
    "พฤษภาคม",
    "มิถุนายน",
    "กรกฎาคม",
    "สิงหาคม",
    "กันยายน",
    "ตุลาคม",
    "พฤศจิกายน",
    "ธันวาคม",
]
_ABBREVIATIONS = {
    "Mr.": "Mister",
    "Mrs.": "Missus",
    "Ms.": "Miz",
    "Dr.": "Doctor",
    "Prof.": "Professor",
    "St.": "Saint",
    "Jr.": "Junior",
    "Sr.": "Senior",
    "vs.": "versus",
    "etc.": "et cetera",
    "e.g.": "for example",
    "i.e.": "that is",
    "approx.": "approximately",
    "No.": "number",
    "Inc.": "Incorporated",
    "Ltd.": "Limited",
    "Co.": "Company",
    "Ave.": "Avenue",
    "Mt.": "Mount",
    "Jan.": "January",
    "Feb.": "February",
    "Aug.": "August",
    "Sept.": "September",
    "Oct.": "October",
    "Nov.": "November",
    "Dec.": "December",
}
_UNITS = {
    "km": "kilometres",
    "kg": "kilograms",
    "cm": "centimetres",
    "mm": "millimetres",
    "m": "metres",
    "g": "grams",
    "ml": "millilitres",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "GB": "gigabytes",
    "MB": "megabytes",
    "kHz": "kilohertz",
    "Hz": "hertz",
}
_CURRENCIES = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "฿": ("baht", "baht", "satang", "satang"),
}

_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_SLASH_DATE = re.compile(
    r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b"
)  # day/month/year, as Thailand and most of the world write it
_TIME = re.compile(r"\b(\d{1,2}):(\d{2})\b")
_MONEY = re.compile(r"([$€£฿])\s?(\d[\d,]*)(?:\.(\d{1,2}))?\b")
_PERCENT = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s?%")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_UNIT = re.compile(r"\b(\d[\d,]*(?:\.\d+)?)\s?(" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")\b")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_YEARISH = re.compile(r"\b(?:in|since|by|from|of|until|year)\s+(1[1-9]\d\d|20\d\d)\b", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def _number_words(text: str) -> str:
    digits = text.replace(",", "")
    return en.decimal(digits) if "." in digits else en.cardinal(int(digits))


def _money_en(match: re.Match) -> str:
    one, many, cent, cents = _CURRENCIES[match.group(1)]
    whole = int(match.group(2).replace(",", ""))
    spoken = f"{en.cardinal(whole)} {one if whole == 1 else many}"
    if match.group(3):
        fraction = int(match.group(3).ljust(2, "0"))
        if fraction:
            spoken += f" and {en.cardinal(fraction)} {cent if fraction == 1 else cents}"
    return spoken


def _date_en(year: int, month: int, day: int) -> str | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{_MONTHS[month - 1]} {en.ordinal(day)}, {en.year(year)}"


def _time_en(m: re.Match[str]) -> str:
    hours, minutes = int(m[1]), int(m[2])
    if hours >= 24 or minutes >= 60:
        return m[0]
    if m[2] == "00":
        spoken_minutes = "o clock"
    elif minutes >= 10:
        spoken_minutes = en.cardinal(minutes)
    else:
        spoken_minutes = "oh " + en.cardinal(minutes)
    return f"{en.cardinal(hours)} {spoken_minutes}"


def _english(text: str) -> str:
    for short, spoken in _ABBREVIATIONS.items():
        text = re.sub(r"(?<!\w)" + re.escape(short) + r"(?!\w)", spoken, text)
    text = _ISO_DATE.sub(lambda m: _date_en(int(m[1]), int(m[2]), int(m[3])) or m[0], text)
    text = _SLASH_DATE.sub(lambda m: _date_en(int(m[3]), int(m[2]), int(m[1])) or m[0], text)
    text = _TIME.sub(_time_en, text)
    text = _MONEY.sub(_money_en, text)
    text = _PERCENT.sub(lambda m: f"{_number_words(m[1])} percent", text)
    text = _ORDINAL.sub(lambda m: en.ordinal(int(m[1])), text)
    text = _UNIT.sub(lambda m: f"{_number_words(m[1])} {_UNITS[m[2]]}", text)
    text = _YEARISH.sub(lambda m: m[0][: -len(m[1])] + en.year(int(m[1])), text)
    text = _NUMBER.sub(lambda m: _number_words(m[0]), text)
    text = text.replace("&", " and ").replace("+", " plus ").replace("@", " at ")
    return text


def _thai(text: str) -> str:
    from pythainlp.util import bahttext, num_to_thaiword

    def number(match: re.Match) -> str:
        return spoken(match[0])

    def spoken(written: str) -> str:
        digits = written.replace(",", "")
        whole, _, fraction = digits.partition(".")
        spoken = num_to_thaiword(int(whole))
        if fraction:
            spoken += "จุด" + "".join(num_to_thaiword(int(d)) for d in fraction)
        return spoken

    def date(day: int, month: int, year: int) -> str | None:
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return None
        return f"{num_to_thaiword(day)} {_THAI_MONTHS[month - 1]} {num_to_thaiword(year)}"

    text = _ISO_DATE.sub(lambda m: date(int(m[3]), int(m[2]), int(m[1])) or m[0], text)
    text = _SLASH_DATE.sub(lambda m: date(int(m[1]), int(m[2]), int(m[3])) or m[0], text)
    text = re.sub(
        r"(?:฿\s?(\d[\d,]*(?:\.\d{1,2})?)|(\d[\d,]*(?:\.\d{1,2})?)\s?บาท)",
        lambda m: bahttext(float((m[1] or m[2]).replace(",", ""))),
        text,
    )
    text = _PERCENT.sub(lambda m: f"{spoken(m[1])}เปอร์เซ็นต์", text)
    text = _TIME.sub(
        lambda m: (
            f"{num_to_thaiword(int(m[1]))} นาฬิกา {num_to_thaiword(int(m[2]))} นาที"
            if int(m[1]) < 24 and int(m[2]) < 60
            else m[0]
        ),
        text,
    )
    # Thai digits (๐-๙) read like Arabic ones.
    text = text.translate(str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789"))
    text = _NUMBER.sub(number, text)
    return text.replace("ๆ", "ๆ ")


def normalise(text: str, language: str) -> str:
    """Speakable text: Unicode NFC, written forms expanded, whitespace collapsed."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" or ch in "\n\t" else " " for ch in text)
    text = _thai(text) if language == "th" else _english(text)
    return _SPACES.sub(" ", text).strip()
