from server.analytics import report


def test_the_report_adds_up_the_raw_numbers() -> None:
    raw = {
        "leads": [
            {"kind": "callback", "status": "new", "n": 3},
            {"kind": "callback", "status": "won", "n": 1},
            {"kind": "quiz", "status": "partial", "n": 5},
            {"kind": "quiz", "status": "new", "n": 2},
            {"kind": "popup", "status": "new", "n": 1},
        ],
        "events": [
            {"name": "popup_shown", "n": 10},
            {"name": "popup_converted", "n": 2},
            {"name": "callback_opened", "n": 6},
            {"name": "chat_opened", "n": 3},
            {"name": "quiz_opened", "n": 8},
            {"name": "countdown_cta_clicked", "n": 4},
        ],
        "counters": [
            {"widget": "callback", "counter": "impressions", "n": 90},
            {"widget": "chat", "counter": "impressions", "n": 80},
        ],
        "sources": [{"source": "ads", "n": 4, "won": 1}, {"source": "", "n": 3, "won": None}],
        "callbacks": [
            {"user_id": 1, "to_claim": 4.0, "promise_kept": 1, "missed": 0, "outcome": "connected"},
            {"user_id": 1, "to_claim": 10.0, "promise_kept": 0, "missed": 1, "outcome": None},
            {"user_id": 2, "to_claim": 6.0, "promise_kept": 1, "missed": 0, "outcome": "no_answer"},
            {"user_id": None, "to_claim": None, "promise_kept": None, "missed": 1, "outcome": None},
        ],
        "chats": [
            {"id": 1, "rating": 5, "asked": 100.0, "answered": 112.0, "user_id": 2, "assignee_id": 2},
            {"id": 2, "rating": None, "asked": 200.0, "answered": None, "user_id": None, "assignee_id": None},
        ],
        "people": [{"id": 1, "name": "Anna"}, {"id": 2, "name": "Ben"}],
    }
    out = report(raw)
    funnels = {f.widget: [(s.label, s.n) for s in f.steps] for f in out.funnels}
    assert funnels["Callback"] == [
        ("Impressions", 90),
        ("Opened", 6),
        ("Requests", 4),
        ("Claimed by a manager", 3),
        ("Talked", 1),
        ("Won", 1),
    ]
    assert funnels["Quiz"] == [("Opened", 8), ("Started", 7), ("Left contact details", 2), ("Won", 0)]
    assert funnels["Popup"] == [("Shown", 10), ("Converted", 3), ("Won", 0)]
    assert funnels["Chat"] == [("Impressions", 80), ("Opened", 3), ("Conversations", 2), ("Answered", 1), ("Won", 0)]
    assert funnels["Countdown"] == [("Offer button clicked", 4)]
    assert (out.missed, out.callbacks) == (2, 4)
    assert out.sources == [{"source": "ads", "n": 4, "won": 1}, {"source": "direct", "n": 3, "won": 0}]
    anna, ben = out.people
    assert (anna.claimed, anna.median_claim, anna.kept_pct, anna.chats) == (2, 7.0, 50, 0)
    assert (ben.claimed, ben.kept_pct, ben.chats, ben.median_reply, ben.rating) == (1, 100, 1, 12.0, 5.0)


def test_a_site_with_no_counters_yet_starts_its_funnels_at_zero() -> None:
    raw = {k: [] for k in ("leads", "events", "sources", "callbacks", "chats", "people", "counters")}
    funnels = {f.widget: f.steps for f in report(raw).funnels}
    assert [(s.label, s.n) for s in funnels["Callback"][:2]] == [("Impressions", 0), ("Opened", 0)]
