-- Workflow assets: images a workflow shows, served at /api/v1/assets/{id}/content. The bytes
-- are in blob storage at object_key; every upload writes a new object. Listed by id in byte
-- order.
CREATE TABLE assets (
    id           text COLLATE "C" PRIMARY KEY,
    content_type text NOT NULL,
    size         bigint NOT NULL,
    sha256       text NOT NULL,
    object_key   text NOT NULL,
    created_at   bigint NOT NULL,
    updated_at   bigint NOT NULL
);
