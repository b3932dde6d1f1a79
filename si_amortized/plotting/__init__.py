"""Plots: spike locations over the probe, embedding maps, well rasters (one module per method)."""
