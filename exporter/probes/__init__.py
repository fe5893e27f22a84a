"""Probe kinds: one module each (`http`, `docker`), one function shape (see `base`)."""
