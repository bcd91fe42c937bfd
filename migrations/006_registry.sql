-- ASSO, the registry of residential facilities (package registry). A
-- facility is a row of facilities (its identifiers) and one row of
-- facility_versions per change; the current version is the one with no
-- valid_to, and "as of" reads take the version whose [valid_from, valid_to)
-- holds the instant. Versions are never deleted: the surveys need them.
CREATE SCHEMA registry;

CREATE TABLE registry.facilities (
    id              bigserial   PRIMARY KEY,
    -- The regional code, assigned on approval and never changed.
    code            text        UNIQUE CHECK (code ~ '^ASSO-[0-9]{6,9}$'),
    current_version integer     NOT NULL CHECK (current_version >= 1),
    created_at      timestamptz NOT NULL
);

CREATE SEQUENCE registry.code_seq AS bigint START 1;

CREATE TABLE registry.facility_versions (
    facility_id                  bigint      NOT NULL REFERENCES registry.facilities (id),
    version                      integer     NOT NULL CHECK (version >= 1),
    code                         text        NULL,
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
    valid_to                     timestamptz NULL CHECK (valid_to >= valid_from),
    change                       text        NOT NULL,
    changed_by                   text        NOT NULL,
    changed_role                 text        NOT NULL,
    note                         text        NOT NULL DEFAULT '',
    PRIMARY KEY (facility_id, version)
);

-- One current version per facility, whatever a buggy writer does.
CREATE UNIQUE INDEX facility_versions_current_idx ON registry.facility_versions (facility_id) WHERE valid_to IS NULL;
-- Search filters on the current registry, each with the id for the cursor.
CREATE INDEX facility_versions_zone_idx ON registry.facility_versions (zone, facility_id) WHERE valid_to IS NULL;
CREATE INDEX facility_versions_typology_idx ON registry.facility_versions (typology, facility_id) WHERE valid_to IS NULL;
CREATE INDEX facility_versions_municipality_idx ON registry.facility_versions (municipality, facility_id) WHERE valid_to IS NULL;
CREATE INDEX facility_versions_status_idx ON registry.facility_versions (status, facility_id) WHERE valid_to IS NULL;
-- "As of" reads.
CREATE INDEX facility_versions_period_idx ON registry.facility_versions (valid_from, valid_to);

-- Text search on names uses pg_trgm when this PostgreSQL has it (a trusted
-- contrib extension since PostgreSQL 13, so a database owner may create
-- it). Without it the ILIKE of the search still works, by scanning.
DO $$
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'pg_trgm is not available (%): facility name search will scan', SQLERRM;
    END;
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        EXECUTE 'CREATE INDEX facility_versions_name_trgm_idx ON registry.facility_versions USING gin (lower(name) gin_trgm_ops) WHERE valid_to IS NULL';
    END IF;
END
$$;

---- create above / drop below ----

DROP SCHEMA registry CASCADE;
