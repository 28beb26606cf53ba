"""The local page (`perphedge ui`): routes -> services -> templates, served on 127.0.0.1 only.

Imported only by `perphedge ui` and the tests, never on the way to other commands.
"""
