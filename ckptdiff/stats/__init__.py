"""Per-tensor statistics: streaming moments now, the fresh-init detector later."""
