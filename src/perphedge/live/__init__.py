"""Running a hedge: monitor, reconcile, execute."""
