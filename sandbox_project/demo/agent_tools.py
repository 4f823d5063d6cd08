"""The sandbox's agent tool: summarise the posts the user can see.

The tool goes through the hardened_rbac agent gateway like any other: it is
registered with a policy, a schema, rates and a side-effect class, and it
reads posts through the ``view`` policy on ``Post`` in the current tenant.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from demo.models import Post
from hardened_rbac import agents, policies

SUMMARY_WORDS = 5


class StandInSummariser:
    """A stand-in for a language model client, for the sandbox and tests.

    It is deterministic and makes no network call: it counts posts and
    authors and names the most frequent longer words. A real site swaps in
    its model client, reached through ``hardened_privacy.egress``.
    """

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


def summarise_feed(ctx: agents.ToolContext, limit: int) -> dict[str, Any]:
    """Summarise the newest ``limit`` posts the acting user may view."""
    visible = policies.allowed(ctx.user, "view", Post).select_related("author")
    posts = [(post.author.get_username(), post.body) for post in visible[:limit]]
    return {"posts": len(posts), "summary": model_client.summarise(posts)}


def register() -> None:
    _declare_post_policy()
    if agents.lookup("summarise_feed") is None:
        agents.register_tool(
            "summarise_feed",
            summarise_feed,
            description="Summarise the newest posts the user can see.",
            arguments={"limit": agents.Integer(minimum=1, maximum=50)},
            side_effect=agents.READ,
            user_rate="20/m",
            tenant_rate="200/m",
            rules=[agents.TenantMember()],
        )
