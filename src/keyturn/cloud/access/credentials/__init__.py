"""The credentials a person holds at a property: phones and their mobile keys, personal
doorcodes, keycards."""
