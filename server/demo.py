"""The demo: a seeded furniture-workshop site and its pages at /demo/."""

from __future__ import annotations

import datetime as dt
import mimetypes
import secrets
import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from server import countdown, popup
from server.countdown import fixed_deadline
from server.models import Role, Site
from server.passwords import hash_password
from server.quiz.definition import validate
from server.settings import Settings
from server.store import Store

DEMO_MANAGERS = (
    ("anna@demo.beckon.test", "Anna Petrova", Role.OWNER),
    ("ben@demo.beckon.test", "Ben Carter", Role.MANAGER),
)
CALLBACK_DEFAULTS = {"position": "right", "color": "#0f766e"}
CHAT_DEFAULTS = {
    "color": "#0f766e",
    "prechat": [],
    "greeting": "Hi! Questions about a kitchen or a wardrobe? Ask away.",
}

# A realistic price calculator: the layout decides the base and maybe an island question, a long
# wall brings a free design visit, solid oak asks for its finish.
KITCHEN_QUIZ = {
    "title": "What will your kitchen cost?",
    "intro": "Five quick questions, then a price range for a kitchen made and fitted by us.",
    "steps": [
        {
            "id": "layout",
            "type": "image",
            "question": "Which layout is closest to your room?",
            "options": [
                {
                    "id": "straight",
                    "label": "Straight",
                    "image": "/demo/img/layout-straight.svg",
                    "add": {"base": 3800},
                },
                {"id": "l", "label": "L-shaped", "image": "/demo/img/layout-l.svg", "add": {"base": 5200}},
                {"id": "u", "label": "U-shaped", "image": "/demo/img/layout-u.svg", "add": {"base": 6900}},
                {
                    "id": "island",
                    "label": "With an island",
                    "image": "/demo/img/layout-island.svg",
                    "add": {"base": 7400},
                    "next": "island",
                },
            ],
            "next": "length",
        },
        {
            "id": "island",
            "type": "number",
            "question": "How long should the island be?",
            "min": 1,
            "max": 4,
            "step": 0.5,
            "default": 2,
            "unit": "m",
            "var": "island_m",
        },
        {
            "id": "length",
            "type": "number",
            "question": "How long are the walls with cabinets, in total?",
            "min": 2,
            "max": 14,
            "step": 0.5,
            "default": 5,
            "unit": "m",
            "branches": [{"if": "length >= 9", "next": "visit"}],
            "next": "fronts",
        },
        {
            "id": "visit",
            "type": "info",
            "text": "A kitchen this size gets a free design visit: our designer measures up and draws it with you.",
        },
        {
            "id": "fronts",
            "type": "single",
            "question": "What should the fronts be made of?",
            "options": [
                {"id": "painted", "label": "Painted MDF", "add": {"per_m": 0}, "next": "extras"},
                {"id": "veneer", "label": "Oak veneer", "add": {"per_m": 250}, "next": "extras"},
                {"id": "solid", "label": "Solid oak", "add": {"per_m": 520}},
            ],
        },
        {
            "id": "finish",
            "type": "single",
            "question": "How should the solid oak be finished?",
            "options": [
                {"id": "oil", "label": "Hard-wax oil", "add": {"per_m": 0}},
                {"id": "lacquer", "label": "Matt lacquer", "add": {"per_m": 80}},
            ],
        },
        {
            "id": "extras",
            "type": "multiple",
            "question": "Anything else? Pick all that apply.",
            "required": False,
            "options": [
                {"id": "appliances", "label": "Built-in appliances", "add": {"extras": 2400}},
                {"id": "stone", "label": "Stone worktop", "add": {"extras": 1800}},
                {"id": "lights", "label": "Under-cabinet lighting", "add": {"extras": 450}},
            ],
        },
        {
            "id": "contact",
            "type": "contact",
            "question": "Where should we send your estimate?",
            "fields": ["name", "phone", "email"],
            "required": ["phone"],
        },
    ],
    "results": {
        "price": "round(base + length * (650 + per_m) + island_m * 900 + extras, -2)",
        "price_high": "round(price * 1.15, -2)",
    },
    "show": [
        {"result": "price", "label": "From", "prefix": "$"},
        {"result": "price_high", "label": "To", "prefix": "$"},
    ],
    "ranges": [
        {"result": "price", "max": 8999, "text": "A compact kitchen: about four weeks from measuring to fitting."},
        {
            "result": "price",
            "min": 9000,
            "max": 17999,
            "text": "A family kitchen: about six weeks from measuring to fitting.",
        },
        {
            "result": "price",
            "min": 18000,
            "text": "A showpiece kitchen: our senior designer will draw three layouts for you.",
        },
    ],
    "bonus": {"code": "OAK10", "text": "10% off your kitchen: give this code when we call."},
}

# Two popups a person can trigger by hand: leave the page through the top (or, on a phone, scroll
# up fast / come back to the tab), and read far down the home or contact page.
DEMO_POPUPS = {
    "exit-offer": {
        "priority": 20,
        "layout": "modal",
        "title": "Before you go: 10% off your kitchen",
        "text": "Leave your number and we'll send you a promo code, and call only if you ask us to.",
        "countdown": "autumn-sale",
        "image": "/demo/img/offer.svg",
        "fields": ["phone", "name"],
        "submit": "Get my code",
        "thanks": "Here is your code. Mention it when you order:",
        "triggers": {"any": [{"type": "exit_intent"}]},
        "targeting": {"exclude": [{"match": "contains", "value": "contact"}]},
        "frequency": {"show": "days", "days": 1, "after_close_days": 7},
        "bonus": {"code": "OAK10", "text": "10% off any kitchen ordered this month"},
    },
    "kitchen-scroll": {
        "priority": 10,
        "layout": "slide",
        "title": "What would your kitchen cost?",
        "text": "Five quick questions and you'll have a price range, no phone call needed.",
        "fields": [],
        "button": {"label": "Work out my price", "open": "quiz:kitchen-cost"},
        "triggers": {"any": [{"type": "scroll", "percent": 60}]},
        # Not on the kitchens page: the quiz is already there, in the page itself.
        "targeting": {"exclude": [{"match": "contains", "value": "kitchens"}]},
        "frequency": {"show": "session", "after_close_days": 7},
    },
}

