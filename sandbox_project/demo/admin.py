from django.contrib import admin

from demo.models import Post


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ["tenant", "author", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["body"]
