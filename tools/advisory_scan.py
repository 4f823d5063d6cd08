"""Scan the locked dependencies against an offline copy of the PyPA advisories.

The advisory database is a folder of OSV records in YAML, one folder per
package. Every ``name==version`` pin of the lock file is checked against the
records of its package; a match fails the scan unless the allowlist names the
advisory and the package with a reason.

    python tools/advisory_scan.py --lock requirements/lock.txt \\
        --advisories ../shared/advisories --allowlist .ci/advisory-allowlist.toml
"""

import argparse
import re
import sys
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    advisory: str
    aliases: tuple[str, ...]
    fixed: tuple[str, ...]


def read_lock(path: Path) -> dict[str, str]:
    """Return the ``name==version`` pins of a pip lock file, by canonical name."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def snapshot_date(advisories: Path) -> str:
    source = advisories / "SOURCE.md"
    if source.exists():
        match = _DATE.search(source.read_text())
        if match:
            return match.group(1)
    return "unknown"


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _in_range(version: Version, events: list[dict[str, str]]) -> bool:
    """Apply an OSV ECOSYSTEM range's events in version order."""
    ordered: list[tuple[Version, str]] = []
    for event in events:
        for kind, raw in event.items():
            parsed = Version("0") if raw == "0" else _version(str(raw))
            if parsed is not None and kind in {"introduced", "fixed", "last_affected"}:
                ordered.append((parsed, kind))
    ordered.sort(key=lambda item: item[0])

    affected = False
    for bound, kind in ordered:
        if kind == "introduced" and version >= bound:
            affected = True
        elif (kind == "fixed" and version >= bound) or (
            kind == "last_affected" and version > bound
        ):
            affected = False
    return affected


def _affects(record: dict[str, Any], name: str, version: Version) -> tuple[str, ...]:
    """Return the fixed versions when ``record`` affects the version, else ()."""
    for affected in record.get("affected") or []:
        package = affected.get("package") or {}
        if canonicalize_name(str(package.get("name", ""))) != name:
            continue
        fixed = tuple(
            str(event["fixed"])
            for rng in affected.get("ranges") or []
            if rng.get("type") == "ECOSYSTEM"
            for event in rng.get("events") or []
            if "fixed" in event
        )
        listed = {_version(str(v)) for v in affected.get("versions") or []}
        if version in listed:
            return fixed or ("none",)
        for rng in affected.get("ranges") or []:
            if rng.get("type") == "ECOSYSTEM" and _in_range(
                version, rng.get("events") or []
            ):
                return fixed or ("none",)
    return ()


def _package_dirs(advisories: Path) -> dict[str, Path]:
    vulns = advisories / "vulns"
    if not vulns.is_dir():
        raise FileNotFoundError(f"No advisory folder at {vulns}")
    return {canonicalize_name(d.name): d for d in vulns.iterdir() if d.is_dir()}


def scan(pins: dict[str, str], advisories: Path) -> Iterator[Finding]:
    folders = _package_dirs(advisories)
    for name, raw_version in sorted(pins.items()):
        version = _version(raw_version)
        folder = folders.get(name)
        if version is None or folder is None:
            continue
        for path in sorted(folder.glob("*.yaml")):
            record = yaml.safe_load(path.read_text()) or {}
            if record.get("withdrawn"):
                continue
            fixed = _affects(record, name, version)
            if fixed:
                yield Finding(
                    package=name,
                    version=raw_version,
                    advisory=str(record.get("id", path.stem)),
                    aliases=tuple(record.get("aliases") or ()),
                    fixed=fixed,
                )


def read_allowlist(path: Path | None) -> dict[tuple[str, str], str]:
    """Return ``(advisory id, package) -> reason``; every entry needs a reason."""
    if path is None or not path.exists():
        return {}
    entries = tomllib.loads(path.read_text()).get("allow", [])
    allowed: dict[tuple[str, str], str] = {}
    for entry in entries:
        reason = str(entry.get("reason", "")).strip()
        if not reason:
            raise ValueError(f"Allowlist entry {entry.get('id')!r} has no reason.")
        allowed[(str(entry["id"]), canonicalize_name(str(entry["package"])))] = reason
    return allowed


def report(
    findings: Iterable[Finding],
    allowed: dict[tuple[str, str], str],
    date: str,
    checked: int,
) -> int:
    """Print the result and return the exit status: 1 when anything is not allowed."""
    blocking = 0
    used: set[tuple[str, str]] = set()
    print(f"Advisory snapshot: PyPA advisory database as of {date}")
    for finding in findings:
        key = (finding.advisory, finding.package)
        aliases = ", ".join(finding.aliases) or "no aliases"
        line = (
            f"{finding.package}=={finding.version}: {finding.advisory} ({aliases}); "
            f"fixed in {', '.join(finding.fixed)}"
        )
        if key in allowed:
            used.add(key)
            print(f"  allowed  {line}; reason: {allowed[key]}")
        else:
            blocking += 1
            print(f"  VULNERABLE  {line}")
    for advisory, package in sorted(set(allowed) - used):
        print(f"  note: allowlist entry {advisory} for {package} matched nothing")
    print(
        f"Checked {checked} locked packages: {blocking} known "
        f"vulnerabilit{'y' if blocking == 1 else 'ies'} not allowed "
        f"(snapshot {date})."
    )
    return 1 if blocking else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lock", type=Path, required=True)
    parser.add_argument("--advisories", type=Path, required=True)
    parser.add_argument("--allowlist", type=Path)
    args = parser.parse_args(argv)

    pins = read_lock(args.lock)
    allowed = read_allowlist(args.allowlist)
    findings = list(scan(pins, args.advisories))
    return report(findings, allowed, snapshot_date(args.advisories), len(pins))


if __name__ == "__main__":
    sys.exit(main())
