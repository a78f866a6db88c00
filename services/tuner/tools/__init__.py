"""The Tuner's algorithm tools, one module per algorithm; each registers its tools."""
