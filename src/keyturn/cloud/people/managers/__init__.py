"""The managers of a property and their powers: who manages which keys, locks and photos.

One service sets, changes and removes a property manager's whole permission set, audited;
the routes and the `keyturn manager` command both call it.
"""
