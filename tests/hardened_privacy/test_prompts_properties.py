"""Properties of value neutralising, checked on generated hostile text."""

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from hardened_privacy.prompts import neutralise, parse_template, render_template
from hardened_privacy.prompts.render import closing, opening

BRACKETS = "<>\uff1c\uff1e\ufe64\ufe65\u2039\u203a\u3008\u3009\u00ab\u00bb\u22d8\u22d9"
TRICKS = "\u200b\u200c\u200d\u2060\ufeff\u202e\u202d\ufe0f\U000e0041 \t\n\r"
hostile_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(BRACKETS + TRICKS),
        st.sampled_from(list('user_input end="name"feed')),
        st.characters(),
    ),
    max_size=80,
)

TEMPLATE = parse_template(
    "---\nname: t\nversion: 1\nuser: a, b\n---\nA: {{ user:a }}\nB: {{ user:b }}\n"
)


def runs(text):
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Cc"))
    text = text.replace("\u2039", "<").replace("\u203a", ">")
    text = text.replace("\u3008", "<").replace("\u3009", ">")
    text = text.replace("\u00ab", "<<").replace("\u00bb", ">>")
    text = text.replace("\u22d8", "<<<").replace("\u22d9", ">>>")
    return len(re.findall(r"<(?:\s*<)+", text)), len(re.findall(r">(?:\s*>)+", text))


@settings(max_examples=300, deadline=None)
@given(hostile_text)
def test_neutralised_values_hold_no_bracket_runs(value):
    assert runs(neutralise(value)) == (0, 0)


@settings(max_examples=300, deadline=None)
@given(hostile_text)
def test_neutralising_is_idempotent(value):
    once = neutralise(value)

    assert neutralise(once) == once


@settings(max_examples=200, deadline=None)
@given(hostile_text, hostile_text)
def test_rendered_prompts_have_exactly_their_own_delimiters(a, b):
    text = render_template(TEMPLATE, {"a": a, "b": b}).text

    assert runs(text) == (4, 4)
    assert text.count(opening("a")) == text.count(closing("a")) == 1
    assert text.count(opening("b")) == text.count(closing("b")) == 1
