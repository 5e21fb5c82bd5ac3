"""Data contracts: one definition of every source and of what inference writes.

Each contract names its files inside a nightly batch folder, its fields with types,
meanings, allowed values and ranges, and its key. The demo-world generator writes to
these contracts, the loaders and the Spark job validate against them (through
:mod:`jiaoyan.contracts.validate`), and ``docs/data-contracts.md`` is generated from
them (``jiaoyan contracts docs``), so the three cannot drift apart.
"""

from jiaoyan.contracts.batch import BatchFile, BatchManifest
from jiaoyan.contracts.lake import LAKE_CONTRACTS, lake_by_name
from jiaoyan.contracts.model import Contract, ContractError, Field
from jiaoyan.contracts.rubrics import Band, Indicator, Rubric, RubricFile
from jiaoyan.contracts.sources import (
    ACTIVITY_EVENTS,
    ACTIVITY_KINDS,
    ALL_CONTRACTS,
    BEHAVIOUR_CODES,
    EVENT_TYPES,
    GOLD_CODES,
    LESSON_MANIFEST,
    LESSON_RUNS,
    OBSERVER_ROLES,
    REFERENCE_CONTRACTS,
    REGIONS,
    RESOURCE_KINDS,
    RUBRIC_BANDS,
    RUBRIC_INDICATORS,
    RUBRIC_SCORES,
    SCHOOLS,
    SUBJECTS,
    TEACHERS,
    TITLES,
    UNIVERSITIES,
    VTRO_MEMBERS,
    VTROS,
    by_name,
)

__all__ = [
    "ACTIVITY_EVENTS",
    "ACTIVITY_KINDS",
    "ALL_CONTRACTS",
    "BEHAVIOUR_CODES",
    "EVENT_TYPES",
    "GOLD_CODES",
    "LAKE_CONTRACTS",
    "LESSON_MANIFEST",
    "LESSON_RUNS",
    "OBSERVER_ROLES",
    "REFERENCE_CONTRACTS",
    "REGIONS",
    "RESOURCE_KINDS",
    "RUBRIC_BANDS",
    "RUBRIC_INDICATORS",
    "RUBRIC_SCORES",
    "SCHOOLS",
    "SUBJECTS",
    "TEACHERS",
    "TITLES",
    "UNIVERSITIES",
    "VTROS",
    "VTRO_MEMBERS",
    "Band",
    "BatchFile",
    "BatchManifest",
    "Contract",
    "ContractError",
    "Field",
    "Indicator",
    "Rubric",
    "RubricFile",
    "by_name",
    "lake_by_name",
]
