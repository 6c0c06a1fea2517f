"""lab2: the image-analysis learning lab as a reproducible Lightning + Hydra project."""

__version__ = "0.1.0"
