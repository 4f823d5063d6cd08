import logging
import string

import pytest
from django.test import RequestFactory, override_settings
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hardened_privacy.internal.scrubber import luhn_valid, mask_text
from hardened_privacy.masking import (
    MASK,
    MaskingExceptionReporterFilter,
    MaskingFilter,
    scrub,
    scrub_text,
)


def make_record(msg, args=None, **extra):
    record = logging.LogRecord("app", logging.INFO, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__)


def rendered(record):
    """The message and every attribute a caller could have put on the record."""
    formatter = logging.Formatter("%(message)s")
    parts = [formatter.format(record), repr(record.args)]
    parts += [repr(v) for k, v in record.__dict__.items() if k not in _STANDARD]
    return "\n".join(parts)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("mail ada.lovelace+x@example.co.uk now", "ada.lovelace+x@example.co.uk"),
        ("call +44 20 7946 0958 today", "20 7946 0958"),
        ("call (415) 555-2671", "555-2671"),
        ("card 4111 1111 1111 1111 ok", "4111 1111 1111 1111"),
        ("card 5500-0000-0000-0004", "5500-0000-0000-0004"),
        ("Authorization: Bearer abc.DEF-123_xyz", "abc.DEF-123_xyz"),
        ("key sk_live_51HkQ2eFbX9zLm3 used", "sk_live_51HkQ2eFbX9zLm3"),
        ("aws AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
        ("gh ghp_abcdefghijklmnopqrstuvwxyz0123", "ghp_abcdefghijklmnopqrstuvwxyz0123"),
        (
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_abc-123",
            "eyJzdWIiOiIxIn0",
        ),
        ("?password=hunter2&x=1", "hunter2"),
        ('{"api_key": "q8v7w6x5"}', "q8v7w6x5"),
    ],
)
def test_patterns_mask_secrets(text, secret):
    assert secret not in mask_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "order 4111 1111 1111 1112 failed",
        "client 192.168.100.200 allowed",
        "on 2026-12-03 at 18:53:35",
        "status 404 after 1500 ms",
        "id 3fa85f64-5717-4562-b3fc-2c963f66afa6",
    ],
)
def test_harmless_text_survives(text):
    assert mask_text(text) == text


def test_luhn():
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")


def test_filter_masks_message_args_and_extra():
    record = make_record(
        "login for %s with %s",
        ("ada@example.com", "Bearer abcdef123456"),
        password="hunter2hunter2",
        context={"user": {"email": "bob@example.com", "otp": "123456"}, "n": 3},
        tags=["sk_test_abcdefgh1234"],
    )
    assert MaskingFilter().filter(record) is True
    text = rendered(record)
    for secret in [
        "ada@example.com",
        "abcdef123456",
        "hunter2hunter2",
        "bob@example.com",
        "123456",
        "sk_test_abcdefgh1234",
    ]:
        assert secret not in text
    assert record.context["n"] == 3
    assert record.password == MASK


def test_filter_masks_tracebacks():
    try:
        raise ValueError("bad card 4111111111111111")
    except ValueError:
        record = logging.LogRecord(
            "app",
            logging.ERROR,
            __file__,
            1,
            "boom",
            None,
            __import__("sys").exc_info(),
        )
    MaskingFilter().filter(record)
    assert record.exc_info is None
    assert "4111111111111111" not in logging.Formatter().format(record)
    assert "ValueError" in str(record.exc_text)


def test_filter_survives_broken_format_arguments():
    record = make_record("%d items for %s", ("not a number",))
    MaskingFilter().filter(record)
    assert "not a number" in record.getMessage()


def test_payload_length_is_capped():
    with override_settings(HARDENED_PRIVACY_LOG_MAX_LENGTH=100):
        record = make_record("x" * 10000, None, blob="y" * 10000)
        MaskingFilter().filter(record)
    assert len(record.getMessage()) < 150
    assert "truncated 9900 characters" in record.getMessage()
    assert len(record.blob) < 150


def test_configured_and_classified_names_are_masked():
    with override_settings(HARDENED_PRIVACY_MASKED_NAMES=["favourite_colour"]):
        assert scrub({"favourite_colour": "teal"}) == {"favourite_colour": MASK}
    # The test app's Patient.note is encrypted, hence personal.
    assert scrub({"note": "allergic", "other": "fine"}) == {
        "note": MASK,
        "other": "fine",
    }


def test_scrub_handles_nesting_and_bytes():
    deep = {"a": [{"b": ({"c": "ada@example.com"},)}], "raw": b"\x00\x01"}
    assert scrub(deep) == {"a": [{"b": [{"c": "[MASKED:email]"}]}], "raw": "[bytes: 2]"}
    nested: dict = {}
    cursor = nested
    for _ in range(20):
        cursor["n"] = {}
        cursor = cursor["n"]
    assert "too-deep" in str(scrub(nested))


