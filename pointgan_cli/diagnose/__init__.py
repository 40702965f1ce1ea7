"""``pointgan diagnose``: why a run failed, shown on the run itself.

The study's account of failure has four parts, and each module here makes one of them visible:

- ``landscape`` / ``plots``: the D loss does not reward the right discriminator (a bell on the
  real value loses to a wrong step at the same weight sizes), and the G loss surface a trained
  D leaves the generator;
- ``shapes``: the measures behind the classes (saturation of a step-shaped D, flatness after
  weight decay) and the hand-built discriminators;
- ``classify``: how a run (or every member of a sweep) ended, with the numbers that say so;
- ``source``: reading a run's parameters at one step, never writing to the run;
- ``study``: the study's failed generator and a D trained against it;
- ``stability``: the Jacobian of the training vector field and its eigenvalues (locally
  convergent, oscillating or divergent), kept apart from whether the distance still shrinks;
- ``commands``: each command as one library call; ``output``: reading the one run a command
  is about and writing its PNG + JSON pair into the run's ``diagnose/`` folder (or ``--out``).
"""
