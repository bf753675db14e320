"""The Textual app: the results table, the loss plot and the keys that drive runs.

This is the only package that imports Textual; the core modules it uses
(config, runs, metrics, export) run without it.
"""
