-- Figures an import replaced (`audience import --replace`): what was stored, what came instead.
CREATE TABLE import_replacements (
    run_id      VARCHAR NOT NULL,            -- the import's run (runs.run_id, imports.run_id)
    file_name   VARCHAR NOT NULL,            -- the file the new figure came from
    sha256      VARCHAR NOT NULL,            -- of that file
    platform    VARCHAR NOT NULL,
    handle      VARCHAR NOT NULL,
    day         DATE NOT NULL,
    figure      VARCHAR NOT NULL CHECK (figure IN ('followers', 'following', 'posts', 'views')),
    old_value   BIGINT,                      -- NULL: the figure was blank (unknown)
    new_value   BIGINT,
    old_source  VARCHAR NOT NULL,            -- where the replaced figure came from (import:<file>)
    replaced_at TIMESTAMPTZ NOT NULL
);
