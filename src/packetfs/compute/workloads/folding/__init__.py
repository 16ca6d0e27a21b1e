"""HP-model protein folding on the packet fabric: lattice model, replica-exchange Monte Carlo with pull moves."""