def test_prompt_scrubbing():
    prompt = "Summarise the ticket from ada@example.com, card 4242 4242 4242 4242."
    cleaned = scrub_text(prompt)
    assert "ada@example.com" not in cleaned
    assert "4242 4242 4242 4242" not in cleaned
    assert cleaned.startswith("Summarise the ticket from")


def test_exception_reporter_filter_masks_post_and_settings():
    request = RequestFactory().post(
        "/", {"comment": "mail ada@example.com", "otp": "123456", "ok": "1"}
    )
    reporter = MaskingExceptionReporterFilter()
    post = reporter.get_post_parameters(request)
    assert post["otp"] == reporter.cleansed_substitute
    assert "ada@example.com" not in post["comment"]
    assert post["ok"] == "1"
    assert "ada@" not in str(reporter.cleanse_setting("ADMINS_NOTE", "ada@example.com"))


# Property: no generated secret survives the filter, wherever it is put.

_word = st.text(alphabet=string.ascii_letters + " .,:;!?", max_size=30)


def _luhn_complete(prefix):
    for check in "0123456789":
        if luhn_valid(prefix + check):
            return prefix + check
    raise AssertionError


cards = st.builds(
    lambda body, sep: sep.join(
        [_luhn_complete("4" + body)[i : i + 4] for i in range(0, 16, 4)]
    ),
    st.text(alphabet=string.digits, min_size=14, max_size=14),
    st.sampled_from(["", " ", "-"]),
)
emails = st.builds(
    lambda u, d, t: f"{u}@{d}.{t}",
    st.text(
        alphabet=string.ascii_lowercase + string.digits + "._+", min_size=1, max_size=12
    ).filter(lambda u: u[0] not in "._+" and u[-1] not in "._+"),
    st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=12),
    st.sampled_from(["com", "org", "io", "co.uk"]),
)
phones = st.builds(
    lambda cc, rest: f"+{cc} {rest[:3]} {rest[3:6]} {rest[6:]}",
    st.integers(min_value=1, max_value=99),
    st.text(alphabet=string.digits, min_size=9, max_size=10),
)
_token_alphabet = string.ascii_letters + string.digits + "-_"
bearers = st.text(alphabet=_token_alphabet, min_size=12, max_size=40).map(
    lambda t: f"Bearer {t}"
)
api_keys = st.one_of(
    st.text(
        alphabet=string.ascii_letters + string.digits, min_size=16, max_size=30
    ).map(lambda t: f"sk_live_{t}"),
    st.text(
        alphabet=string.ascii_uppercase + string.digits, min_size=16, max_size=16
    ).map(lambda t: f"AKIA{t}"),
)
jwts = st.builds(
    lambda a, b, c: f"eyJ{a}.eyJ{b}.{c}",
    st.text(alphabet=_token_alphabet, min_size=8, max_size=30),
    st.text(alphabet=_token_alphabet, min_size=8, max_size=60),
    st.text(alphabet=_token_alphabet, min_size=8, max_size=40),
)
secrets = st.one_of(cards, emails, phones, bearers, api_keys, jwts)


def _core(secret):
    return secret.removeprefix("Bearer ")


@settings(max_examples=300, deadline=None)
@given(
    secret=secrets,
    before=_word,
    after=_word,
    place=st.sampled_from(["msg", "arg", "extra", "nested", "exception"]),
)
def test_no_generated_secret_survives(secret, before, after, place):
    assume(_core(secret) not in before + " " + after)
    text = f"{before} {secret} {after}"
    if place == "msg":
        record = make_record(text)
    elif place == "arg":
        record = make_record("value: %s", (text,))
    elif place == "extra":
        record = make_record("event", None, detail=text)
    elif place == "nested":
        record = make_record("event", None, payload={"items": [{"note": [text]}]})
    else:
        try:
            raise RuntimeError(text)
        except RuntimeError:
            record = logging.LogRecord(
                "app", logging.ERROR, "", 1, "x", None, __import__("sys").exc_info()
            )
    MaskingFilter().filter(record)
    assert _core(secret) not in rendered(record) + str(record.exc_text)


def test_filter_masks_structured_messages_and_arguments_by_key():
    record = make_record({"first_name": "Adaline", "n": 3})
    MaskingFilter().filter(record)
    assert "Adaline" not in rendered(record)
    assert "'n': 3" in rendered(record)

    record = make_record("seen %s", ({"password": "opensesame1"},))
    MaskingFilter().filter(record)
    assert record.getMessage() == f"seen {{'password': '{MASK}'}}"

    record = make_record(
        "%(total).2f for %(last_name)s", ({"total": 2.5, "last_name": "Lovelace"},)
    )
    MaskingFilter().filter(record)
    assert record.getMessage() == f"2.50 for {MASK}"


def test_dict_keys_are_masked_by_pattern():
    assert scrub({"mail bob@example.com": 1}) == {"mail [MASKED:email]": 1}
