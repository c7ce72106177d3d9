"""The bare FastAPI app of issue 6: the same model, no validation beyond JSON, no logging.

Run with uvicorn (``--app-dir bench/tools bare_app:app``); env ``BENCH_PROJECT`` names a
leanloop project whose champion it serves (loaded once per worker at start-up).
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from typing import Any

import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel

state: dict[str, Any] = {}


class PredictRequest(BaseModel):
    rows: list[dict[str, Any]]


@asynccontextmanager
async def lifespan(_app: FastAPI) -> Any:
    from leanloop.project import Project
    from leanloop.schema import FeatureKind

    with Project(os.environ["BENCH_PROJECT"]) as project:
        schema = project.config.schema_
        state["model"], _ = project.registry.load(project.registry.champion().version)
        state["numeric"] = schema.of_kind(FeatureKind.NUMERIC)
        state["text"] = schema.of_kind(FeatureKind.CATEGORICAL, FeatureKind.BOOLEAN)
        state["classes"] = [str(c) for c in state["model"].classes_]
    yield


app = FastAPI(lifespan=lifespan)


@app.post("/predict")
def predict(request: PredictRequest) -> dict[str, Any]:
    frame = pd.DataFrame(request.rows)
    frame = frame[state["numeric"] + state["text"]].astype(dict.fromkeys(state["numeric"], "float64") |
                                                          dict.fromkeys(state["text"], str))
    probabilities = state["model"].predict_proba(frame)
    classes = state["classes"]
    return {"predictions": [{"prediction": classes[int(row.argmax())],
                             "probabilities": dict(zip(classes, row.tolist(), strict=True))}
                            for row in probabilities]}


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
