"""Venues: the registry (what each venue can do), bundled contract specs and tier tables."""
