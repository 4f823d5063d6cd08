from django.conf import settings
from django.db import models
from django.utils import timezone

from hardened_privacy.fields import (
    BlindIndexField,
    EncryptedDateField,
    EncryptedDecimalField,
    EncryptedEmailField,
    EncryptedIntegerField,
    EncryptedJSONField,
    EncryptedTextField,
)


class Patient(models.Model):
    name = models.CharField(max_length=100)
    note = EncryptedTextField(null=True, blank=True)
    email = EncryptedEmailField(null=True, blank=True)
    email_index = BlindIndexField("email")
    profile = EncryptedJSONField(null=True, blank=True)
    born = EncryptedDateField(null=True, blank=True)
    visits = EncryptedIntegerField(null=True, blank=True)
    balance = EncryptedDecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True
    )
    secret = EncryptedTextField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class PlainPatient(models.Model):
    name = models.CharField(max_length=100)
    note = models.TextField(blank=True)
    email = models.EmailField(blank=True)
    born = models.DateField(null=True, blank=True)
    visits = models.IntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class Visit(models.Model):
    """A user's own record: personal fields, erased with the user."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    created = models.DateTimeField(default=timezone.now)
    reason = EncryptedTextField(null=True, blank=True)
    phone = models.CharField(max_length=30, blank=True)
    contact = EncryptedEmailField(null=True, blank=True)
    contact_index = BlindIndexField("contact")
    kind = models.CharField(max_length=20, default="checkup")

    def __str__(self) -> str:
        return f"visit {self.pk}"


class Invoice(models.Model):
    """A financial record the law requires to keep after erasure."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created = models.DateTimeField(default=timezone.now)
    billing_name = models.CharField(max_length=100)
    amount = models.IntegerField()

    def __str__(self) -> str:
        return f"invoice {self.pk}"


class SlimPatient(models.Model):
    """PlainPatient's fields, encrypted: the benchmark's like-for-like model."""

    name = models.CharField(max_length=100)
    note = EncryptedTextField(blank=True)
    email = EncryptedEmailField(blank=True)
    email_index = BlindIndexField("email")
    born = EncryptedDateField(null=True, blank=True)
    visits = EncryptedIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class StoredCiphertextPatient(models.Model):
    """SlimPatient's columns as plain text: the benchmark stores ciphertexts
    made beforehand in them, to time the rows' size without the cipher."""

    name = models.CharField(max_length=100)
    note = models.TextField()
    email = models.TextField()
    email_index = models.CharField(max_length=64)
    born = models.TextField()
    visits = models.TextField()

    def __str__(self) -> str:
        return self.name


class Reminder(models.Model):
    """Text that is encrypted and never null, so "" is its anonymous value."""

    created = models.DateTimeField(default=timezone.now)
    text = EncryptedTextField(blank=True)

    def __str__(self) -> str:
        return f"reminder {self.pk}"
