"""Glossary: every word the pages use, and every number explained in plain words."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from perphedge.report.explain import EXPLAIN, GLOSSARY, RISKS
from perphedge.web.views import render


def glossary_page(request: Request) -> Response:
    return render(request, "glossary.html", glossary=GLOSSARY, metrics=EXPLAIN, risks=RISKS)


ROUTES = [Route("/glossary", glossary_page)]
