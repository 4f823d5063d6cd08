"""Machinery behind the social scenario's views."""
