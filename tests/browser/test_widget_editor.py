"""The widget editor's live preview runs the real widget beside the form, and a draft shows there
before it is saved."""

from __future__ import annotations

import json

from playwright.sync_api import expect

from server.demo import KITCHEN_QUIZ
from server.models import Role
from tests.browser.test_quiz import LAYOUT, quiz_site

OWNER = ("olive.editor@example.test", "olive-password-1")


def test_the_preview_shows_the_quiz_and_then_the_draft(beckon, new_context) -> None:  # type: ignore[no-untyped-def]
    key = quiz_site(beckon, "quiz-editor")
    beckon.add_user(*OWNER, sites=[key], name="Olive", role=Role.OWNER)
    page = new_context().new_page()
    page.goto(f"{beckon.base}/app/login")
    page.get_by_label("Email").fill(OWNER[0])
    page.get_by_label("Password").fill(OWNER[1])
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{beckon.base}/app/widgets/{key}/quiz/kitchen-cost")

    preview = page.frame_locator("iframe[title='Live preview']")
    expect(preview.get_by_role("heading", name=LAYOUT)).to_be_visible()

    draft = json.loads(page.get_by_label("Definition (JSON)").input_value())
    draft["steps"][0]["question"] = "Which kitchen shape do you have?"
    page.get_by_label("Definition (JSON)").fill(json.dumps(draft, indent=2))
    page.get_by_role("button", name="Preview the draft").click()
    expect(preview.get_by_role("heading", name="Which kitchen shape do you have?")).to_be_visible()
    # Previewing saved nothing: visitors still get the old question.
    assert beckon.with_store(lambda s: _question(s, key)) == KITCHEN_QUIZ["steps"][0]["question"]


async def _question(store, key: str) -> str:  # type: ignore[no-untyped-def]
    site = await store.get_site_by_key(key)
    return (await store.get_widget(site.id, "quiz", "kitchen-cost")).config["steps"][0]["question"]
