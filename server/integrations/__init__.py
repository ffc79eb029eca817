"""Integrations: per-site API tokens, the REST API under /api/v1 and outgoing webhooks."""
