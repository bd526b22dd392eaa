"""Keyturn: offline-first access control for apartment buildings.

Locks decide every unlock on their own; the cloud manages people, keys and history.
"""

__version__ = "0.1.0"
