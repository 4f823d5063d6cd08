from django.http import HttpRequest, JsonResponse
from django.urls import path, reverse

from hardened_rbac.tenancy import current_tenant
from tests.hardened_rbac.testapp.models import Project


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


urlpatterns = [
    path("whoami/", whoami, name="rbac-whoami"),
    path("projects/", projects, name="rbac-projects"),
]
