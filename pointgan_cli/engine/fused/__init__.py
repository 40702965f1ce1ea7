"""The fused engine: each run's whole training step in one compiled kernel (numba).

``trainer.FusedTrainer`` has the torch engine's ``BatchTrainer`` interface; ``support`` says
which specs it runs; ``compiled`` loads the kernel from the user's cache (``cache``): on the
common path the object code ``native`` links without numba (``native_build`` compiles it),
else numba's. Nothing in this package imports torch.
"""

from .cache import use_cache_dir as _use_cache_dir

_use_cache_dir()  # before any submodule imports numba: numba reads its settings then
