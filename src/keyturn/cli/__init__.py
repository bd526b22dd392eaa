"""The `keyturn` command line: one module per command group.

Every command reads settings the same way and turns expected failures into one line.
"""
