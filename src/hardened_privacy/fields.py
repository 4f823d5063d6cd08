"""Model fields that store envelope-encrypted values.

Every field keeps its Python type and validation (an email stays an email)
but stores ``hp1$<key id>$<payload>`` in a text column. Values are bound to
their table and column. Reading a value that no configured key opens raises
:class:`~hardened_privacy.exceptions.DecryptionError`; nothing is returned
in its place. Encrypted columns answer only ``isnull`` lookups, and ``exact``
and ``in`` when the model declares a :class:`BlindIndexField` for them; any
other lookup is Django's "Unsupported lookup" ``FieldError``.
"""

from __future__ import annotations

import datetime
import decimal
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from django.core.exceptions import FieldError, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Col
from django.db.models.lookups import Exact, In, Lookup, StartsWith
from django.utils.functional import cached_property

from hardened_privacy.exceptions import DecryptionError
from hardened_privacy.internal import blind_index, legacy
from hardened_privacy.internal.envelope import PREFIX, get_cipher

if TYPE_CHECKING:
    _CharField = models.CharField[Any, Any]
    _DateField = models.DateField[Any, Any]
    _DecimalField = models.DecimalField[Any, Any]
    _EmailField = models.EmailField[Any, Any]
    _IntegerField = models.IntegerField[Any, Any]
    _TextField = models.TextField[Any, Any]
else:
    _CharField = models.CharField
    _DateField = models.DateField
    _DecimalField = models.DecimalField
    _EmailField = models.EmailField
    _IntegerField = models.IntegerField
    _TextField = models.TextField

__all__ = [
    "BlindIndexField",
    "EncryptedDateField",
    "EncryptedDecimalField",
    "EncryptedEmailField",
    "EncryptedIntegerField",
    "EncryptedJSONField",
    "EncryptedTextField",
]

INTEGER_RANGE = (-(2**63), 2**63 - 1)


class CiphertextExact(Exact):
    """``field__ciphertext=<stored text>``: compares the stored value as is."""

    lookup_name = "ciphertext"
    prepare_rhs = False

    def get_db_prep_lookup(self, value: Any, connection: Any) -> Any:
        return ("%s", [value])

    def get_rhs_op(self, connection: Any, rhs: str) -> str:
        return str(connection.operators["exact"] % rhs)


class CiphertextStartsWith(StartsWith):
    """``field__ciphertext_startswith=<prefix>``: e.g. values under one key."""

    lookup_name = "ciphertext_startswith"
    prepare_rhs = False

    def get_db_prep_lookup(self, value: Any, connection: Any) -> Any:
        return ("%s", [value])

    def get_rhs_op(self, connection: Any, rhs: str) -> str:
        return str(connection.operators["startswith"] % rhs)


_RAW_LOOKUPS: dict[str, type[Lookup[Any]]] = {
    "ciphertext": CiphertextExact,
    "ciphertext_startswith": CiphertextStartsWith,
}


