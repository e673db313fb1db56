"""Loader emulators: one per real loader behind LoaderEmulator (interface.py), listed in registry.py."""
