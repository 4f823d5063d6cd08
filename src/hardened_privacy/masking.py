"""Masking of personal and secret values in logs, reports, traces and prompts.

One scrubber serves every exit: :class:`MaskingFilter` for ``logging``,
:class:`MaskingExceptionReporterFilter` for Django's error reports, and
:func:`scrub` / :func:`scrub_text` for traces, analytics events and prompts
sent to a language model. Values are masked by key name (built-in names,
``HARDENED_PRIVACY_MASKED_NAMES`` and fields classified ``personal`` or
``secret``), by pattern (email addresses, phone numbers, Luhn-valid card
numbers, bearer tokens, API keys, JWTs, ``password=...`` assignments), and
every string is capped at ``HARDENED_PRIVACY_LOG_MAX_LENGTH`` characters.
"""

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

from hardened_privacy.conf import app_settings
from hardened_privacy.internal.scrubber import MASK, Scrubber

__all__ = [
    "MASK",
    "MaskingExceptionReporterFilter",
    "MaskingFilter",
    "scrub",
    "scrub_text",
]

_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__
) | {"message", "asctime", "taskName"}


def _classified_names() -> Iterable[str]:
    from hardened_privacy.classification import sensitive_field_names

    return sensitive_field_names()


_STRUCTURES = (Mapping, list, tuple, set, frozenset)


def get_scrubber() -> Scrubber:
    return Scrubber(
        extra_names=app_settings.MASKED_NAMES,
        max_length=app_settings.LOG_MAX_LENGTH,
        names_provider=_classified_names,
    )


def scrub(value: Any) -> Any:
    """Return ``value`` (text or nested data) with sensitive parts masked."""
    return get_scrubber().value(value)


def scrub_text(text: str) -> str:
    """Return ``text`` with recognised secrets masked and its length capped."""
    return get_scrubber().text(text)


def _mask_structures(
    record: logging.LogRecord, scrubber: Scrubber, names: frozenset[str]
) -> None:
    """Mask dicts and lists in ``msg`` and ``args`` by key before formatting.

    Formatting turns them into text, where a value is no longer next to the
    name that marks it sensitive. Scalars stay as they are, so ``%d`` and
    ``%.2f`` still format them; the formatted text is masked by pattern.
    """

    def masked(value: Any) -> Any:
        return scrubber.value(value, names) if isinstance(value, _STRUCTURES) else value

    if isinstance(record.msg, _STRUCTURES):
        record.msg = scrubber.value(record.msg, names)
    if isinstance(record.args, Mapping):
        record.args = {
            key: MASK if scrubber.is_sensitive_name(str(key), names) else masked(value)
            for key, value in record.args.items()
        }
    elif isinstance(record.args, tuple):
        record.args = tuple(masked(value) for value in record.args)


class MaskingFilter(logging.Filter):
    """Masks the message, its arguments, ``extra`` fields and tracebacks.

    The record is rewritten in place: the formatted message replaces
    ``msg`` and ``args``, and a traceback becomes masked ``exc_text``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        scrubber = get_scrubber()
        names = scrubber.sensitive_names()
        _mask_structures(record, scrubber, names)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = f"{record.msg!s} {record.args!r}"
        record.msg = scrubber.text(message)
        record.args = None
        for attribute, value in list(record.__dict__.items()):
            if attribute in _RECORD_ATTRIBUTES:
                continue
            if scrubber.is_sensitive_name(attribute, names):
                setattr(record, attribute, MASK)
            else:
                setattr(record, attribute, scrubber.value(value, names))
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = scrubber.text(text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = scrubber.text(record.exc_text)
        if record.stack_info:
            record.stack_info = scrubber.text(record.stack_info)
        return True


class MaskingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's error-report filter, also masking by the same scrubber.

    Set ``DEFAULT_EXCEPTION_REPORTER_FILTER`` to this class.
    """

    def is_active(self, request: Any) -> bool:
        return True

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        value = super().cleanse_setting(key, value)
        if isinstance(value, str) and value != self.cleansed_substitute:
            return scrub_text(value)
        return value

    def get_post_parameters(self, request: Any) -> Any:
        parameters = super().get_post_parameters(request)
        scrubber = get_scrubber()
        names = scrubber.sensitive_names()
        cleansed = parameters.copy()
        for key in list(cleansed):
            if scrubber.is_sensitive_name(str(key), names):
                cleansed[key] = self.cleansed_substitute
            else:
                cleansed[key] = scrubber.text(str(cleansed[key]))
        return cleansed

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        variables = super().get_traceback_frame_variables(request, tb_frame)
        scrubber = get_scrubber()
        names = scrubber.sensitive_names()
        return [
            (
                name,
                self.cleansed_substitute
                if scrubber.is_sensitive_name(str(name), names)
                else value,
            )
            for name, value in variables
        ]
