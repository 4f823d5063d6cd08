"""The review manifest: which content of each gated file a person reviewed.

The manifest is a JSON file kept in version control::

    {"version": 1, "files": {"src/app/views.py": {"sha256": "...",
     "reviewer": "Ada Lovelace", "reviewed_on": "2026-12-03",
     "category": "auth_gate"}}}

A file is reviewed while its content hash equals the recorded one. A new
file, a changed file and a deleted file all wait for a review.
"""

import datetime
import json
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from hardened_privacy.exceptions import ReviewManifestError
from hardened_privacy.internal.review_scan import Matcher, scan

FORMAT_VERSION = 1
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_REVIEWER = re.compile(r"^[^\x00-\x1f\x7f]{1,100}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Status = Literal["new", "changed", "removed", "reviewed"]


@dataclass(frozen=True)
class Entry:
    path: str
    category: str
    status: Status
    sha256: str | None
    recorded_sha256: str | None
    reviewer: str | None = None
    reviewed_on: str | None = None

    @property
    def pending(self) -> bool:
        return self.status != "reviewed"


def _valid_record(record: object) -> bool:
    return (
        isinstance(record, dict)
        and isinstance(record.get("sha256"), str)
        and _SHA256.match(record["sha256"]) is not None
        and isinstance(record.get("reviewer"), str)
        and _REVIEWER.match(record["reviewer"]) is not None
        and isinstance(record.get("reviewed_on"), str)
        and _DATE.match(record["reviewed_on"]) is not None
        and isinstance(record.get("category", ""), str)
    )


def load_manifest(path: Path) -> dict[str, dict[str, Any]]:
    """Recorded reviews by path; an absent manifest records none."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReviewManifestError(f"{path} cannot be read as JSON.") from exc
    files = data.get("files") if isinstance(data, dict) else None
    if (
        not isinstance(data, dict)
        or data.get("version") != FORMAT_VERSION
        or not isinstance(files, dict)
        or not all(_valid_record(r) for r in files.values())
    ):
        raise ReviewManifestError(f"{path} is not a valid review manifest.")
    return files


def save_manifest(path: Path, files: dict[str, dict[str, Any]]) -> None:
    """Write the manifest sorted and atomically."""
    document = {"version": FORMAT_VERSION, "files": dict(sorted(files.items()))}
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".review-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def compare(root: Path, manifest: Path, matcher: Matcher) -> list[Entry]:
    """Every gated file and every recorded file that is gone, with status."""
    recorded = load_manifest(manifest)
    current = scan(root, matcher)
    entries = []
    for path, (category, digest) in current.items():
        record = recorded.get(path)
        if record is None:
            status: Status = "new"
        elif record["sha256"] == digest:
            status = "reviewed"
        else:
            status = "changed"
        entries.append(
            Entry(
                path=path,
                category=category,
                status=status,
                sha256=digest,
                recorded_sha256=None if record is None else record["sha256"],
                reviewer=None if record is None else record["reviewer"],
                reviewed_on=None if record is None else record["reviewed_on"],
            )
        )
    for path, record in recorded.items():
        if path not in current and not (root / path).exists():
            entries.append(
                Entry(
                    path=path,
                    category=str(record.get("category", "")),
                    status="removed",
                    sha256=None,
                    recorded_sha256=record["sha256"],
                    reviewer=record["reviewer"],
                    reviewed_on=record["reviewed_on"],
                )
            )
    return sorted(entries, key=lambda e: e.path)


def record(
    root: Path,
    manifest: Path,
    matcher: Matcher,
    reviewer: str,
    paths: Iterable[str] | None = None,
    today: datetime.date | None = None,
) -> list[Entry]:
    """Record a review of ``paths`` (every pending file when ``None``)."""
    reviewer = reviewer.strip()
    if not _REVIEWER.match(reviewer):
        raise ReviewManifestError("The reviewer must be a name of 1 to 100 characters.")
    pending = {e.path: e for e in compare(root, manifest, matcher) if e.pending}
    chosen = list(pending) if paths is None else [_relative(root, p) for p in paths]
    unknown = [p for p in chosen if p not in pending]
    if unknown:
        raise ReviewManifestError(
            "Not awaiting review: " + ", ".join(sorted(unknown)) + "."
        )
    files = load_manifest(manifest)
    date = (today or datetime.datetime.now(datetime.UTC).date()).isoformat()
    for path in chosen:
        entry = pending[path]
        if entry.status == "removed":
            files.pop(path, None)
            continue
        files[path] = {
            "sha256": entry.sha256,
            "reviewer": reviewer,
            "reviewed_on": date,
            "category": entry.category,
        }
    save_manifest(manifest, files)
    return [pending[p] for p in chosen]


def _relative(root: Path, path: str) -> str:
    candidate = Path(path)
    if candidate.is_absolute():
        try:
            return candidate.relative_to(root).as_posix()
        except ValueError:
            return candidate.as_posix()
    return Path(os.path.normpath(candidate)).as_posix()
