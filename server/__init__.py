"""Beckon: self-hosted lead-capture widgets and the backend that answers them."""

__version__ = "0.1.0"
