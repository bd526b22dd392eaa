"""`python -m keyturn` runs the same command line as `keyturn`."""

from keyturn.cli.main import app

app()
