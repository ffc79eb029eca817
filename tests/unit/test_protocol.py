import json

import pytest

from server.protocol import ErrorCode, FrameError, Hello, LeadFrame, TrackFrame, decode, parse

LEAD = {"type": "lead", "id": "frame-0001", "kind": "callback", "phone": "+44 20 7946 0958"}


def error_of(raw: str | bytes) -> FrameError:
    with pytest.raises(FrameError) as info:
        parse(decode(raw))
    return info.value


def test_lead_frame_is_parsed_with_its_context_trimmed_to_known_keys() -> None:
    frame = parse(
        decode(
            json.dumps(
                LEAD
                | {
                    "name": "  Ann  ",
                    "context": {
                        "url": "https://shop.test/p",
                        "utm": {"utm_source": "google", "evil": "x"},
                        "trail": [{"url": "https://shop.test/", "title": "Home", "at": 1}],
                        "cookies": "secret",
                    },
                }
            )
        )
    )
    assert isinstance(frame, LeadFrame)
    assert frame.name == "Ann"
    assert frame.context["utm"] == {"utm_source": "google"}
    assert "cookies" not in frame.context
    assert frame.context["trail"] == [{"url": "https://shop.test/", "title": "Home", "at": 1.0}]


def test_markup_in_text_fields_is_kept_as_text() -> None:
    frame = parse(LEAD | {"name": "<script>alert(1)</script>"})
    assert isinstance(frame, LeadFrame)
    assert frame.name == "<script>alert(1)</script>"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", ErrorCode.BAD_JSON),
        (b"\xff\xfe{}", ErrorCode.BAD_JSON),
        ("[" * 5000 + "]" * 5000, ErrorCode.BAD_JSON),
        ("[1, 2]", ErrorCode.BAD_FRAME),
        (json.dumps({"type": "teleport", "id": "frame-0001"}), ErrorCode.UNKNOWN_TYPE),
        (json.dumps({"type": "lead", "kind": "callback", "phone": "1"}), ErrorCode.BAD_FRAME),
        (json.dumps(LEAD | {"id": "short"}), ErrorCode.BAD_FRAME),
        (json.dumps(LEAD | {"id": "has spaces in it"}), ErrorCode.BAD_FRAME),
        (json.dumps(LEAD | {"kind": "pizza"}), ErrorCode.BAD_FRAME),
        (json.dumps(LEAD | {"name": "x" * 101}), ErrorCode.INVALID_FIELD),
        (json.dumps(LEAD | {"name": 42}), ErrorCode.INVALID_FIELD),
        (json.dumps(LEAD | {"email": "not-an-email"}), ErrorCode.INVALID_FIELD),
        (json.dumps(LEAD | {"answers": [1]}), ErrorCode.BAD_FRAME),
        (json.dumps({"type": "hello", "visitor": "x"}), ErrorCode.BAD_FRAME),
        (json.dumps({"type": "track", "id": "frame-0001"}), ErrorCode.BAD_FRAME),
    ],
)
def test_bad_frames_get_a_coded_error(raw: str | bytes, code: ErrorCode) -> None:
    assert error_of(raw).code is code


def test_oversized_frame_is_refused_before_parsing() -> None:
    with pytest.raises(FrameError) as info:
        decode(json.dumps(LEAD | {"name": "x" * 17_000}))
    assert info.value.code is ErrorCode.TOO_LARGE
    assert "16384" in info.value.message


def test_error_frame_names_the_frame_and_field() -> None:
    err = error_of(json.dumps(LEAD | {"email": "nope"}))
    assert err.to_frame() == {
        "type": "error",
        "id": "frame-0001",
        "code": "invalid_field",
        "message": "That email address doesn't look right.",
        "field": "email",
    }


def test_hello_and_track() -> None:
    assert parse({"type": "hello", "visitor": "v-12345678"}) == Hello("v-12345678")
    track = parse({"type": "track", "id": "frame-0002", "name": "pricing", "props": {"plan": "pro"}})
    assert track == TrackFrame("frame-0002", "pricing", {"plan": "pro"})
