"""Bots (issue 15): scripted flows run on the bus; see ``flow``, ``engine``, ``runtime``."""
