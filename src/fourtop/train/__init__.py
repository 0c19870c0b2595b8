"""Networks, training of single jobs and seed families, metrics (PyTorch)."""
