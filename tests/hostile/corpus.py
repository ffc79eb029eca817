"""The hostile-input corpus: every payload the suite throws at Beckon, in one place.

Add a payload here and every test that walks the list picks it up.
"""

from __future__ import annotations

# Each marker sets window.__xss when it runs, so a browser check can tell "ran" from "shown as text".
XSS = (
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    '"><svg onload="window.__xss=1">',
    '\'><iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
    "</textarea></title></script><script>window.__xss=1</script>",
    "javascript:window.__xss=1",
    '<a href="javascript:window.__xss=1" id="xss-link">click</a>',
    "{{7*7}}${7*7}<%= 7*7 %>",  # template injection: must stay literal, never 49
    "<b id=xss-bold>bold</b>",
    "\u202egnp.exe<style>*{display:none}</style>",
)

# Where these show up, the element they would inject must not exist in the page.
INJECTED_SELECTORS = "script:not([src]):not([type='application/json']), img[src='x'], svg[onload], iframe[srcdoc], #xss-link, #xss-bold, style"

SQL = (
    "'; DROP TABLE leads; --",
    "Robert'); DROP TABLE students;--",
    '" OR "1"="1',
    "' OR 1=1 --",
    "%' OR '%'='",
    "1; SELECT * FROM users",
    "\\'; ATTACH DATABASE '/tmp/x' AS x; --",
)

# Spreadsheet formula injection: each must reach the CSV as text, not as a formula.
FORMULAS = (
    '=HYPERLINK("http://evil.test","x")',
    "+1+1",
    "-1+1",
    "@SUM(1,1)",
    "\t=1+1",
    "\r=1+1",
)

# Phone numbers no one can call: all refused with invalid_phone/invalid_field, nothing stored.
BAD_PHONES = (
    "9" * 41,  # over the 40-character limit
    "9" * 39,  # under the limit, still not a number
    "call me maybe",
    "O2O 7946 O958",  # letter O for zero
    "+",
    "+44 20 7946 0958 ext 99999999999999999999",
    "1e10",
    "-1",
    "<script>1</script>",
    "\u0000\u0001\u0002",
    "\u0662\u0660 \u0667\u0669\u0664\u0666 \u0660\u0669\u0665\u0668\u0665\u0660\u0665\u0660\u0665\u0660",  # too long
)

# Unicode digits a person may really type: accepted only as the same number in E.164, never as garbage.
UNICODE_DIGIT_PHONES = (
    "\uff10\uff12\uff10 \uff17\uff19\uff14\uff16 \uff10\uff19\uff15\uff18",  # full-width 020 7946 0958
    "\u0660\u0662\u0660 \u0667\u0669\u0664\u0666 \u0660\u0669\u0665\u0668",  # Arabic-Indic
)

MALFORMED_JSON = (
    "",
    "{",
    "}",
    "[",
    '{"type":',
    '{"type": "hello", "visitor": }',
    "{'type': 'hello'}",
    '{"type": "hello",}',
    "nul",
    "undefined",
    '"just a string"',
    "42",
    "[]",
    "null",
    "true",
    '{"type": "ping"} trailing',
    '{"type": "lead", "id": "\\ud800broken-surrogate"}',
    "\ufeff{}",
    '{"a": NaN}',
    '{"a": Infinity}',
    '{"a": 1e999999}',
    '{"type": "lead"' + ', "x": 1' * 500 + "}",
)

# Each field of a lead frame with every JSON type it must not have.
WRONG_TYPE_VALUES = (None, 0, -1, 1.5, True, False, [], ["x"], {}, {"x": 1}, "x" * 5000)
LEAD_FIELDS = ("id", "kind", "phone", "name", "email", "consent", "answers", "context", "schedule", "widget")
CONTEXT_FIELDS = ("url", "title", "referrer", "landing", "utm", "trail", "offer")


# A quiz with a free-text step, for text answers.
NOTES_QUIZ = {
    "title": "Tell us",
    "steps": [
        {"id": "notes", "type": "text", "question": "Anything to add?"},
        {"id": "contact", "type": "contact", "fields": ["phone", "name"], "required": ["phone"]},
    ],
    "results": {},
    "show": [],
}


def deep(levels: int, open_: str = "[", close: str = "]") -> str:
    return open_ * levels + close * levels


def all_payload_count() -> int:
    """How many payloads the corpus holds (for the report)."""
    wrong_types = len(WRONG_TYPE_VALUES) * (len(LEAD_FIELDS) + len(CONTEXT_FIELDS))
    lists = (XSS, SQL, FORMULAS, BAD_PHONES, UNICODE_DIGIT_PHONES, MALFORMED_JSON)
    return sum(len(x) for x in lists) + wrong_types
