-- ASSO, the registry of residential facilities (package registry). Each
-- facility has one row in facilities, its current version, which searches
-- read, and one row per version in facility_versions, which the history and
-- "as of" reads use: the version whose [valid_from, valid_to) holds the
-- instant. A change writes both in one transaction, under the lock of the
-- facilities row. Versions are never deleted: the surveys need them.
CREATE SCHEMA registry;

CREATE SEQUENCE registry.code_seq AS bigint START 1;

CREATE TABLE registry.facilities (
    facility_id                  bigserial   PRIMARY KEY,
    version                      integer     NOT NULL CHECK (version >= 1),
    -- The regional code, assigned on approval and never changed.
    code                         text        UNIQUE CHECK (code ~ '^ASSO-[0-9]{6,9}$'),
    status                       text        NOT NULL CHECK (status IN ('draft', 'submitted', 'active', 'suspended', 'closed')),
    name                         text        NOT NULL,
    typology                     text        NOT NULL,
    operator_name                text        NOT NULL,
    operator_legal_nature        text        NOT NULL,
    operator_tax_number          text        NOT NULL,
    street                       text        NOT NULL,
    postcode                     text        NOT NULL,
    municipality                 text        NOT NULL CHECK (municipality ~ '^[0-9]{6}$'),
    zone                         text        NOT NULL,
    authorisation_status         text        NOT NULL,
    authorisation_date           date        NULL,
    authorisation_act            text        NOT NULL,
    accredited                   boolean     NOT NULL,
    accreditation_date           date        NULL,
    accreditation_act            text        NOT NULL,
    authorised_places            integer     NOT NULL CHECK (authorised_places > 0),
    min_age                      integer     NOT NULL,
    max_age                      integer     NOT NULL,
    mothers_with_children        boolean     NOT NULL,
    unaccompanied_foreign_minors boolean     NOT NULL,
    email                        text        NOT NULL,
    phone                        text        NOT NULL,
    valid_from                   timestamptz NOT NULL,
    change                       text        NOT NULL,
    changed_by                   text        NOT NULL,
    changed_role                 text        NOT NULL,
    note                         text        NOT NULL DEFAULT ''
);

-- Search filters, each with the id for the cursor's order.
CREATE INDEX facilities_zone_idx ON registry.facilities (zone, facility_id);
CREATE INDEX facilities_typology_idx ON registry.facilities (typology, facility_id);
CREATE INDEX facilities_municipality_idx ON registry.facilities (municipality, facility_id);
CREATE INDEX facilities_status_idx ON registry.facilities (status, facility_id);

-- Every version, the current one included (its valid_to is NULL).
CREATE TABLE registry.facility_versions (
    LIKE registry.facilities INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    valid_to timestamptz NULL CHECK (valid_to >= valid_from),
    PRIMARY KEY (facility_id, version),
    FOREIGN KEY (facility_id) REFERENCES registry.facilities (facility_id)
);
ALTER TABLE registry.facility_versions ALTER COLUMN facility_id DROP DEFAULT;

-- One current version per facility, whatever a buggy writer does.
CREATE UNIQUE INDEX facility_versions_current_idx ON registry.facility_versions (facility_id) WHERE valid_to IS NULL;
-- "As of" reads by zone or typology, the surveys' usual cuts.
CREATE INDEX facility_versions_zone_idx ON registry.facility_versions (zone, facility_id);
CREATE INDEX facility_versions_typology_idx ON registry.facility_versions (typology, facility_id);

-- Idempotency-Key of POST /v1/facilities: a retried creation (same caller,
-- same key) answers with the facility the first one made instead of making
-- another. request_hash tells a retry from a different request reusing the
-- key.
CREATE TABLE registry.idempotency_keys (
    owner        text        NOT NULL,
    key          text        NOT NULL,
    request_hash bytea       NOT NULL,
    facility_id  bigint      NOT NULL REFERENCES registry.facilities (facility_id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, key)
);

-- Text search on names uses pg_trgm when this PostgreSQL has it (a trusted
-- contrib extension since PostgreSQL 13, so a database owner may create
-- it). Without it the LIKE of the search still works, by scanning.
DO $$
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'pg_trgm is not available (%): facility name search will scan', SQLERRM;
    END;
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        EXECUTE 'CREATE INDEX facilities_name_trgm_idx ON registry.facilities USING gin (lower(name) gin_trgm_ops)';
    END IF;
END
$$;

---- create above / drop below ----

DROP SCHEMA registry CASCADE;
