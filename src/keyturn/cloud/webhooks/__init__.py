"""Webhooks: managers subscribe a URL to the door events of their property.

Deliveries are queued at ingest, signed with a per-subscription secret, retried with
backoff, and hold only what the visibility rule lets the subscribing manager see.
"""
