from django.db import migrations

from hardened_rbac.operations import EnableTenantRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [("rbac_testapp", "0001_initial")]

    operations = [
        EnableTenantRowLevelSecurity("label"),
        EnableTenantRowLevelSecurity("project"),
        EnableTenantRowLevelSecurity("task"),
    ]
