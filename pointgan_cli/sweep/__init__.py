"""``pointgan sweep``: many runs (presets x grid x seeds) trained as batches, then summarised.

``spec`` turns flags into the member list (``SweepSpec``, the studies), ``plan`` cuts members
into batched jobs, ``executors`` run them (local processes or Ray), ``run`` drives a whole
sweep and ``summaries`` writes its statistics and charts. The directory itself is a
``pointgan_cli.store.sweepdir.SweepDir``.
"""
