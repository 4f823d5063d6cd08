"""The review gate for generated code.

Migrations, auth gates (views, decorators, policies, middleware) and payment
handlers must each be looked at by a person whenever their content changes.
Files are found by path (``HARDENED_PRIVACY_REVIEW_PATTERNS``) and, for
Python modules named otherwise, by content markers such as ``@login_required``
or ``stripe.Webhook`` (``HARDENED_PRIVACY_REVIEW_MARKERS``).
The review manifest (``HARDENED_PRIVACY_REVIEW_MANIFEST``) records, per file,
the SHA-256 of the content that was reviewed, who reviewed it and when.
``manage.py hardened_privacy_review`` lists what changed since and fails
until each change is recorded; see ``docs/hardened_privacy_ai.md``.
"""

import datetime
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

from hardened_privacy.conf import app_settings
from hardened_privacy.internal.review_manifest import Entry, compare, record
from hardened_privacy.internal.review_scan import (
    DEFAULT_EXCLUDE,
    DEFAULT_MARKERS,
    DEFAULT_PATTERNS,
    Matcher,
)

__all__ = [
    "DEFAULT_EXCLUDE",
    "DEFAULT_MARKERS",
    "DEFAULT_PATTERNS",
    "Entry",
    "manifest_path",
    "record_review",
    "review_matcher",
    "review_status",
]

logger = logging.getLogger(__name__)


def review_matcher(
    patterns: Mapping[str, Iterable[str]] | None = None,
    exclude: Iterable[str] | None = None,
    markers: Mapping[str, Iterable[str]] | None = None,
) -> Matcher:
    """Matching rules from the arguments, else the settings, else defaults."""
    if patterns is None:
        patterns = app_settings.REVIEW_PATTERNS or DEFAULT_PATTERNS
    if exclude is None:
        configured = app_settings.REVIEW_EXCLUDE
        exclude = DEFAULT_EXCLUDE if configured is None else configured
    if markers is None:
        configured_markers = app_settings.REVIEW_MARKERS
        markers = DEFAULT_MARKERS if configured_markers is None else configured_markers
    return Matcher.build(patterns, exclude, markers)


def manifest_path(root: Path, manifest: str | Path | None = None) -> Path:
    path = Path(manifest if manifest is not None else app_settings.REVIEW_MANIFEST)
    return path if path.is_absolute() else root / path


def review_status(
    root: str | Path = ".",
    manifest: str | Path | None = None,
    matcher: Matcher | None = None,
) -> list[Entry]:
    """Every gated file under ``root`` with its review status."""
    base = Path(root).resolve()
    return compare(base, manifest_path(base, manifest), matcher or review_matcher())


def record_review(
    reviewer: str,
    paths: Iterable[str] | None = None,
    root: str | Path = ".",
    manifest: str | Path | None = None,
    matcher: Matcher | None = None,
    today: datetime.date | None = None,
) -> list[Entry]:
    """Record a review of ``paths`` (every pending file when ``None``)."""
    base = Path(root).resolve()
    recorded = record(
        base,
        manifest_path(base, manifest),
        matcher or review_matcher(),
        reviewer,
        paths,
        today,
    )
    logger.info("Recorded the review of %d gated file(s).", len(recorded))
    return recorded
