"""The sandbox's agent tool: summarise the posts the user can see.

The tool goes through the hardened_rbac agent gateway like any other: it is
registered with a policy, a schema, rates and a side-effect class, and it
reads posts through the ``view`` policy on ``Post`` in the current tenant.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from demo.models import Post
from hardened_privacy.prompts import render_prompt
from hardened_privacy.prompts.render import closing, opening
from hardened_rbac import agents, policies

SUMMARY_WORDS = 5


class StandInSummariser:
    """A stand-in for a language model client, for the sandbox and tests.

    It is deterministic and makes no network call: from the rendered
    prompt it reads the delimited ``posts`` block, one post per line, and
    counts posts and authors and names the most frequent longer words. A
    real site swaps in its model client, reached through
    ``hardened_privacy.egress``.
    """

    def complete(self, prompt: str) -> str:
        start = prompt.find(opening("posts"))
        end = prompt.find(closing("posts"))
        if start < 0 or end < start:
            return "No posts to summarise."
        block = prompt[start + len(opening("posts")) : end]
        posts = [
            tuple(line.split(": ", 1))
            for line in block.strip().splitlines()
            if ": " in line
        ]
        return self.summarise([(author, body) for author, body in posts])

    def summarise(self, posts: list[tuple[str, str]]) -> str:
        if not posts:
            return "No posts to summarise."
        authors = sorted({author for author, _ in posts})
        words = Counter(
            word.strip(".,!?;:").lower()
            for _, body in posts
            for word in body.split()
            if len(word.strip(".,!?;:")) > 3
        )
        ranked = sorted(words.items(), key=lambda item: (-item[1], item[0]))
        top = ", ".join(word for word, _ in ranked[:SUMMARY_WORDS])
        return f"{len(posts)} posts by {len(authors)} authors" + (
            f"; frequent words: {top}." if top else "."
        )


model_client = StandInSummariser()


def _declare_post_policy() -> None:
    if not any(
        policy.key == ("view", Post._meta.label_lower)
        for policy in policies.registered()
    ):
        policies.declare("view", Post, [agents.TenantMember()])


def summarise_feed(
    ctx: agents.ToolContext, limit: int, question: str
) -> dict[str, Any]:
    """Summarise the newest ``limit`` posts the acting user may view.

    The posts go into the locked ``summarise_feed`` prompt template, which
    delimits, neutralises, scrubs and audit-logs them, before the stand-in
    client sees the rendered text.
    """
    visible = policies.allowed(ctx.user, "view", Post).select_related("author")
    lines = [
        f"member {post.author_id}: {' '.join(post.body.split())}"
        for post in visible[:limit]
    ]
    prompt = render_prompt(
        "summarise_feed",
        {
            "site_name": ctx.tenant.name,
            "member_name": f"member {ctx.user.pk}",
            "posts": "\n".join(lines),
            "question": question,
        },
        actor=ctx.user.pk,
        tenant=ctx.tenant.pk,
    )
    return {
        "posts": len(lines),
        "prompt": {"name": prompt.name, "version": prompt.version},
        "summary": model_client.complete(prompt.text),
    }


def register() -> None:
    _declare_post_policy()
    if agents.lookup("summarise_feed") is None:
        agents.register_tool(
            "summarise_feed",
            summarise_feed,
            description="Summarise the newest posts the user can see.",
            arguments={
                "limit": agents.Integer(minimum=1, maximum=50),
                "question": agents.Text(
                    max_length=200, required=False, default="What is new?"
                ),
            },
            side_effect=agents.READ,
            user_rate="20/m",
            tenant_rate="200/m",
            rules=[agents.TenantMember()],
        )
