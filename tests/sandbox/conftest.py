"""Each sandbox test starts with empty caches.

Earlier suites (the cross-tenant sweep among them) post to the sign-in page
many times; allauth's own per-address limit would otherwise still count them
when a sandbox test signs in.
"""

import pytest
from django.core.cache import caches


@pytest.fixture(autouse=True)
def empty_caches() -> None:
    for cache in caches.all():
        cache.clear()
