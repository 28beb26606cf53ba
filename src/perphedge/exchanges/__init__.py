"""Exchange adapters: the only package that imports ccxt. Raw payloads stop at parse.py."""
