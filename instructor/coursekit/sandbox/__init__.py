"""Where student code runs: isolation backends, the jail launcher, cleaning, cgroups."""
