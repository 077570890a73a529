"""A small app that uses sequin-py, as a team would write it: publish orders, work them off."""
