"""Starting Hydra: the layer between the command line and the sweeps and runs it launches."""
