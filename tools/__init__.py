"""Project tooling run by the Makefile (not shipped): `lint_shape`."""
