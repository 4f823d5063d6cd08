"""Classifications of the models that ship with the django-hardened apps and
with the libraries they build on (allauth, django-otp-webauthn, guardian).

A site that installs these apps gets its own models flagged by
``hardened_privacy.W002``, not these. ``HARDENED_PRIVACY_CLASSIFICATION`` and
``classification.register()`` still override any entry. Field names matter
beyond the model: every name classified personal or secret here is masked in
log records, so identifiers that audit records carry (``user``, ``tenant``,
``target``, ``ip``) stay internal.
"""

from __future__ import annotations

PERSONAL = "personal"
SECRET = "secret"
INTERNAL = "internal"


def _fields(
    internal: tuple[str, ...] = (),
    personal: tuple[str, ...] = (),
    secret: tuple[str, ...] = (),
) -> dict[str, str]:
    levels = dict.fromkeys(internal, INTERNAL)
    levels.update(dict.fromkeys(personal, PERSONAL))
    levels.update(dict.fromkeys(secret, SECRET))
    return levels


_DEVICE = (
    "user",
    "name",
    "confirmed",
    "throttling_failure_timestamp",
    "throttling_failure_count",
    "created_at",
    "last_used_at",
)

KNOWN: dict[str, dict[str, str]] = {
    # django-otp-webauthn: public keys and counters, no secret material.
    "django_otp_webauthn.webauthncredential": _fields(
        internal=(
            *_DEVICE[:3],
            "created_at",
            "last_used_at",
            "credential_type",
            "credential_id",
            "public_key",
            "transports",
            "sign_count",
            "backup_eligible",
            "backup_state",
            "aaguid",
            "credential_id_sha256",
            "discoverable",
        )
    ),
    "django_otp_webauthn.webauthnattestation": _fields(
        internal=("fmt", "data", "client_data_json", "credential")
    ),
    "django_otp_webauthn.webauthnuserhandle": _fields(internal=("handle_hex",)),
    # django-allauth.
    "account.emailaddress": _fields(
        internal=("user", "verified", "primary"), personal=("email",)
    ),
    "account.emailconfirmation": _fields(
        internal=("email_address", "created", "sent"), secret=("key",)
    ),
    "socialaccount.socialapp": _fields(
        internal=("provider", "provider_id", "name", "client_id", "settings"),
        secret=("secret", "key"),
    ),
    "socialaccount.socialaccount": _fields(
        internal=("user", "provider", "last_login", "date_joined"),
        personal=("uid", "extra_data"),
    ),
    "socialaccount.socialtoken": _fields(
        internal=("app", "account", "expires_at"), secret=("token", "token_secret")
    ),
    # django-guardian.
    "guardian.userobjectpermission": _fields(
        internal=("permission", "content_type", "object_pk", "user")
    ),
    "guardian.groupobjectpermission": _fields(
        internal=("permission", "content_type", "object_pk", "group")
    ),
    # hardened_auth.
    "hardened_auth.totpdevice": _fields(internal=(*_DEVICE, "digits", "last_t")),
    "hardened_auth.recoverycodedevice": _fields(internal=_DEVICE),
    "hardened_auth.recoverycode": _fields(
        internal=("device", "used_at"), secret=("code_hash",)
    ),
    "hardened_auth.usersession": _fields(
        internal=(
            "user",
            "created_at",
            "last_seen_at",
            "ip",
            "device_label",
            "rotate_pending",
        ),
        secret=("sid_hash", "sealed_store_key"),
    ),
    "hardened_auth.tokenfamily": _fields(
        internal=("user", "created_at", "revoked_at", "revoked_reason")
    ),
    "hardened_auth.refreshtoken": _fields(
        internal=("family", "created_at", "expires_at", "used_at"),
        secret=("token_hash",),
    ),
    "hardened_auth.accesstoken": _fields(
        internal=("family", "expires_at"), secret=("token_hash",)
    ),
    # hardened_rbac.
    "hardened_rbac.tenant": _fields(
        internal=("slug", "name", "is_active", "created_at")
    ),
    "hardened_rbac.membership": _fields(
        internal=("tenant", "user", "is_active", "created_at")
    ),
    "hardened_rbac.role": _fields(
        internal=("tenant", "name", "description", "created_at")
    ),
    "hardened_rbac.grant": _fields(
        internal=("membership", "role", "source", "expires_at", "created_at")
    ),
    "hardened_rbac.agenttoolapproval": _fields(
        internal=(
            "tenant",
            "requested_by",
            "tool",
            "side_effect",
            "arguments_sha256",
            "status",
            "decided_by",
            "decided_at",
            "expires_at",
            "used_at",
            "created_at",
        ),
        personal=("arguments",),
    ),
    "hardened_rbac.actionlinkuse": _fields(
        internal=("nonce", "action", "user_id", "target", "used_at")
    ),
    "hardened_rbac.ssogrouprole": _fields(
        internal=("tenant", "provider", "group", "role")
    ),
    "hardened_rbac.scimtoken": _fields(
        internal=("tenant", "name", "created_at", "last_used_at", "revoked_at"),
        secret=("token_hash",),
    ),
    "hardened_rbac.scimuser": _fields(
        internal=("tenant", "membership", "external_id", "created_at", "updated_at"),
        personal=("user_name",),
    ),
    "hardened_rbac.scimgroup": _fields(
        internal=("tenant", "role", "external_id", "created_at", "updated_at")
    ),
    # hardened_payments: amounts and provider ids; event payloads can carry a
    # customer's name and address.
    "hardened_payments.ledgeraccount": _fields(
        internal=(
            "tenant",
            "code",
            "name",
            "currency",
            "allow_negative",
            "balance",
            "created_at",
        )
    ),
    "hardened_payments.ledgertransfer": _fields(
        internal=(
            "tenant",
            "transfer_id",
            "description",
            "content_digest",
            "reverses",
            "created_at",
        )
    ),
    "hardened_payments.ledgerentry": _fields(
        internal=("transfer", "account", "amount", "currency")
    ),
    "hardened_payments.idempotencykey": _fields(
        internal=(
            "user",
            "key",
            "fingerprint",
            "state",
            "response_status",
            "response_content_type",
            "response_body",
            "response_location",
            "created_at",
            "expires_at",
        )
    ),
    "hardened_payments.payment": _fields(
        internal=(
            "tenant",
            "user",
            "provider_id",
            "amount",
            "currency",
            "amount_refunded",
            "status",
            "idempotency_key",
            "created_at",
            "updated_at",
        )
    ),
    "hardened_payments.refund": _fields(
        internal=(
            "payment",
            "provider_id",
            "amount",
            "status",
            "idempotency_key",
            "created_at",
        )
    ),
    "hardened_payments.webhookevent": _fields(
        internal=(
            "event_id",
            "type",
            "signature_digest",
            "status",
            "attempts",
            "last_error",
            "received_at",
            "next_attempt_at",
            "processed_at",
        ),
        personal=("payload",),
    ),
    "hardened_payments.payoutdestination": _fields(
        internal=("tenant", "user", "account", "updated_at")
    ),
    "hardened_payments.payout": _fields(
        internal=(
            "tenant",
            "seller",
            "amount",
            "currency",
            "destination",
            "provider_id",
            "transfer_id",
            "transfer_reversal_id",
            "status",
            "idempotency_key",
            "created_at",
            "updated_at",
        )
    ),
    "hardened_payments.checkoutsession": _fields(
        internal=(
            "tenant",
            "buyer",
            "seller",
            "reference",
            "provider_id",
            "url",
            "amount",
            "fee",
            "currency",
            "status",
            "idempotency_key",
            "payment",
            "created_at",
            "completed_at",
        )
    ),
}
