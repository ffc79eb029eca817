"""From an empty database to a configured site without the CLI: setup, sites, hours, install check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.models import Role
from tests.support import BeckonServer, csrf_from, login

OWNER = ("owner@workshop.test", "a-long-password-1")


@pytest.fixture
def empty(tmp_path: Path) -> Iterator[BeckonServer]:
    server = BeckonServer(tmp_path).start()
    yield server
    server.stop()


def post(client: httpx.Client, path: str, form_path: str, data: dict[str, str]) -> httpx.Response:
    page = client.get(form_path)
    return client.post(path, data={"csrf": csrf_from(page.text)} | data)


def set_up(server: BeckonServer) -> httpx.Client:
    client = httpx.Client(base_url=server.base, follow_redirects=False)
    assert client.get("/app/login").headers["location"] == "/app/setup"
    reply = post(client, "/app/setup", "/app/setup", {"name": "Olga", "email": OWNER[0], "password": OWNER[1]})
    assert reply.status_code == 303 and reply.headers["location"] == "/app/sites"
    return client


def site_form(**over: str) -> dict[str, str]:
    form = {
        "name": "Oak Workshop",
        "domains": "oak.test\nwww.oak.test",
        "timezone": "Europe/London",
        "locale": "",
        "hours_mon": "09:00-13:00, 14:00-18:00",
        "hours_tue": "09:00-18:00",
        "holidays": "2026-12-25",
        "promise_seconds": "45",
        "ring_seconds": "15",
        "routing": "round_robin",
        "phone_region": "gb",
    }
    return form | over


def test_the_first_person_creates_the_owner_and_nobody_can_do_it_again(empty: BeckonServer) -> None:
    owner = set_up(empty)
    assert owner.get("/app/sites").status_code == 200
    stranger = httpx.Client(base_url=empty.base, follow_redirects=False)
    assert stranger.get("/app/setup").headers["location"] == "/app/login"
    taken = stranger.post("/app/setup", data={"name": "Eve", "email": "eve@evil.test", "password": "x" * 12})
    assert taken.status_code in (303, 403)
    assert login(stranger, "eve@evil.test", "x" * 12).status_code == 401


def test_setup_refuses_a_short_password_and_a_bad_email(empty: BeckonServer) -> None:
    client = httpx.Client(base_url=empty.base, follow_redirects=False)
    reply = post(client, "/app/setup", "/app/setup", {"name": "", "email": "olga", "password": "short"})
    assert reply.status_code == 400
    for text in ("Email: that doesn", "Name: tell your team", "Password: at least 10 characters"):
        assert text in reply.text
    assert client.get("/app/login").headers["location"] == "/app/setup"  # still nobody


def test_a_new_site_gets_its_settings_snippet_and_install_check(empty: BeckonServer) -> None:
    owner = set_up(empty)
    made = post(owner, "/app/sites", "/app/sites", {"name": "Oak Workshop", "domains": "oak.test"})
    assert made.status_code == 303
    path = made.headers["location"]
    key = path.rsplit("/", 1)[1]

    refused = post(owner, path, path, site_form(timezone="Mars/Olympus", hours_wed="9 till late", domains="shop..test"))
    assert refused.status_code == 400
    for text in (
        "Timezone: &#39;Mars/Olympus&#39;",
        "Hours on wed: &#39;9 till late&#39;",
        "&#39;shop..test&#39; is not a domain",
    ):
        assert text in refused.text
    # Numbers: what str.isdigit() takes but int() refuses, too many digits, out of bounds: a field error each.
    for promise in ("\u00b2", "9" * 20_000, "5", "٤٥"):
        wrong = post(owner, path, path, site_form(promise_seconds=promise))
        assert wrong.status_code == 400 and "Callback promise: a number of seconds from 10 to 3600" in wrong.text
    assert post(owner, path, path, site_form()).status_code == 303

    config = httpx.get(f"{empty.base}/api/v1/sites/{key}/config", headers={"Origin": "https://www.oak.test"}).json()
    assert config["widgets"]["callback"]["promise_seconds"] == 45
    assert config["widgets"]["callback"]["hours"]["timezone"] == "Europe/London"
    page = owner.get(path).text
    # The snippet to paste, with the real host and key (quotes escaped inside the page's text box).
    assert f"&#39;{empty.base}/embed.js&#39;,&#39;{key}&#39;" in page
    assert 'value="09:00-13:00, 14:00-18:00"' in page and "2026-12-25" in page
    assert "<td>www.oak.test</td><td><time" in page and "Working" in page
    assert "<td>oak.test</td><td>never</td>" in page and "Not seen yet" in page


def test_managers_and_strangers_cannot_change_a_site(empty: BeckonServer) -> None:
    owner = set_up(empty)
    path = post(owner, "/app/sites", "/app/sites", {"name": "Oak", "domains": "oak.test"}).headers["location"]
    empty.add_user("mia@oak.test", "manager-password-1", sites=[path.rsplit("/", 1)[1]])
    empty.add_user("otto@other.test", "other-password-1", sites=[], role=Role.OWNER)
    manager = httpx.Client(base_url=empty.base, follow_redirects=False)
    login(manager, "mia@oak.test", "manager-password-1")
    assert manager.get(path).status_code == 403
    other = httpx.Client(base_url=empty.base, follow_redirects=False)
    login(other, "otto@other.test", "other-password-1")
    assert other.get(path).status_code == 404
    assert httpx.get(f"{empty.base}{path}", follow_redirects=False).headers["location"] == "/app/login"


def test_setup_forms_sent_at_once_make_exactly_one_owner(empty: BeckonServer) -> None:
    """Several people open the setup page of a fresh install and send it together: one owner, the
    others are sent to sign in (the check and the insert are one write, not a check, a slow password
    hash, then an insert)."""
    import concurrent.futures

    clients = [httpx.Client(base_url=empty.base, follow_redirects=False) for _ in range(6)]
    tokens = [csrf_from(c.get("/app/setup").text) for c in clients]

    def send(i: int) -> httpx.Response:
        data = {"csrf": tokens[i], "name": f"Owner {i}", "email": f"owner{i}@race.test", "password": "p" * 12}
        return clients[i].post("/app/setup", data=data)

    with concurrent.futures.ThreadPoolExecutor(len(clients)) as pool:
        replies = list(pool.map(send, range(len(clients))))
    assert sorted(r.headers["location"] for r in replies) == ["/app/login"] * 5 + ["/app/sites"]
    assert empty.with_store(lambda s: s.count_users()) == 1
