"""Entity extraction: the built-in types and a bot's own entity types (values with synonyms)."""

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from django.conf import settings
from django.utils import timezone as dj_timezone

from .text import normalize
from .types import DetectedEntity

BUILTIN_TYPES = ("EMAIL", "URL", "MONEY", "DATE", "PHONE", "NUMBER")

EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
URL_RE = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)\]]", re.IGNORECASE)
CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}
CURRENCY_WORDS = {
    "dollar": "USD",
    "dollars": "USD",
    "bucks": "USD",
    "euro": "EUR",
    "euros": "EUR",
    "pound": "GBP",
    "pounds": "GBP",
    "yen": "JPY",
    "rupees": "INR",
}
_AMOUNT = r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
MONEY_RES = [
    re.compile(r"(?P<sym>[$€£¥₹])\s?" + _AMOUNT.replace("(", "(?P<amount>", 1)),
    re.compile(r"\b(?P<code>[A-Z]{3})\s?" + _AMOUNT.replace("(", "(?P<amount>", 1) + r"\b"),
    re.compile(_AMOUNT.replace("(", "(?P<amount>", 1) + r"\s?(?P<code>[A-Z]{3})\b"),
    re.compile(
        _AMOUNT.replace("(", "(?P<amount>", 1) + r"\s?(?P<word>" + "|".join(CURRENCY_WORDS) + r")\b", re.IGNORECASE
    ),
]
ISO_CURRENCIES = {
    "USD",
    "EUR",
    "GBP",
    "JPY",
    "CAD",
    "AUD",
    "CHF",
    "CNY",
    "INR",
    "SEK",
    "NOK",
    "DKK",
    "NZD",
    "MXN",
    "BRL",
    "ZAR",
    "SGD",
    "HKD",
    "PLN",
    "CZK",
}
NUMBER_RE = re.compile(r"(?<![\w.])-?(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\w])")
NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "twenty": 20,
    "hundred": 100,
}
NUMBER_WORD_RE = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r")\b", re.IGNORECASE)
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTH = r"(?P<month>" + "|".join(m[:3] + r"(?:" + m[3:] + r")?" for m in MONTHS) + r")\.?"
DATE_RES = [
    ("iso", re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b")),
    ("slash", re.compile(r"\b(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})\b")),
    (
        "day_month",
        re.compile(r"\b(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r"(?:,?\s+(?P<y>\d{4}))?\b", re.I),
    ),
    ("month_day", re.compile(r"\b" + _MONTH + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(?P<y>\d{4}))?\b", re.I)),
    (
        "relative",
        re.compile(
            r"\b(?:the\s+)?(?P<word>today|tonight|tomorrow|yesterday|day after tomorrow|day before yesterday)\b", re.I
        ),
    ),
    ("weekday", re.compile(r"\b(?:(?P<which>next|last|this|on)\s+)?(?P<weekday>" + "|".join(WEEKDAYS) + r")\b", re.I)),
    ("in_days", re.compile(r"\bin\s+(?P<n>\d+|a|one|two|three|four|five|six|seven)\s+(?P<unit>days?|weeks?)\b", re.I)),
    (
        "days_ago",
        re.compile(r"\b(?P<n>\d+|a|one|two|three|four|five|six|seven)\s+(?P<unit>days?|weeks?)\s+ago\b", re.I),
    ),
    ("next_week", re.compile(r"\b(?P<which>next|last)\s+week\b", re.I)),
]
SMALL = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}


def today_in(timezone_name: str) -> dt.date:
    try:
        zone = ZoneInfo(timezone_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return dj_timezone.now().astimezone(zone).date()


def money_value(amount: str, currency: str) -> str | None:
    try:
        value = Decimal(amount.replace(",", ""))
    except InvalidOperation:
        return None
    return f"{currency} {value.quantize(Decimal('0.01'))}"


def number_value(text: str):
    cleaned = text.replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return int(value) if value == value.to_integral_value() and "." not in cleaned else float(value)


def _resolve_date(kind: str, match: re.Match, today: dt.date) -> dt.date | None:
    groups = match.groupdict()
    try:
        if kind in ("iso", "slash"):
            return dt.date(int(groups["y"]), int(groups["m"]), int(groups["d"]))
        if kind in ("day_month", "month_day"):
            month = next(i for i, m in enumerate(MONTHS, 1) if m.startswith(groups["month"].lower().rstrip(".")[:3]))
            year = int(groups["y"]) if groups.get("y") else today.year
            return dt.date(year, month, int(groups["d"]))
    except (ValueError, StopIteration):
        return None
    if kind == "relative":
        offsets = {
            "today": 0,
            "tonight": 0,
            "tomorrow": 1,
            "yesterday": -1,
            "day after tomorrow": 2,
            "day before yesterday": -2,
        }
        return today + dt.timedelta(days=offsets[" ".join(groups["word"].lower().split())])
    if kind == "weekday":
        target = WEEKDAYS.index(groups["weekday"].lower())
        which = (groups.get("which") or "").lower()
        ahead = (target - today.weekday()) % 7
        if which == "last":
            back = (today.weekday() - target) % 7 or 7
            return today - dt.timedelta(days=back)
        if which == "next":
            # "next monday" is the coming monday, never today.
            return today + dt.timedelta(days=ahead or 7)
        return today + dt.timedelta(days=ahead)
    if kind in ("in_days", "days_ago"):
        raw = groups["n"].lower()
        n = int(raw) if raw.isdigit() else SMALL[raw]
        days = n * (7 if groups["unit"].lower().startswith("week") else 1)
        return today + dt.timedelta(days=days if kind == "in_days" else -days)
    if kind == "next_week":
        return today + dt.timedelta(days=7 if groups["which"].lower() == "next" else -7)
    return None


class _Spans:
    def __init__(self):
        self.taken: list[tuple[int, int]] = []

    def free(self, start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in self.taken)

    def take(self, start: int, end: int):
        self.taken.append((start, end))


def extract_builtin(text: str, *, timezone: str = "UTC", types=BUILTIN_TYPES) -> list[DetectedEntity]:
    """Built-in entities in the order they appear. A span claimed by one type is not reused by another."""
    found: list[tuple[int, DetectedEntity]] = []
    spans = _Spans()

    def add(match_start, match_end, entity):
        if spans.free(match_start, match_end):
            spans.take(match_start, match_end)
            found.append((match_start, entity))

    if "EMAIL" in types:
        for m in EMAIL_RE.finditer(text):
            add(m.start(), m.end(), DetectedEntity("EMAIL", m.group(0).lower(), m.group(0)))
    # An email's domain must not also read as a URL, so URLs come second.
    if "URL" in types:
        for m in URL_RE.finditer(text):
            url = m.group(0)
            add(m.start(), m.end(), DetectedEntity("URL", url if "://" in url else "https://" + url, url))
    if "MONEY" in types:
        for pattern in MONEY_RES:
            for m in pattern.finditer(text):
                groups = m.groupdict()
                if groups.get("sym"):
                    currency = CURRENCY_SYMBOLS[groups["sym"]]
                elif groups.get("code"):
                    currency = groups["code"]
                    if currency not in ISO_CURRENCIES:
                        continue
                else:
                    currency = CURRENCY_WORDS[groups["word"].lower()]
                value = money_value(groups["amount"], currency)
                if value:
                    add(m.start(), m.end(), DetectedEntity("MONEY", value, m.group(0)))
    if "DATE" in types:
        today = today_in(timezone)
        for kind, pattern in DATE_RES:
            for m in pattern.finditer(text):
                day = _resolve_date(kind, m, today)
                if day is not None:
                    add(m.start(), m.end(), DetectedEntity("DATE", day.isoformat(), m.group(0).strip()))
    if "PHONE" in types:
        region = settings.BOTPORTAL.get("PHONE_REGION", "US")
        for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
            value = phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
            add(m.start, m.end, DetectedEntity("PHONE", value, m.raw_string))
    if "NUMBER" in types:
        for m in NUMBER_RE.finditer(text):
            value = number_value(m.group(0))
            if value is not None:
                add(m.start(), m.end(), DetectedEntity("NUMBER", value, m.group(0)))
        for m in NUMBER_WORD_RE.finditer(text):
            add(m.start(), m.end(), DetectedEntity("NUMBER", NUMBER_WORDS[m.group(1).lower()], m.group(0)))
    found.sort(key=lambda item: item[0])
    return [entity for _, entity in found]


def extract_custom(text: str, entity_types) -> list[DetectedEntity]:
    """A bot's own entity types: a value or any of its synonyms, as whole words, case-insensitively."""
    haystack = f" {normalize(text)} "
    found = []
    for entity_type in entity_types:
        best = None
        for item in entity_type.values or []:
            value = str(item.get("value", "")).strip()
            if not value:
                continue
            for phrase in [value, *item.get("synonyms", [])]:
                key = normalize(str(phrase))
                position = haystack.find(f" {key} ") if key else -1
                # The longest phrase wins, so "next day delivery" beats "delivery".
                if position >= 0 and (best is None or len(key) > len(best[1])):
                    best = (value, key)
        if best is not None:
            found.append(DetectedEntity(entity_type.name, best[0], best[1]))
    return found


def extract(text: str, *, entity_types=(), timezone: str = "UTC") -> list[DetectedEntity]:
    return extract_builtin(text, timezone=timezone) + extract_custom(text, entity_types)
