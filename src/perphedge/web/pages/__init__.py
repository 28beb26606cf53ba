"""One module per page: its routes parse the request, call one service, render a template."""
