"""Screens pushed over the main view: help, kill confirmation, run details, export."""
