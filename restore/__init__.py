"""restore: undo article spinning."""
