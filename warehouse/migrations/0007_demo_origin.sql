-- A warehouse that `audience demo` created holds one row here; the demo replaces no other.

CREATE TABLE demo_origin (
    created_at TIMESTAMPTZ NOT NULL,  -- when the demo created the warehouse
    finished_at TIMESTAMPTZ,          -- when it finished (NULL: it was interrupted)
    snapshots  BIGINT,                -- the rows it left: a warehouse with others is not the demo's
    accounts   BIGINT
);
