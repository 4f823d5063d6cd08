from django.urls import path

from social import views

app_name = "social"

urlpatterns = [
    path("", views.home, name="home"),
    path("feed/", views.feed, name="feed"),
    path("posts/<int:pk>/", views.post_detail, name="post"),
    path("posts/<int:pk>/delete/", views.post_delete, name="post_delete"),
    path("members/", views.member_list, name="members"),
    path("members/<int:user_id>/follow/", views.follow, name="follow"),
    path("groups/", views.group_list, name="groups"),
    path("groups/<int:pk>/", views.group_detail, name="group"),
    path("groups/<int:pk>/join/", views.group_join, name="group_join"),
    path("messages/", views.conversation_list, name="conversations"),
    path("messages/<int:pk>/", views.conversation_detail, name="conversation"),
    path("friends/", views.friend_list, name="friends"),
    path("friends/request/", views.send_friend_request, name="send_friend_request"),
    path(
        "friends/requests/<int:pk>/accept/",
        views.accept_friend_request,
        name="accept_friend_request",
    ),
]
