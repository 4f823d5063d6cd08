"""The append-only, hash-chained audit log."""

from django.db import models

OUTCOMES = [("success", "success"), ("failure", "failure"), ("denied", "denied")]


class AuditRecord(models.Model):
    """One security-relevant event, chained to the one before it.

    Each tenant has its own chain (events without a tenant share the
    ``global`` chain). ``record_hash`` is an HMAC, under
    ``HARDENED_PRIVACY_AUDIT_KEY``, of ``previous_hash`` and the record's
    fields, so editing, removing or reordering a row breaks the chain.
    """

    chain = models.CharField(max_length=80)
    sequence = models.PositiveBigIntegerField()
    created_at = models.DateTimeField()
    event = models.CharField(max_length=120)
    outcome = models.CharField(max_length=16, blank=True)
    actor = models.CharField(max_length=64, blank=True)
    tenant = models.CharField(max_length=64, blank=True)
    target = models.CharField(max_length=255, blank=True)
    ip = models.CharField(max_length=45, blank=True)
    logger = models.CharField(max_length=120)
    level = models.CharField(max_length=10)
    data = models.JSONField(default=dict)
    previous_hash = models.CharField(max_length=64)
    record_hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["chain", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["chain", "sequence"], name="hardened_privacy_audit_chain_seq"
            )
        ]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.chain}#{self.sequence} {self.event}"


class ErasureRecord(models.Model):
    """A data subject's erasure, kept so it can be re-applied after a restore.

    Only the subject's primary key is stored. Each erasure is also appended
    to ``HARDENED_PRIVACY_ERASURE_LEDGER`` (a file outside the database) when
    that setting is set, so a database restored from an older backup can be
    erased again with ``hardened_privacy_reapply_erasures``.
    """

    subject = models.CharField(max_length=64)
    requested_by = models.CharField(max_length=64, blank=True)
    completed_at = models.DateTimeField()
    fields_erased = models.PositiveIntegerField(default=0)
    retained = models.JSONField(default=list)

    class Meta:
        ordering = ["-completed_at"]
        indexes = [models.Index(fields=["subject"])]

    def __str__(self) -> str:
        return f"erasure of {self.subject} at {self.completed_at:%Y-%m-%d}"
