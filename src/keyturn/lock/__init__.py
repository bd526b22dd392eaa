"""The device agent: a lock that decides every unlock from its own store and clock.

It journals every attempt durably before the door opens and syncs with the cloud through
any carrier (HTTP or a resident's phone); it never imports the cloud package.
"""
