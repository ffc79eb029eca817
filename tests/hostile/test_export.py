"""CSV exports open in a spreadsheet as text: no cell starts a formula."""

from __future__ import annotations

import csv
import io
import re

import httpx

from tests.conftest import MANAGER
from tests.hostile import corpus
from tests.hostile.conftest import World
from tests.hostile.visitor import collect, lead

E164 = re.compile(r"^\+\d{6,15}$")


def test_both_csv_exports_neutralise_formula_cells(world: World) -> None:
    frames = [
        lead(
            name=text,
            answers={"q": text},
            context={"url": "http://localhost/" + text, "title": text, "utm": {"utm_source": text}},
        )
        for text in corpus.FORMULAS
    ]
    for n, frame in enumerate(frames):  # one visitor each: a visitor may leave only a few leads
        response = collect(world, {"visitor": f"formula-visitor-{n}", "frames": [frame]})
        assert response.json()["results"][0]["type"] == "ack", response.text
    client = world.client(MANAGER)
    dashboard = client.get("/app/leads.csv")
    api = httpx.get(f"{world.base}/api/v1/leads.csv", headers={"authorization": f"Bearer {world.a_token}"})
    for export in (dashboard, api):
        assert export.status_code == 200
        rows = list(csv.reader(io.StringIO(export.text)))
        header, body = rows[0], rows[1:]
        cells = [(header[i], cell) for row in body for i, cell in enumerate(row)]
        for column, cell in cells:
            if column == "phone" and E164.match(cell):
                continue  # a validated E.164 number: a spreadsheet reads it as a number, nothing runs
            assert not cell or cell[0] not in "=+-@\t\r", (column, repr(cell))
        names = {cell for column, cell in cells if column == "name"}
        for text in corpus.FORMULAS:
            assert "'" + text.strip() in names, (text, sorted(names)[:10])
