"""Cost of the guards around language-model calls.

    .venv/bin/python benchmarks/privacy_ai_guards.py

Measures, in the same run:

* one GET through the egress guard (allowlist, resolution through an
  injected resolver, address check, pinned connection, capped read) against
  the same GET with plain ``http.client``, both to a local server on
  127.0.0.1 and both opening a new connection;
* rendering a locked prompt template with a 10 KB user value (lock check,
  neutralising, delimiting, scrubbing, audit record formatting) against
  ``str.replace`` filling the same text;
* the review gate's scan and hash of this repository against a bare
  ``os.walk`` over the same tree.

Audit records go to a handler that drops them, so the figures leave out the
database write that a configured ``AuditLogHandler`` adds. A model call
takes hundreds of milliseconds or more, hence the render target of 20 ms.
"""

import http.client
import logging
import os
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "sandbox_project"), str(ROOT / "src")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from benchmarks.harness import Report, median_seconds  # noqa: E402
from hardened_privacy.egress import EgressClient  # noqa: E402
from hardened_privacy.prompts import lint_prompts, render_prompt  # noqa: E402
from hardened_privacy.review import review_matcher, review_status  # noqa: E402
from tests.hardened_privacy.egress_servers import serve  # noqa: E402

TEMPLATE = """---
name: summarise_feed
version: 1
user: feed_text
trusted: site_name
---
You are the assistant of {{ site_name }}. Summarise the posts below.
{{ user:feed_text }}
"""


def quiet_audit() -> None:
    audit = logging.getLogger("hardened_privacy.audit")
    audit.handlers = [logging.NullHandler()]
    audit.propagate = False
    logging.getLogger("hardened_privacy").setLevel(logging.WARNING)


def bench_egress(report: Report) -> None:
    with serve() as server:
        port = server.server_address[1]
        client = EgressClient(
            allowed_hosts=[f"api.test:{port}"],
            allowed_schemes=["http"],
            resolver=lambda host, port: ["127.0.0.1"],
            permitted_networks=["127.0.0.1/32"],
        )

        def guarded() -> None:
            client.get(f"http://api.test:{port}/ok")

        def plain() -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/ok", headers={"Host": f"api.test:{port}"})
            connection.getresponse().read()
            connection.close()

        guarded_s = median_seconds(guarded, number=200)
        plain_s = median_seconds(plain, number=200)
    report.add(
        "egress GET, loopback",
        guarded_s * 1e3,
        "ms",
        baseline="http.client",
        baseline_value=plain_s * 1e3,
        target="<= 1.5x",
        met=guarded_s <= 1.5 * plain_s,
    )


def bench_render(report: Report) -> None:
    value = ("A post about the weather, with <b>markup</b> and «quotes». " * 170)[
        :10_000
    ]
    with tempfile.TemporaryDirectory() as directory:
        Path(directory, "summarise_feed.prompt").write_text(TEMPLATE)
        lint_prompts([directory], update_lock=True)

        def guarded() -> None:
            render_prompt(
                "summarise_feed",
                {"site_name": "Example", "feed_text": value},
                dirs=[directory],
            )

        def plain() -> None:
            TEMPLATE.replace("{{ site_name }}", "Example").replace(
                "{{ user:feed_text }}", value
            )

        guarded_s = median_seconds(guarded, number=200)
        plain_s = median_seconds(plain, number=2000)
    report.add(
        "render 10 KB prompt",
        guarded_s * 1e3,
        "ms",
        baseline="str.replace",
        baseline_value=plain_s * 1e3,
        target="< 20 ms",
        met=guarded_s < 0.020,
    )


def bench_review(report: Report) -> None:
    matcher = review_matcher()

    def guarded() -> None:
        review_status(
            ROOT, manifest=Path(tempfile.gettempdir()) / "none.json", matcher=matcher
        )

    def plain() -> None:
        for _ in os.walk(ROOT):
            pass

    guarded_s = median_seconds(guarded, number=3)
    plain_s = median_seconds(plain, number=3)
    report.add(
        "review scan of this repository",
        guarded_s * 1e3,
        "ms",
        baseline="os.walk, no pruning",
        baseline_value=plain_s * 1e3,
        target="< 2 s",
        met=guarded_s < 2,
    )


def main() -> None:
    quiet_audit()
    report = Report("privacy_ai_guards")
    bench_egress(report)
    bench_render(report)
    bench_review(report)
    report.emit()


if __name__ == "__main__":
    threading.excepthook = lambda args: None
    main()
