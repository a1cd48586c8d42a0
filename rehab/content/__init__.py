"""Data shipped with the package: exercise catalogue, protocol templates, word lists."""
