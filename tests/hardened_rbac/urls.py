from django.http import HttpRequest, JsonResponse
from django.urls import path, reverse

from hardened_rbac.decorators import policy_exempt, policy_required
from hardened_rbac.etags import versioned_etag
from hardened_rbac.tenancy import current_tenant
from tests.hardened_rbac.testapp.models import FeedPost, Project


def whoami(request: HttpRequest) -> JsonResponse:
    tenant = current_tenant()
    return JsonResponse(
        {
            "tenant": tenant.slug if tenant else None,
            "self": reverse("rbac-whoami"),
            "path": request.path,
        }
    )


def projects(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"projects": [p.name for p in Project.objects.all()]})


@policy_required("view", FeedPost)
def feed(request: HttpRequest) -> JsonResponse:
    posts = request.policy_queryset.order_by("pk")  # type: ignore[attr-defined]
    return JsonResponse({"posts": [p.body for p in posts]})


@policy_required("view", FeedPost, url_kwarg="post_id")
def feed_post(request: HttpRequest, post_id: str) -> JsonResponse:
    return JsonResponse({"body": request.policy_object.body})  # type: ignore[attr-defined]


@versioned_etag
@policy_required("view", FeedPost)
def feed_etag(request: HttpRequest) -> JsonResponse:
    posts = request.policy_queryset.order_by("pk")  # type: ignore[attr-defined]
    return JsonResponse({"posts": [p.body for p in posts]})


@policy_exempt(reason="health probe shows nothing private")
def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [
    path("feed/", feed, name="rbac-feed"),
    path("cached-feed/", feed_etag, name="rbac-feed-etag"),
    path("feed/<str:post_id>/", feed_post, name="rbac-feed-post"),
    path("health/", health, name="rbac-health"),
    path("whoami/", whoami, name="rbac-whoami"),
    path("projects/", projects, name="rbac-projects"),
]
