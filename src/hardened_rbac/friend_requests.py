"""Limit friend requests per sender and per client address.

Call ``limit_friend_request(request)`` in the view that sends one, before
creating it. The limits are ``HARDENED_RBAC_FRIEND_REQUEST_LIMITS`` (default
20 an hour per sender, 50 an hour per address), counted in the cache
``HARDENED_RBAC_FRIEND_REQUEST_CACHE``; the address comes from
``hardened_auth.client_ip.get_client_ip``, so a forged ``X-Forwarded-For``
does not change it. Over a limit raises ``FriendRequestLimited``; a cache that
cannot count raises ``FriendRequestLimiterUnavailable``. Both are
``PermissionDenied``: nothing is sent.
"""

from hardened_rbac.internal.friend_limits import count_friend_request

limit_friend_request = count_friend_request

__all__ = ["limit_friend_request"]
