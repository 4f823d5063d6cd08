"""A hasher that uses argon2i, which the system check must refuse."""

import argon2
from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2iHasher(Argon2PasswordHasher):
    def params(self) -> argon2.Parameters:
        params: argon2.Parameters = super().params()
        params.type = argon2.low_level.Type.I
        return params
