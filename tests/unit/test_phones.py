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
