"""Building blocks shared by the zoo's families."""
