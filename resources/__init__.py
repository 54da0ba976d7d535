"""Package data: icons, styles and the demo models."""
