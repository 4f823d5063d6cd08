from django.db import models

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
