import pytest

from server.origins import origin_allowed

DOMAINS = ["shop.example", "*.brand.example", "localhost"]


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://shop.example", True),
        ("https://www.shop.example", True),
        ("http://shop.example:8080", True),
        ("https://eu.brand.example", True),
        ("https://brand.example", False),
        ("https://shop.example.evil.test", False),
        ("https://evilshop.example", False),
        ("http://localhost:3000", True),
        ("null", False),
        (None, False),
        ("file:///etc/passwd", False),
        ("javascript:alert(1)", False),
    ],
)
def test_origin_matching(origin: str | None, allowed: bool) -> None:
    assert origin_allowed(origin, DOMAINS) is allowed
