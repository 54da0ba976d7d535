"""One panel per file: dataset, train, generate, interpolate, style mixing, compare."""
