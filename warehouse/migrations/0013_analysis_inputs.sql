-- A night with nothing new skips the analysis (issue 17): what the stored analysis was
-- computed from, written in the same transaction as its results (pipeline.analyse).
-- inputs_digest: sha256 of the day, the [detection] values, the checker, the snapshots' count
--   and newest write, the content of the sample summaries and engagement rows it read, the
--   versions of DuckDB, Polars, NumPy and Great Expectations, and the source of the packages
--   that compute it; the same digest, the same day and no snapshot written since: `unchanged`.
-- detection: the [detection] values (JSON) it was computed with; other values rebuild all.
-- NULL (an analysis before this migration): the next analysis computes as before.
ALTER TABLE analysis_state ADD COLUMN inputs_digest VARCHAR;
ALTER TABLE analysis_state ADD COLUMN detection VARCHAR;
