"""The widgets' built-in texts live on the server (server/widget_texts.py, issue #10): every text a
widget asks for by name must be there, in both languages, or the visitor would read its key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.widget_texts import BUILT_IN, Lang, language, preferred, texts_for

WIDGETS = Path(__file__).resolve().parents[2] / "widgets"
# Texts asked for by a computed name: countdown units (spoken and shown), the popup's and quiz's contact fields.
COMPUTED = {
    "countdown": ["days", "hours", "minutes", "min", "sec", "left", "soon", "offer", "close"],
    "chat": ["f1", "f2", "f3", "f4", "f5", "email_bad", "phone_bad"],
    "popup": ["phone", "email", "name"],
    "quiz": ["phone", "email", "name", "submit", "next"],
}


def asked(kind: str) -> set[str]:
    """The full keys a widget's source asks for: T('k') means '<kind>.k', rt.t('x') means 'x'."""
    source = (WIDGETS / f"{kind}.js").read_text()
    own = {f"{kind}.{k}" for k in re.findall(r"\bT\('(\w+)'[,)]", source) + COMPUTED.get(kind, [])}
    return own | set(re.findall(r"\brt\.t\('([\w.]+)'", source))


@pytest.mark.parametrize("kind", ["callback", "chat", "countdown", "greeter", "popup", "quiz"])
def test_every_text_a_widget_asks_for_is_built_in(kind: str) -> None:
    keys = asked(kind)
    assert keys, "no texts found: has the widget's text lookup changed?"
    missing = [k for k in keys if k not in BUILT_IN[Lang.EN] and k.rpartition(".")[2] not in BUILT_IN[Lang.EN]]
    assert missing == []
    # What the config sends for this kind alone resolves them too.
    sent = texts_for(Lang.EN, {kind}, {})
    assert [k for k in keys if k not in sent and k.rpartition(".")[2] not in sent] == []


def test_both_languages_have_the_same_texts_and_placeholders() -> None:
    en, ru = BUILT_IN[Lang.EN], BUILT_IN[Lang.RU]
    assert en.keys() == ru.keys()
    for key in en:
        assert set(re.findall(r"\{\w+\}", en[key])) == set(re.findall(r"\{\w+\}", ru[key])), key
    assert len(ru["countdown.days"].split()) == 3 and len(en["countdown.days"].split()) == 2  # plural forms


def test_the_language_is_the_sites_else_the_browsers_first_choice() -> None:
    assert language("ru", "en-US,en") is Lang.RU
    assert language("en", "ru-RU") is Lang.EN
    assert language("", "ru-RU,ru;q=0.9,en;q=0.8") is Lang.RU
    assert language("", "en-US,en;q=0.9,ru;q=0.8") is Lang.EN
    assert language("", "de;q=0.5,ru;q=0.7") is Lang.RU
    assert language("", "") is Lang.EN and language("", "*") is Lang.EN
    assert preferred("fr;q=bad, uk") == "uk"


def test_a_sites_own_texts_win_and_other_widgets_texts_stay_home() -> None:
    texts = texts_for(Lang.EN, {"callback"}, {"callback.title": "Ring me", "phone": "Mobile"})
    assert texts["callback.title"] == "Ring me" and texts["phone"] == "Mobile"
    assert not [k for k in texts if k.startswith(("chat.", "quiz.", "popup.", "countdown.", "greeter."))]
    assert "callback.within" in texts_for(Lang.EN, {"quiz"}, {})  # the quiz's result says the callback's promise
