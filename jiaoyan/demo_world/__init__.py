"""The demo world: a deterministic, plausible synthetic world for Jiaoyan.

``jiaoyan demo-data`` writes it to the landing zone as nightly batches. Nothing here
is used by the production pipeline; the pipeline only sees the files it writes.
"""
