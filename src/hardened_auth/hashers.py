"""The argon2id password hasher whose cost comes from settings.

It keeps Django's ``argon2`` algorithm name, so hashes written by Django's own
``Argon2PasswordHasher`` are read by it and, when their parameters differ from
the configured ones, rewritten on the user's next successful login.
"""

import argon2
from django.contrib.auth.hashers import Argon2PasswordHasher

from hardened_auth.conf import app_settings


class HardenedArgon2PasswordHasher(Argon2PasswordHasher):
    """argon2id with ``HARDENED_AUTH_ARGON2_*`` memory, time and lanes."""

    def params(self) -> argon2.Parameters:
        return argon2.Parameters(
            type=argon2.low_level.Type.ID,
            version=argon2.low_level.ARGON2_VERSION,
            salt_len=argon2.DEFAULT_RANDOM_SALT_LENGTH,
            hash_len=argon2.DEFAULT_HASH_LENGTH,
            time_cost=app_settings.ARGON2_TIME_COST,
            memory_cost=app_settings.ARGON2_MEMORY_COST,
            parallelism=app_settings.ARGON2_PARALLELISM,
        )
