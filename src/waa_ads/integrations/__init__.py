"""Integrations: signed webhooks, LTI 1.3 and other outward links.

The audit log is the outbox: every state change of the other domains writes an event in
the organization's audit chain inside its own transaction, and a periodic dispatcher
turns the events past a per-organization cursor into outgoing deliveries. No domain
imports this package.
"""
