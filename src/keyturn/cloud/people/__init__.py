"""People, their accounts and their roles and permissions at each property.

One person is one human with one account; what they may do is decided per property by
their role memberships and, for managers, their permissions.
"""
