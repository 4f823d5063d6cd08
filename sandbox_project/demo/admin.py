from django.contrib import admin

from demo.models import Post
from hardened_rbac.admin import TenantScopedModelAdmin


@admin.register(Post)
class PostAdmin(TenantScopedModelAdmin):
    list_display = ["tenant", "author", "created_at"]
    search_fields = ["body"]
