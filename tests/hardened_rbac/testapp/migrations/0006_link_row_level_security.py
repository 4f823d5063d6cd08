from django.db import migrations

from hardened_rbac.operations import EnableTenantLinkRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [("rbac_testapp", "0005_friend_requests")]

    operations = [
        EnableTenantLinkRowLevelSecurity("project", "labels"),
        EnableTenantLinkRowLevelSecurity("conversation", "participants"),
    ]
