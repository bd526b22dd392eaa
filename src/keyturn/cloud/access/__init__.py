"""Keys, grants and the credentials people hold: mobile keys, doorcodes, keycards, temporary codes.

Doorcodes are stored only as keyed MACs; single-day codes are derived, so only their
ledger (door, local date, slot) is stored.
"""
