"""What lies on disk: atomic writes and the `--force` guard, a run directory, a sweep directory
with its member index and batch store, and the batch store's lossless packing."""
