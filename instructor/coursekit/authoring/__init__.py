"""Authoring: from the reference tree to the student kits (release, leak scans, the kit README)."""
