from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from demo.models import Post
from hardened_rbac.models import Membership


def home(request: HttpRequest) -> HttpResponse:
    """List the visitor's tenants and their latest posts."""
    memberships = []
    if request.user.is_authenticated:
        memberships = list(
            Membership.objects.active()
            .filter(user=request.user)
            .select_related("tenant")
        )
    tenant_ids = [m.tenant_id for m in memberships]
    posts = Post.objects.filter(tenant_id__in=tenant_ids).select_related(
        "tenant", "author"
    )[:20]
    return render(
        request, "demo/home.html", {"memberships": memberships, "posts": posts}
    )