class EncryptedFieldMixin:
    """Encryption on top of a concrete Django field class.

    ``python_type`` names the type whose values the field's ``to_python``
    returns unchanged, so saving a value of exactly that type skips the
    conversion; ``None`` converts every value.
    """

    python_type: type[Any] | None = None

    def get_internal_type(self) -> str:
        return "TextField"

    def contribute_to_class(
        self, cls: type[models.Model], name: str, private_only: bool = False
    ) -> None:
        super().contribute_to_class(cls, name, private_only=private_only)  # type: ignore[misc]
        self.__dict__.pop("_hardened_context", None)

    def encryption_context(self) -> bytes:
        field: Any = self
        context = field.__dict__.get("_hardened_context")
        if context is None:
            context = f"{field.model._meta.db_table}.{field.column}".encode()
            field.__dict__["_hardened_context"] = context
        return context  # type: ignore[no-any-return]

    def to_plaintext(self, value: Any) -> bytes:
        return str(value).encode()

    def from_plaintext(self, data: bytes) -> Any:
        raise NotImplementedError

    def encrypt_value(self, value: Any) -> str:
        """The stored text for ``value``, a plain value other than None."""
        field: Any = self
        return field.get_db_prep_save(value, None)  # type: ignore[no-any-return]

    def decrypt_value(self, stored: Any) -> Any:
        """The Python value for stored text, or DecryptionError."""
        field: Any = self
        if stored is None:
            return self._decrypt_legacy(stored)
        return field.from_db_value(stored, None, None)

    def _decrypt_legacy(self, stored: Any) -> Any:
        field: Any = self
        if legacy.configured() and legacy.as_token(stored) is not None:
            try:
                return field.to_python(legacy.decrypt(stored))
            except ValidationError as exc:
                raise DecryptionError(
                    "A legacy value does not have the field's type."
                ) from exc
        raise DecryptionError("The value is not a hardened_privacy ciphertext.")

    def from_db_value(
        self, value: Any, expression: Any, connection: BaseDatabaseWrapper | None
    ) -> Any:
        if value is None:
            return None
        field: Any = self
        if not (isinstance(value, str) and value.startswith(PREFIX)):
            return self._decrypt_legacy(value)
        context = field.__dict__.get("_hardened_context") or self.encryption_context()
        data = get_cipher().decrypt(value, context)
        try:
            return self.from_plaintext(data)
        except (ValueError, TypeError, decimal.InvalidOperation) as exc:
            raise DecryptionError(
                "A decrypted value does not have the field's type."
            ) from exc

    def get_db_prep_value(
        self, value: Any, connection: BaseDatabaseWrapper, prepared: bool = False
    ) -> str | None:
        if value is None:
            return None
        return self.encrypt_value(value)

    def get_db_prep_save(
        self, value: Any, connection: BaseDatabaseWrapper | None
    ) -> Any:
        if value is None or hasattr(value, "as_sql"):
            return value
        field: Any = self
        if type(value) is not self.python_type:
            value = field.to_python(value)
        context = field.__dict__.get("_hardened_context") or self.encryption_context()
        return get_cipher().encrypt(self.to_plaintext(value), context)

    def blind_index_field(self) -> BlindIndexField | None:
        field: Any = self
        for other in field.model._meta.concrete_fields:
            if isinstance(other, BlindIndexField) and other.source == field.name:
                return other
        return None

    def get_lookup(self, lookup_name: str) -> type[Lookup[Any]] | None:
        if lookup_name in _RAW_LOOKUPS:
            return _RAW_LOOKUPS[lookup_name]
        if lookup_name == "isnull":
            return models.Field.get_lookup(self, lookup_name)  # type: ignore[arg-type]
        index = self.blind_index_field()
        if index is not None and lookup_name in {"exact", "in"}:
            return index.lookup_for(lookup_name)
        return None

    def get_transform(self, lookup_name: str) -> Any:
        return None


class EncryptedTextField(EncryptedFieldMixin, _TextField):
    """Text, encrypted."""

    python_type = str

    def to_plaintext(self, value: str) -> bytes:
        return value.encode()

    def from_plaintext(self, data: bytes) -> str:
        return data.decode()


class EncryptedEmailField(EncryptedFieldMixin, _EmailField):
    """An email address, validated as one, encrypted; blind index folds case."""

    blind_index_normalizer = staticmethod(str.casefold)
    python_type = str

    def to_plaintext(self, value: str) -> bytes:
        return value.encode()

    def from_plaintext(self, data: bytes) -> str:
        return data.decode()


class EncryptedJSONField(EncryptedFieldMixin, models.JSONField):
    """A JSON document, encrypted; SQL NULL stands for Python ``None``."""

    def to_plaintext(self, value: Any) -> bytes:
        return json.dumps(value, cls=self.encoder, separators=(",", ":")).encode()

    def from_plaintext(self, data: bytes) -> Any:
        return json.loads(data, cls=self.decoder)


class EncryptedDateField(EncryptedFieldMixin, _DateField):  # type: ignore[misc]
    """A date, encrypted as its ISO 8601 form."""

    python_type = datetime.date

    def to_plaintext(self, value: datetime.date) -> bytes:
        return value.isoformat().encode()

    def from_plaintext(self, data: bytes) -> datetime.date:
        return datetime.date.fromisoformat(data.decode())


class EncryptedIntegerField(EncryptedFieldMixin, _IntegerField):
    """An integer, encrypted; any 64-bit value, whatever the database."""

    python_type = int

    @cached_property
    def validators(self) -> list[Callable[[Any], None]]:
        # The column holds text, so the database has no integer range to
        # offer; the range is the same 64 bits on every backend instead.
        declared = list(super(models.IntegerField, self).validators)
        return [
            *declared,
            MinValueValidator(INTEGER_RANGE[0]),
            MaxValueValidator(INTEGER_RANGE[1]),
        ]

    def from_plaintext(self, data: bytes) -> int:
        return int(data.decode())


