"""Keys (doors plus a schedule) and the grants that give them to people."""
