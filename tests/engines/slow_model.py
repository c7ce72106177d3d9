"""A classifier that takes a while per partition, so a worker can be killed mid-job."""

from __future__ import annotations

import time
from typing import Any


class SlowModel:
    """``inner``, a little slow: the job is still scoring when a worker is killed."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.classes_ = inner, inner.classes_

    def predict_proba(self, data: Any) -> Any:
        time.sleep(0.4)
        return self.inner.predict_proba(data)

    def predict(self, data: Any) -> Any:
        return self.inner.predict(data)
