"""Authentication: accounts, passwords and, later, tokens and sessions."""
