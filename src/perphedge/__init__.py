"""perphedge: insure crypto holdings with short perpetual futures.

The pure core (instruments, margin, funding, hedge, scenarios, metrics, backtest) does no I/O;
the shell (exchanges, store, live, report, cli) talks to the outside world.
"""

__version__ = "0.1.0"
