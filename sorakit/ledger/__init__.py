"""The durable job ledger: every video job, every state change, readable as a pandas DataFrame.

```python
from sorakit.ledger import Ledger
with Ledger() as led:                      # ./sorakit-ledger.db, or $SORAKIT_LEDGER
    job = led.insert(provider="openai", model="sora-2", prompt="a red fox in snow")
    led.update(job, status="completed", billed_cost=0.4, billed_cost_source="provider")
    led.df                                 # the whole ledger, real dtypes
    led.cost_by(["model", "day"])          # spend per model per day
```
"""

from ._codec import new_job_id
from ._errors import JobNotFound, LedgerError
from ._rowcodec import plan_from_row, row_from_plan, seed_used
from ._ledger import DEFAULT_FILENAME, ENV_VAR, USER_ENV_VAR, Latency, Ledger, current_user
from ._schema import (
    ACTIONS,
    BILLED_COST_SOURCES,
    GROUPINGS,
    LEDGER_COLUMN_DOCS,
    FRAME_COLUMNS,
    LEDGER_COLUMNS,
    LEDGER_DTYPES,
    SCHEMA_VERSION,
    STATUSES,
    TERMINAL_STATUSES,
    VOTE_COLUMNS,
    VOTE_OUTCOMES,
)

__all__ = [
    "Ledger",
    "Latency",
    "LEDGER_COLUMNS",
    "FRAME_COLUMNS",
    "LEDGER_DTYPES",
    "LEDGER_COLUMN_DOCS",
    "TERMINAL_STATUSES",
    "STATUSES",
    "ACTIONS",
    "BILLED_COST_SOURCES",
    "GROUPINGS",
    "VOTE_OUTCOMES",
    "VOTE_COLUMNS",
    "SCHEMA_VERSION",
    "DEFAULT_FILENAME",
    "ENV_VAR",
    "USER_ENV_VAR",
    "current_user",
    "LedgerError",
    "JobNotFound",
    "new_job_id",
    "row_from_plan",
    "plan_from_row",
    "seed_used",
]
