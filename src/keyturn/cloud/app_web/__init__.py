"""The resident and guest app: an installable web app at /app over the API's services and
permission check, whose browser holds the phone key and opens doors with the cloud away.
"""
