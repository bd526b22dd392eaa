"""Authentication and authorisation: sessions, API tokens, TOTP and the one permission check.

Routes declare what they do with `requires(Action...)` from `deps`; `permissions.authorize`
is the single place that decides who may do it.
"""
