"""Dataset configuration, ROOT-compatible expressions, ntuples, cache, synthetic samples."""
