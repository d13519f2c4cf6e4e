"""Notebooks: their files, headless runs, the offline dataset stand-in."""
