"""Nothing to configure: installing pytest-sequin registers its fixtures."""
