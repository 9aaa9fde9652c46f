-- Collected figures can be rounded by the platform (YouTube: 3 significant figures).
ALTER TABLE snapshots ADD COLUMN followers_rounding VARCHAR;  -- NULL: exact
