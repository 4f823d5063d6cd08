"""The people of Initech's demo identity provider."""

from django.conf import settings
from django.db import models


class IdpPerson(models.Model):
    """An account at the demo provider and the claims it asserts.

    The account signs in at ``/idp/`` only; the sandbox's own account for the
    same person is a separate row, provisioned over SCIM.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idp_person"
    )
    email = models.EmailField()
    name = models.CharField(max_length=150)
    groups = models.JSONField(default=list)

    class Meta:
        ordering = ["email"]
        verbose_name = "demo identity provider person"

    def __str__(self) -> str:
        return self.email
