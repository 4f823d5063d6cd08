from django.contrib.auth import get_user_model
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from hardened_rbac.action_links import action_link, action_link_required
from hardened_rbac.decorators import policy_exempt, policy_required
from hardened_rbac.etags import versioned_etag
from hardened_rbac.friend_requests import limit_friend_request
from hardened_rbac.tenancy import current_tenant
from tests.hardened_rbac.testapp.models import FeedPost, FriendRequest, Project


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


@policy_exempt(reason="limited per sender and address")
def send_friend_request(request: HttpRequest, user_id: int) -> JsonResponse:
    limit_friend_request(request)
    recipient = get_object_or_404(get_user_model(), pk=user_id)
    friend_request = FriendRequest.objects.create(
        sender=request.user, recipient=recipient
    )
    link = action_link(
        recipient, "accept_friend_request", friend_request, reverse("rbac-accept")
    )
    return JsonResponse({"link": link})


@action_link_required("accept_friend_request", FriendRequest)
def accept_friend_request(request: HttpRequest) -> JsonResponse:
    friend_request = request.action_object  # type: ignore[attr-defined]
    friend_request.accepted = True
    friend_request.save()
    return JsonResponse({"accepted": friend_request.pk})


@action_link_required("accept_friend_request", FriendRequest)
def other_accept(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"accepted": True})


urlpatterns = [
    path("friends/<int:user_id>/request/", send_friend_request, name="rbac-befriend"),
    path("friends/accept/", accept_friend_request, name="rbac-accept"),
    path("friends/other-accept/", other_accept, name="rbac-other-accept"),
    path("feed/", feed, name="rbac-feed"),
    path("cached-feed/", feed_etag, name="rbac-feed-etag"),
    path("feed/<str:post_id>/", feed_post, name="rbac-feed-post"),
    path("health/", health, name="rbac-health"),
    path("whoami/", whoami, name="rbac-whoami"),
    path("projects/", projects, name="rbac-projects"),
]
