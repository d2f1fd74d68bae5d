"""GUM uncertainty engine (JCGM 100, 101, 106; EA-4/02 rounding). Pure numpy/scipy."""
