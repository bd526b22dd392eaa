"""The manager portal: pages rendered on the server over the API's services and permission check.

`install_portal` adds its pages, its static files and its HTML answers to refusals to an app.
"""
