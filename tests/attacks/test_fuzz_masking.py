"""No secret or personal value survives the masking filter, however nested.

``tests/hardened_privacy/test_masking.py`` plants one generated secret in
text at a few fixed places. Here Hypothesis builds arbitrary values (dicts,
lists, tuples, sets, objects with their own ``str``, bytes, numbers, nested
past the scrubber's depth limit), plants recognisable secrets in them as
values and as dict keys, and personal values under names the classification
registry, the built-in list or ``HARDENED_PRIVACY_MASKED_NAMES`` marks
sensitive. The record is filtered, then formatted by a plain formatter and
by the audit JSON formatter; no planted value may appear in either output
or on any attribute of the record.

The budget comes from the Hypothesis profile (``HYPOTHESIS_PROFILE``, see
``tests/conftest.py``).
"""

from __future__ import annotations

import logging
import string
import sys
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardened_privacy.audit import AUDIT_ATTRIBUTE, AuditJSONFormatter
from hardened_privacy.classification import sensitive_field_names
from hardened_privacy.internal.scrubber import SENSITIVE_NAMES
from hardened_privacy.masking import MaskingFilter
from tests.hardened_privacy.test_masking import _core, rendered
from tests.hardened_privacy.test_masking import secrets as pattern_secrets

SITE_NAME = "loyalty_tier"

pytestmark = pytest.mark.usefixtures("site_masked_name")


@pytest.fixture
def site_masked_name():
    with override_settings(HARDENED_PRIVACY_MASKED_NAMES=[SITE_NAME]):
        yield


@dataclass(frozen=True)
class Note:
    """A caller's object whose ``str`` and ``repr`` show what it holds."""

    text: str

    def __str__(self) -> str:
        return f"note({self.text})"


# Filler is lower-case and shorter than any planted value, so it can neither
# contain one by chance nor be mistaken for one.
filler = st.text(alphabet=string.ascii_lowercase + " .:/", max_size=8)
plain_names = st.text(alphabet="xyz_", min_size=1, max_size=6)
personal_values = st.builds(
    lambda n: f"Qz{n}Vx", st.integers(min_value=10**5, max_value=10**9)
)


def _sensitive_names() -> st.SearchStrategy[str]:
    registry = sorted(sensitive_field_names())
    built_in = sorted(SENSITIVE_NAMES | {"password", "api_key", "x-csrf-token"})
    variants = [*registry, *built_in, SITE_NAME]
    return st.sampled_from(variants).flatmap(
        lambda name: st.sampled_from([name, name.upper(), name.title()])
    )


sensitive_names = st.deferred(_sensitive_names)


Sample = tuple[Any, tuple[str, ...]]


def _planted(samples: list[Sample]) -> tuple[str, ...]:
    return tuple(secret for _, hidden in samples for secret in hidden)


def _plant(before: str, secret: str, after: str) -> Sample:
    return f"{before} {secret} {after}", (_core(secret),)


def _containers(inner: st.SearchStrategy[Sample]) -> st.SearchStrategy[Sample]:
    items = st.lists(inner, max_size=4)
    keyed = st.tuples(st.one_of(plain_names.map(lambda k: (k, ())), secret_text), inner)
    hidden = st.tuples(
        sensitive_names.map(lambda k: (k, ())),
        st.one_of(personal_values.map(lambda v: (v, (v,))), inner),
    )
    pairs = st.lists(st.one_of(keyed, hidden), max_size=4).map(
        lambda kvs: (
            [(k, v) for (k, _), (v, _) in kvs],
            _planted([s for kv in kvs for s in kv]),
        )
    )
    return st.one_of(
        items.map(lambda xs: ([v for v, _ in xs], _planted(xs))),
        items.map(lambda xs: (tuple(v for v, _ in xs), _planted(xs))),
        st.lists(hashable_leaves, max_size=3).map(
            lambda xs: (frozenset(v for v, _ in xs), _planted(xs))
        ),
        st.lists(hashable_leaves, max_size=3).map(
            lambda xs: ({v for v, _ in xs}, _planted(xs))
        ),
        pairs.map(lambda p: (dict(p[0]), p[1])),
        pairs.map(lambda p: (OrderedDict(p[0]), p[1])),
    )


secret_text = st.builds(_plant, filler, pattern_secrets, filler)
hashable_leaves = st.one_of(
    st.integers().map(lambda v: (v, ())), filler.map(lambda v: (v, ())), secret_text
)
leaves = st.one_of(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), filler
    ).map(lambda v: (v, ())),
    secret_text,
    secret_text.map(lambda s: (Note(s[0]), s[1])),
    secret_text.map(lambda s: (s[0].encode(), s[1])),
)
samples = st.recursive(leaves, _containers, max_leaves=20)
# An exception's message is text by the time it is raised, so names no
# longer mark its values; it is masked by pattern, like any other text.
unnamed_samples = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4).map(
        lambda xs: ([v for v, _ in xs], _planted(xs))
    ),
    max_leaves=20,
)


def _record(place: str, value: Any, name: str) -> logging.LogRecord:
    record = logging.LogRecord(
        "hardened_privacy.audit", logging.INFO, __file__, 1, "event", None, None
    )
    if place == "msg":
        record.msg = value
    elif place == "args":
        record.msg, record.args = "seen %s and %r", (value, value)
    elif place == "mapping_args":
        record.msg, record.args = "seen %(value)s", {"value": value}
    elif place == "extra":
        record.detail = value
    elif place == "named_extra":
        setattr(record, name, value)
    elif place == "audit":
        setattr(record, AUDIT_ATTRIBUTE, {"event": "e", "target": value})
    else:
        try:
            raise RuntimeError(value)
        except RuntimeError:
            record.exc_info = sys.exc_info()
    return record


PLACES = ["msg", "args", "mapping_args", "extra", "named_extra", "audit", "raised"]


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), place=st.sampled_from(PLACES))
def test_no_planted_value_survives_any_formatting(data, place):
    strategy = unnamed_samples if place == "raised" else samples
    value, planted = data.draw(strategy, label="value")
    name = data.draw(sensitive_names, label="name")
    if place == "named_extra":
        value = data.draw(personal_values, label="personal")
        planted = (value,)
    record = _record(place, value, name)

    assert MaskingFilter().filter(record) is True

    outputs = [
        rendered(record),
        str(record.exc_text),
        logging.Formatter("%(name)s %(levelname)s %(message)s").format(record),
        AuditJSONFormatter().format(record),
    ]
    text = "\n".join(outputs)
    for secret in planted:
        assert secret not in text, (secret, place)


@given(
    depth=st.integers(min_value=1, max_value=40),
    secret=pattern_secrets,
    wrap=st.sampled_from([list, tuple, lambda v: {"k": v}, Note]),
)
def test_depth_is_no_hiding_place(depth, secret, wrap):
    value: Any = f"x {secret} y"
    for _ in range(depth):
        value = wrap(value)
    record = _record("extra", value, "detail")
    MaskingFilter().filter(record)
    assert _core(secret) not in rendered(record) + AuditJSONFormatter().format(record)
