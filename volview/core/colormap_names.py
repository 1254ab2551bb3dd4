"""Names of the colormaps volview offers, with their menu labels (no imports: cheap for the CLI)."""

COLORMAPS = ("gray", "gray_r", "hot", "viridis", "red_yellow", "blue_lightblue")
LABELS = {
    "gray": "Gray",
    "gray_r": "Inverted gray",
    "hot": "Hot",
    "viridis": "Viridis",
    "red_yellow": "Red-yellow",
    "blue_lightblue": "Blue-light blue",
}
