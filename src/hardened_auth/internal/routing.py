"""Which view a request's path resolves to, before Django resolves it.

``RateLimitMiddleware`` counts an attempt in its ``__call__``, before the
middleware after it runs and before any of them parses the form, so it
resolves the path itself. Answers are kept per URL resolver, language and
path, so a flood of attempts at one path resolves it once; a long path is
resolved without being kept.
"""

from functools import lru_cache

from django.http import Http404, HttpRequest
from django.urls import URLResolver, get_resolver
from django.utils.translation import get_language

MAX_CACHED_PATH = 256


def view_name(request: HttpRequest) -> str | None:
    """The URL name of the view the request's path resolves to, if any."""
    resolver = get_resolver(getattr(request, "urlconf", None))
    path = request.path_info
    if len(path) > MAX_CACHED_PATH:
        return _resolve.__wrapped__(resolver, get_language(), path)
    return _resolve(resolver, get_language(), path)


@lru_cache(maxsize=1024)
def _resolve(resolver: URLResolver, language: str | None, path: str) -> str | None:
    """``language`` is part of the key: language prefixes depend on it."""
    try:
        return resolver.resolve(path).view_name
    except Http404:
        return None
