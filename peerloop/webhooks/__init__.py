"""Inbound provider webhooks: verify the signature, store the event once, enqueue, answer 2xx.

Domains plug in handlers with ``services.register(provider, event_type, handler)``.
"""
