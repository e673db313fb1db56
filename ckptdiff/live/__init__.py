"""The live model: resolving a --model SPEC and describing its variables as plain data."""
