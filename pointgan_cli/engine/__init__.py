"""The maths of training: counter-based randomness, the two networks, losses, hand-derived
gradients, the tensor layout, and the trainers that run many runs as one batch of tensors.
Imports only torch, math and itself, so it can be read (and moved to another device) alone."""
