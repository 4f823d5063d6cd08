"""Who may see and do what in a community, declared once for views and seeds.

Each declaration answers both ``authorize`` for one object and ``allowed``
for a list, so a feed and a detail page cannot disagree.
"""

from hardened_rbac import policies as p

FOLLOWS = "social.Follow"

POST_VIEW = p.declare(
    "view", "social.Post", [p.IsCreator("author"), p.FeedVisibility(FOLLOWS)]
)
POST_DELETE = p.declare(
    "delete",
    "social.Post",
    [p.IsCreator("author"), p.HasPermission("social.delete_post")],
)

GROUP_VIEW = p.declare(
    "view",
    "social.Group",
    [
        p.GroupMember("social.GroupMembership", group=None),
        p.FeedVisibility(FOLLOWS, author="created_by"),
    ],
)
GROUP_JOIN = p.declare(
    "join", "social.Group", [p.FeedVisibility(FOLLOWS, author="created_by")]
)
GROUP_POST = p.declare(
    "post", "social.Group", [p.GroupMember("social.GroupMembership", group=None)]
)
GROUP_POST_VIEW = p.declare(
    "view", "social.GroupPost", [p.GroupMember("social.GroupMembership")]
)

CONVERSATION_VIEW = p.declare(
    "view", "social.Conversation", [p.Participant("participants")]
)
MESSAGE_VIEW = p.declare(
    "view", "social.Message", [p.Participant("conversation__participants")]
)

FRIEND_REQUEST_ANSWER = p.declare(
    "answer", "social.FriendRequest", [p.IsCreator("recipient")]
)
