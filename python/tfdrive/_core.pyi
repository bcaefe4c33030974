"""Type stubs for the native module ``tfdrive._core`` (built from ``rust/``)."""

__version__: str
