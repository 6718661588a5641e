"""The package version, on its own so that inside modules never import the package root."""

__version__ = "0.1.0"
