"""The lock file: the SHA-256 of every recorded version of each template.

Each template directory holds ``prompts.lock.json``, mapping every template
name to ``{version: sha256}`` for each version ever recorded, so one name and
version always identify one text.
"""

import json
from pathlib import Path

from hardened_privacy.exceptions import PromptTemplateError
from hardened_privacy.prompts.template import PromptTemplate

LOCK_FILE = "prompts.lock.json"


def read_lock(directory: Path) -> dict[str, dict[str, str]]:
    path = directory / LOCK_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PromptTemplateError(f"{path}: the lock file cannot be read.") from exc
    if not isinstance(data, dict) or not all(
        isinstance(versions, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in versions.items())
        for versions in data.values()
    ):
        raise PromptTemplateError(f"{path}: the lock file is malformed.")
    return data


def write_lock(directory: Path, lock: dict[str, dict[str, str]]) -> None:
    ordered = {
        name: dict(sorted(lock[name].items(), key=lambda item: int(item[0])))
        for name in sorted(lock)
    }
    text = json.dumps(ordered, indent=2, sort_keys=False) + "\n"
    (directory / LOCK_FILE).write_text(text, encoding="utf-8")


def verify_locked(template: PromptTemplate, directory: Path) -> None:
    """Refuse a template whose version is not recorded with this content."""
    recorded = read_lock(directory).get(template.name, {}).get(str(template.version))
    if recorded is None:
        raise PromptTemplateError(
            f"{template.name} version {template.version} is not in {LOCK_FILE}."
        )
    if recorded != template.sha256:
        raise PromptTemplateError(
            f"{template.name} changed without a new version; raise its version."
        )
