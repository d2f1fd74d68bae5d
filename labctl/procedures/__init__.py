"""Calibration procedures and the runner that carries them out."""
