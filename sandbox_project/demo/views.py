from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from demo.models import Post
from hardened_rbac import agents
from hardened_rbac.decorators import policy_exempt
from hardened_rbac.exceptions import AgentToolRefused
from hardened_rbac.models import Membership
from hardened_rbac.routes import public_route
from hardened_rbac.tenancy import use_tenant


@public_route(reason="A visitor sees only the posts of tenants they belong to.")
def home(request: HttpRequest) -> HttpResponse:
    """List the visitor's tenants and their latest posts."""
    memberships = []
    if request.user.is_authenticated:
        memberships = list(
            Membership.objects.active()
            .filter(user=request.user)
            .select_related("tenant")
        )
    posts: list[Post] = []
    for membership in memberships:
        with use_tenant(membership.tenant):
            posts += Post.objects.select_related("tenant", "author")[:20]
    posts.sort(key=lambda post: (post.created_at, post.pk), reverse=True)
    posts = posts[:20]
    return render(
        request, "demo/home.html", {"memberships": memberships, "posts": posts}
    )


@login_required
@policy_exempt(reason="The agent gateway applies the tool's own policy.")
def feed_summary(request: HttpRequest) -> HttpResponse:
    """Run the "summarise my feed" agent tool through the gateway."""
    try:
        limit = int(request.GET.get("limit", "20"))
    except ValueError:
        limit = 0
    try:
        arguments: dict[str, object] = {"limit": limit}
        if "question" in request.GET:
            arguments["question"] = request.GET["question"]
        result = agents.call(request.user, "summarise_feed", arguments)
    except AgentToolRefused as exc:
        return JsonResponse({"error": str(exc), "reason": exc.reason}, status=403)
    return JsonResponse(result)
