"""One emulator per real loader: which artifact entry each live variable would be restored from."""
