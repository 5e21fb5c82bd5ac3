"""Quality gates with Great Expectations: suites built from the data contracts and seeds, checkpoints the
nightly DAG runs between loading and dbt (raw) and after dbt (marts), and the publication of a checked build.

Entry points: :mod:`expectations.gates` (Python API) and ``jiaoyan gate`` (:mod:`expectations.cli`);
the design is in ``docs/quality-gates.md``.
"""

import logging

# GX logs every registration and asset at INFO; its warnings and errors still come through
logging.getLogger("great_expectations").setLevel(logging.WARNING)
