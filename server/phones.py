"""Phone validation and E.164 normalisation (``phonenumbers`` does the hard part)."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType


class InvalidPhone(ValueError):
    """A visitor-facing reason why a number was refused."""


# Callers would pay for calling these back, or they reach no person.
_REFUSED_TYPES = {
    PhoneNumberType.PREMIUM_RATE: "Premium-rate numbers can't be called back. Please leave a regular phone number.",
    PhoneNumberType.SHARED_COST: "Shared-cost numbers can't be called back. Please leave a regular phone number.",
    PhoneNumberType.PAGER: "Pagers can't be called back. Please leave a regular phone number.",
}


def normalise_phone(raw: str, default_region: str = "US") -> str:
    """Return the number in E.164 or raise :class:`InvalidPhone` with a message for the visitor."""
    text = raw.strip()
    digits = sum(ch.isdigit() for ch in text)
    if digits < 6:
        raise InvalidPhone("That number is too short. Please include the area code.")
    if digits > 17 or len(text) > 32:
        raise InvalidPhone("That number is too long to be a phone number.")
    try:
        number = phonenumbers.parse(text, default_region.upper() or None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone("That doesn't look like a phone number. Please include the area code.") from exc
    # -- bench (#10): one look at the number's type answers both questions: UNKNOWN is exactly what
    # is_valid_number refuses (it runs the same matching), so asking both did the work twice (~13 us). --
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.UNKNOWN:
        raise InvalidPhone("That doesn't look like a valid phone number. Please check it and include the area code.")
    refused = _REFUSED_TYPES.get(kind)
    if refused:
        raise InvalidPhone(refused)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)  # -- bench (#10): a lead's number is formatted for every card and summary
def format_phone(e164: str) -> str:
    """Human-readable international form, for the dashboard."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164
