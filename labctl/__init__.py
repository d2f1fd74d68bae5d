"""labctl: calibration-laboratory control, uncertainty evaluation and certificate platform."""

__version__ = "0.1.0"
