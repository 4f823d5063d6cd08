"""Authorization controls: tenants, memberships, roles and policies."""
