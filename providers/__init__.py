"""Adapters to the services an audit queries, behind small protocols.

This package may import ``marks`` but never ``audit``.
"""
