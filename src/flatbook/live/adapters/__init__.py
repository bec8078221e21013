"""Feed and venue adapters of the live engine (interfaces in :mod:`.base`)."""
