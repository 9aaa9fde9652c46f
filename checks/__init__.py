"""Great Expectations suites: data quality of snapshots, and the suspicious-growth expectations.

GX is imported only inside these functions (it costs 6-9 s), so commands that do not validate
never pay for it.
"""
