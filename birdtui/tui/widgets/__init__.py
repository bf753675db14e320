"""Widgets of the birdtui app."""
