"""Penguins species classifier: the reference project."""
