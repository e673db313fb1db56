"""Finding what would execute if an artifact were loaded, without executing it."""
