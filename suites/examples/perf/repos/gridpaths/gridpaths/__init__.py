"""gridpaths: monotone lattice paths through grids with blocked cells."""

from gridpaths.paths import count_paths, parse_grid

__all__ = ["count_paths", "parse_grid"]
__version__ = "0.1.0"
