"""The package version, kept apart so `shipyard --version` imports nothing else."""

__version__ = "0.1.0"