# A real offer with a real deadline: the end of the month the demo was first seeded in. A re-seed
# never moves it while it runs; once it has passed, the next month's sale is set (and recorded).
AUTUMN_SALE = {
    "mode": "fixed",
    "display": "bar-top",
    "title": "This month: 10% off every oak kitchen",
    "text": "The offer ends in",
    "cta": {"label": "Call me about the offer", "open": "callback"},
    "expiry": {"action": "message", "message": "This month's kitchen offer has ended. Ask us about the next one."},
}
FREE_VISIT = {
    "mode": "daily",
    "time": "14:00",
    "days": [1, 2, 3, 4, 5],
    "display": "inline",
    "title": "Book by 2 pm on a weekday and our designer measures up the next working day",
    "cta": {"label": "Book a free visit", "open": "callback"},
    "expiry": {"action": "hide"},
}


def month_end(now: float, timezone: str) -> str:
    local = dt.datetime.fromtimestamp(now, ZoneInfo(timezone))
    first_of_next = (local.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return (first_of_next - dt.timedelta(days=1)).strftime("%Y-%m-%dT23:59")


async def seed_offers(store: Store, site: Site) -> None:
    sale = await store.get_widget(site.id, "countdown", "autumn-sale")
    now = time.time()
    if sale is None or fixed_deadline(sale.config.get("deadline", ""), site.timezone) <= now:
        await store.put_widget(
            site.id, "countdown", AUTUMN_SALE | {"deadline": month_end(now, site.timezone)}, slug="autumn-sale"
        )
    countdown.validate(FREE_VISIT, site.timezone)
    await store.put_widget(site.id, "countdown", FREE_VISIT, slug="free-visit")
    for slug, config in DEMO_POPUPS.items():
        popup.validate(config)
        await store.put_widget(site.id, "popup", config, slug=slug)


@dataclass(frozen=True)
class DemoLogin:
    email: str
    name: str
    role: Role
    password: str


async def seed_demo(store: Store, settings: Settings) -> tuple[Site, list[DemoLogin]]:
    """Create or refresh the demo site and its managers; passwords are new on every run and never stored in clear."""
    site = await store.get_site_by_key(settings.demo_site_key)
    if site is None:
        site = await store.create_site(
            key=settings.demo_site_key,
            name="Oak & Joinery",
            allowed_domains=["localhost", "127.0.0.1"],
            timezone="America/Los_Angeles",
            locale="",
            # Open around the clock (no working hours) so the live path works whenever someone tries
            # the demo; set hours on a real site to see the off-hours booking.
            settings={
                "phone_region": "US",
                "promise_seconds": 30,
                "ring_seconds": 15,
                "routing": "ring_all",
                "canned": [
                    {"shortcut": "hi", "text": "Hi! I'm happy to help. What are you planning?"},
                    {"shortcut": "visit", "text": "We can measure up at your home for free. When suits you?"},
                    {"shortcut": "price", "text": "Kitchens start from $7,800 fitted; wardrobes from $2,400."},
                ],
            },
        )
    await store.put_widget(site.id, "callback", CALLBACK_DEFAULTS)
    await store.put_widget(site.id, "chat", CHAT_DEFAULTS)
    validate(KITCHEN_QUIZ)
    await store.put_widget(site.id, "quiz", KITCHEN_QUIZ, slug="kitchen-cost")
    await seed_offers(store, site)
    logins = []
    for email, name, role in DEMO_MANAGERS:
        password = secrets.token_urlsafe(9)
        user = await store.get_user_by_email(email)
        if user is None:
            user = await store.create_user(email=email, name=name, password_hash=hash_password(password), role=role)
        else:
            await store.set_password_hash(user.id, hash_password(password))
        await store.add_member(site.id, user.id)
        logins.append(DemoLogin(email, name, role, password))
    return site, logins


class DemoSite:
    """Serves demo_site/ with the snippet's placeholders filled in, as an owner's pasted copy would be."""

    def __init__(self, settings: Settings) -> None:
        self.folder = settings.root / "demo_site"
        self.settings = settings

    async def page(self, request: Request) -> Response:
        name = request.path_params.get("path") or "index.html"
        path = (self.folder / name).resolve()
        if not path.is_relative_to(self.folder.resolve()) or not path.is_file():
            return Response("Not found.\n", status_code=404, media_type="text/plain")
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        body = path.read_bytes()
        if path.suffix == ".html":
            base = self.settings.public_url.rstrip("/") or f"{request.url.scheme}://{request.url.netloc}"
            text = body.decode("utf-8")
            text = text.replace("https://HOST/embed.js", f"{base}/embed.js").replace(
                "'SITE_KEY'", f"'{self.settings.demo_site_key}'"
            )
            body = text.encode("utf-8")
            media_type = "text/html; charset=utf-8"
        return Response(body, media_type=media_type, headers={"Cache-Control": "no-cache"})