class EncryptedDecimalField(EncryptedFieldMixin, _DecimalField):
    """A decimal, encrypted as its exact string form."""

    def to_plaintext(self, value: decimal.Decimal) -> bytes:
        return format(value, "f").encode()

    def from_plaintext(self, data: bytes) -> decimal.Decimal:
        return decimal.Decimal(data.decode())


class _DigestParts(NamedTuple):
    source: models.Field[Any, Any]
    python_type: type[Any] | None
    normalizer: Callable[[str], str] | None
    context: str


class BlindIndexField(_CharField):
    """An indexed HMAC of another (encrypted) field, kept in step on save.

    ``source`` names the encrypted field. The digest uses
    ``HARDENED_PRIVACY_BLIND_INDEX_KEY``, a key of its own, so the index
    reveals only which rows share a value. ``QuerySet.update()`` and
    ``bulk_update()`` bypass ``save()``: recompute the index yourself there.
    """

    def __init__(
        self,
        source: str,
        *args: Any,
        normalizer: Callable[[str], str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.source = source
        self.normalizer = normalizer
        kwargs["max_length"] = blind_index.DIGEST_LENGTH
        kwargs.setdefault("db_index", True)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("null", True)
        super().__init__(*args, **kwargs)
        self._lookups: dict[str, type[Lookup[Any]]] = {}

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("max_length", None)
        return name, path, [self.source, *args], kwargs

    def contribute_to_class(
        self, cls: type[models.Model], name: str, private_only: bool = False
    ) -> None:
        super().contribute_to_class(cls, name, private_only=private_only)
        self.__dict__.pop("_hardened_digest", None)

    def _digest_parts(self) -> _DigestParts:
        """The source field, its pass-through type, the normalizer, the context.

        Worked out on first use, once the model has all its fields, and
        kept until the field is added to a model again.
        """
        parts = self.__dict__.get("_hardened_digest")
        if parts is None:
            source: Any = self.model._meta.get_field(self.source)
            parts = _DigestParts(
                source,
                getattr(source, "python_type", None),
                self.normalizer or getattr(source, "blind_index_normalizer", None),
                f"{self.model._meta.db_table}.{source.column}",
            )
            self.__dict__["_hardened_digest"] = parts
        return parts

    def source_field(self) -> models.Field[Any, Any]:
        return self._digest_parts().source

    def digest_for(self, value: Any) -> str | None:
        if value is None:
            return None
        parts = self.__dict__.get("_hardened_digest") or self._digest_parts()
        source, python_type, normalizer, context = parts
        if hasattr(value, "resolve_expression"):
            raise FieldError(
                f"{self.model.__name__}.{source.name} can only be compared with "
                "plain values."
            )
        text = str(value if type(value) is python_type else source.to_python(value))
        if normalizer is not None:
            text = normalizer(text)
        return blind_index.digest(context, text)

    def pre_save(self, model_instance: models.Model, add: bool) -> str | None:
        parts = self.__dict__.get("_hardened_digest") or self._digest_parts()
        value = self.digest_for(getattr(model_instance, parts.source.attname))
        setattr(model_instance, self.attname, value)
        return value

    def get_db_prep_save(self, value: Any, connection: BaseDatabaseWrapper) -> Any:
        if value is None or type(value) is str:
            return value
        return super().get_db_prep_save(value, connection)

    def lookup_for(self, lookup_name: str) -> type[Lookup[Any]]:
        if lookup_name not in self._lookups:
            self._lookups[lookup_name] = self._build_lookup(lookup_name)
        return self._lookups[lookup_name]

    def _build_lookup(self, lookup_name: str) -> type[Lookup[Any]]:
        index = self

        def redirect(lhs: Any) -> Col:
            if not isinstance(lhs, Col):
                raise FieldError("Blind index lookups need a plain column.")
            return Col(lhs.alias, index, output_field=index)

        if lookup_name == "exact":

            class BlindIndexExact(Exact):
                def __init__(self, lhs: Any, rhs: Any) -> None:
                    super().__init__(redirect(lhs), index.digest_for(rhs))

            return BlindIndexExact

        class BlindIndexIn(In):
            def __init__(self, lhs: Any, rhs: Any) -> None:
                if hasattr(rhs, "resolve_expression"):
                    raise FieldError("Blind index 'in' lookups need plain values.")
                digests = [index.digest_for(v) for v in rhs if v is not None]
                super().__init__(redirect(lhs), digests)

        return BlindIndexIn
