import pytest

from server.phones import InvalidPhone, format_phone, normalise_phone


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 (0)20 7946 0958", "US", "+442079460958"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("+7 912 345-67-89", "GB", "+79123456789"),
        ("8 912 345 67 89", "RU", "+79123456789"),
    ],
)
def test_numbers_are_normalised_to_e164(raw: str, region: str, e164: str) -> None:
    assert normalise_phone(raw, region) == e164


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("12", "too short"),
        ("1" * 25, "too long"),
        ("call me maybe", "too short"),
        ("+44 20 0000 0000 0", "valid"),
        ("+1 900 555 0123", "Premium-rate"),
        ("0909 879 0000", "Premium-rate"),
    ],
)
def test_unusable_numbers_are_refused_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhone) as info:
        normalise_phone(raw, "GB")
    assert reason in str(info.value)


def test_format_for_people() -> None:
    assert format_phone("+442079460958") == "+44 20 7946 0958"


def _numbers_to_try() -> list[tuple[str, str]]:
    """Every region's example numbers of every type, a few digits off, and in other regions' eyes."""
    import phonenumbers
    from phonenumbers import PhoneNumberFormat, PhoneNumberType

    found: list[tuple[str, str]] = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (
            PhoneNumberType.FIXED_LINE,
            PhoneNumberType.MOBILE,
            PhoneNumberType.PREMIUM_RATE,
            PhoneNumberType.SHARED_COST,
            PhoneNumberType.PAGER,
            PhoneNumberType.TOLL_FREE,
        ):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            national = phonenumbers.format_number(example, PhoneNumberFormat.NATIONAL)
            e164 = phonenumbers.format_number(example, PhoneNumberFormat.E164)
            found += [(national, region), (e164, "US"), (e164[:-1], region), (e164 + "7", "GB"), (national, "RU")]
    return found


def _before(raw: str, default_region: str) -> str:
    """normalise_phone as it was before bench #10: validity asked, then the type."""
    import phonenumbers

    from server.phones import _REFUSED_TYPES

    text = raw.strip()
    digits = sum(ch.isdigit() for ch in text)
    if digits < 6 or digits > 17 or len(text) > 32:
        return "refused: length"
    try:
        number = phonenumbers.parse(text, default_region.upper() or None)
    except phonenumbers.NumberParseException:
        return "refused: not a phone number"
    if not phonenumbers.is_valid_number(number):
        return "refused: invalid"
    refused = _REFUSED_TYPES.get(phonenumbers.number_type(number))
    if refused:
        return f"refused: {refused}"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _now(raw: str, region: str) -> str:
    try:
        return normalise_phone(raw, region)
    except InvalidPhone as exc:
        message = str(exc)
        if "too short" in message or "too long" in message:
            return "refused: length"
        if "look like a phone number" in message:
            return "refused: not a phone number"
        if "valid phone number" in message:
            return "refused: invalid"
        return f"refused: {message}"


def test_one_type_lookup_judges_numbers_as_validity_and_type_did() -> None:
    """bench #10: normalise_phone asks phonenumbers for the number's type only, no longer also whether it
    is valid. Across every region's example numbers of each type, and broken ones, it answers as before."""
    numbers = _numbers_to_try()
    assert len(numbers) > 2000
    verdicts = {(raw, region): _before(raw, region) for raw, region in numbers}
    assert {v.split(":")[0] for v in verdicts.values()} >= {"refused"} and any(
        v.startswith("+") for v in verdicts.values()
    )
    assert sum(v == "refused: invalid" for v in verdicts.values()) > 100  # the broken ones are there
    assert {(raw, region): _now(raw, region) for raw, region in numbers} == verdicts
