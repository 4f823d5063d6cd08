"""ETags that change when the viewer's access may have changed.

``@versioned_etag`` hashes the response body together with the user, the
tenant and the decision-cache versions of the site, the tenant and the user.
A client's cached copy therefore stops matching as soon as a role,
membership, grant, group or scoped row changes, even when the body alone
would look the same.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponseBase, HttpResponseNotModified
from django.utils.cache import patch_cache_control, patch_vary_headers

from hardened_rbac.internal.context import current_tenant
from hardened_rbac.internal.decisions import versions

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def access_version(request: HttpRequest) -> str:
    """One token for the site, tenant and user versions of this request."""
    tenant = current_tenant()
    user = getattr(request, "user", None)
    user_id = user.pk if user is not None and user.is_authenticated else None
    tenant_id = tenant.pk if tenant is not None else None
    parts = (*versions(tenant_id, user_id), str(user_id), str(tenant_id))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def versioned_etag(view: View) -> View:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        if response.status_code != 200 or response.streaming:
            return response
        digest = hashlib.sha256(access_version(request).encode())
        digest.update(response.content)  # type: ignore[attr-defined]
        etag = f'"{digest.hexdigest()[:40]}"'
        patch_cache_control(response, private=True, no_cache=True)
        patch_vary_headers(response, ["Cookie"])
        if request.method in ("GET", "HEAD"):
            offered = request.headers.get("If-None-Match", "")
            if etag in [tag.strip() for tag in offered.split(",")]:
                not_modified = HttpResponseNotModified()
                not_modified["ETag"] = etag
                return not_modified
        response["ETag"] = etag
        return response

    return wrapper  # type: ignore[return-value]
