"""The layer kinds of the config language, one module each; `registry` finds them (see base.py)."""
