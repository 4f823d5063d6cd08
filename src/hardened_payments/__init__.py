"""Payment controls: money in minor units, a ledger, verified webhooks."""
