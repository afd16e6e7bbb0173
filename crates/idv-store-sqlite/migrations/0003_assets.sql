-- Workflow assets: images a workflow shows, served at /api/v1/assets/{id}/content. The bytes
-- are in blob storage at object_key; every upload writes a new object.
CREATE TABLE assets (
    id           TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    object_key   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
