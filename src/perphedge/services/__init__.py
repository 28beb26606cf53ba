"""Services: one function per use case, shared by the CLI, the web page and the live loop.

Each takes the ports it needs (perphedge.ports: History, MarketData, Account, Clock) as
arguments, calls the pure core and returns a frozen result. None prints, none opens an adapter:
entry points build the adapters (perphedge.cli.wiring) and render the result (perphedge.report).
"""
