"""The policies the tests exercise, declared as a site would declare them."""

from hardened_rbac import policies as p

MEMBERSHIP = "rbac_testapp.GroupMembership"

p.declare(
    "view",
    "rbac_testapp.FeedPost",
    [p.IsCreator("author"), p.FeedVisibility("rbac_testapp.Follow")],
)
p.declare(
    "delete",
    "rbac_testapp.FeedPost",
    [p.IsCreator("author"), p.HasPermission("rbac_testapp.delete_feedpost")],
)
p.declare("view", "rbac_testapp.SocialGroup", [p.GroupMember(MEMBERSHIP, group=None)])
p.declare(
    "moderate",
    "rbac_testapp.SocialGroup",
    [p.GroupMember(MEMBERSHIP, group=None, roles={"moderator", "owner"})],
)
p.declare("view", "rbac_testapp.GroupPost", [p.GroupMember(MEMBERSHIP)])
p.declare(
    "delete",
    "rbac_testapp.GroupPost",
    [
        p.IsCreator("author"),
        p.GroupMember(MEMBERSHIP, roles={"moderator", "owner"}),
    ],
)
p.declare("view", "rbac_testapp.Conversation", [p.Participant("participants")])
p.declare(
    "view", "rbac_testapp.DirectMessage", [p.Participant("conversation__participants")]
)
p.declare(
    "edit",
    "rbac_testapp.Project",
    [p.AllOf(p.IsCreator("owner"), p.HasPermission("rbac_testapp.change_project"))],
)
p.declare("view", "rbac_testapp.Document", [p.ObjectPermission("view_document")])
p.declare("view", "rbac_testapp.Sheet", [p.ObjectPermission("view_sheet")])
