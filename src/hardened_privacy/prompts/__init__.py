"""Prompts as code: versioned templates, delimited values, a linter.

Templates are ``<name>.prompt`` files in the directories listed in
``HARDENED_PRIVACY_PROMPT_DIRS``; see :mod:`hardened_privacy.prompts.template`
for the format and ``docs/hardened_privacy_ai.md`` for the workflow::

    from hardened_privacy.prompts import render_prompt

    prompt = render_prompt(
        "summarise_feed",
        {"site_name": "Example", "feed_text": posts, "question": question},
        actor=request.user.pk,
    )
    model_client.complete(prompt.text)

Every value is normalised and its delimiter look-alikes escaped, values from
people sit between delimiters, the rendered text passes through the privacy
scrubber, and each render is audit-logged by name, version and SHA-256.
"""

from hardened_privacy.prompts.lint import (
    Finding,
    assert_prompts_clean,
    lint_prompts,
)
from hardened_privacy.prompts.neutralise import neutralise
from hardened_privacy.prompts.render import (
    RenderedPrompt,
    find_template,
    render_prompt,
    render_template,
)
from hardened_privacy.prompts.template import PromptTemplate, parse_template

__all__ = [
    "Finding",
    "PromptTemplate",
    "RenderedPrompt",
    "assert_prompts_clean",
    "find_template",
    "lint_prompts",
    "neutralise",
    "parse_template",
    "render_prompt",
    "render_template",
]
