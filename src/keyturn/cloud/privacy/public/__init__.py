"""Data requests from anyone, with no account: the public form and its emailed code."""
