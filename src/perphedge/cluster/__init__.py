"""Running work on a cluster (Ray): an optional adapter, installed by `perphedge[cluster]`."""
