"""rutinbot: cited answers from a municipality's own social-services routines."""

__version__ = "0.1.0"
