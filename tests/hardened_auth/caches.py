"""A cache backend whose server is never reachable."""

from typing import Any

from django.core.cache.backends.base import BaseCache


class UnreachableCache(BaseCache):
    """Every operation fails the way a client does when its server is down."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionRefusedError("cache server unreachable")

    add = get = set = touch = delete = incr = clear = has_key = _fail
