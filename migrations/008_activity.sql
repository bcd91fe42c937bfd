-- Activity (package activity): SINBA case files and ASMI stays, keyed by
-- linkage person ids as they were given. A merge rewrites nothing here:
-- reads and uniqueness checks go through linkage's current person, so
-- records follow a merge and come back when it is undone. The partial
-- unique indexes below guard the person id as stored; activity checks the
-- merged person under an advisory lock.

CREATE SCHEMA activity;

CREATE TABLE activity.case_files (
    id                 bigserial   PRIMARY KEY,
    person_id          uuid        NOT NULL,
    zone               text        NOT NULL,
    opened_on          date        NOT NULL,
    -- The SINBA record of the file (sinba.Record in its JSON form, without
    -- IDBeneficiario): codes only, validated against SINBA.xsd.
    attributes         jsonb       NOT NULL,
    transfer_to        text,
    closed_on          date,
    closure_reason     text,
    closure_situation  text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    created_by         text        NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((closed_on IS NULL) = (closure_reason IS NULL)),
    CHECK (closed_on IS NULL OR closed_on >= opened_on)
);
CREATE UNIQUE INDEX case_files_open_idx ON activity.case_files (person_id, zone) WHERE closed_on IS NULL;
CREATE INDEX case_files_person_idx ON activity.case_files (person_id);
CREATE INDEX case_files_zone_idx ON activity.case_files (zone, id);
CREATE INDEX case_files_transfer_idx ON activity.case_files (transfer_to, id) WHERE transfer_to IS NOT NULL;

-- Interventions (CodicePrestazione), foster-care periods and court
-- measures of a case file: dated, coded, never free text.
CREATE TABLE activity.case_entries (
    id         bigserial   PRIMARY KEY,
    case_id    bigint      NOT NULL REFERENCES activity.case_files (id),
    kind       text        NOT NULL CHECK (kind IN ('intervention', 'foster_care', 'court_measure')),
    start_on   date        NOT NULL,
    end_on     date,
    codes      jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text        NOT NULL,
    CHECK (end_on IS NULL OR end_on >= start_on)
);
CREATE INDEX case_entries_case_idx ON activity.case_entries (case_id, id);

CREATE TABLE activity.stays (
    id             bigserial   PRIMARY KEY,
    person_id      uuid        NOT NULL,
    facility_id    bigint      NOT NULL,
    admitted_on    date        NOT NULL,
    sending_zone   text        NOT NULL,
    form           text        NOT NULL CHECK (form IN ('consensual', 'judicial')),
    with_parent    boolean     NOT NULL,
    msna           boolean     NOT NULL,
    discharged_on  date,
    outcome        text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    created_by     text        NOT NULL,
    CHECK ((discharged_on IS NULL) = (outcome IS NULL)),
    CHECK (discharged_on IS NULL OR discharged_on >= admitted_on)
);
CREATE UNIQUE INDEX stays_open_idx ON activity.stays (person_id) WHERE discharged_on IS NULL;
CREATE INDEX stays_person_idx ON activity.stays (person_id);
CREATE INDEX stays_facility_open_idx ON activity.stays (facility_id) WHERE discharged_on IS NULL;
CREATE INDEX stays_facility_idx ON activity.stays (facility_id, id);

CREATE TABLE activity.stay_activities (
    id         bigserial   PRIMARY KEY,
    stay_id    bigint      NOT NULL REFERENCES activity.stays (id),
    kind       text        NOT NULL,
    on_date    date        NOT NULL,
    end_on     date,
    fields     jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text        NOT NULL,
    CHECK (end_on IS NULL OR end_on >= on_date)
);
CREATE INDEX stay_activities_stay_idx ON activity.stay_activities (stay_id, id);

-- Events for the responsible services, one row per receiving zone, in
-- commit order of their sequence.
CREATE TABLE activity.events (
    seq         bigserial   PRIMARY KEY,
    zone        text        NOT NULL,
    kind        text        NOT NULL,
    case_id     bigint,
    stay_id     bigint,
    facility_id bigint,
    on_date     date,
    detail      jsonb       NOT NULL DEFAULT '{}',
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_zone_seq_idx ON activity.events (zone, seq);

-- What a merge made inconsistent (two open stays, two open files in one
-- zone), for the data steward. Never resolved by dropping a record.
CREATE TABLE activity.conflicts (
    id          bigserial   PRIMARY KEY,
    kind        text        NOT NULL CHECK (kind IN ('open_stays', 'open_case_files')),
    merge_id    bigint      NOT NULL,
    zone        text,
    case_ids    bigint[]    NOT NULL DEFAULT '{}',
    stay_ids    bigint[]    NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    resolution  text
);
CREATE INDEX conflicts_merge_idx ON activity.conflicts (merge_id);

-- SINBA flows received, by sender and Nome: a flow sent again returns the
-- results stored here and changes nothing.
CREATE TABLE activity.flows (
    sender      text        NOT NULL,
    nome        text        NOT NULL,
    state       text        NOT NULL CHECK (state IN ('processing', 'done')),
    results     jsonb,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sender, nome)
);

---- create above / drop below ----

DROP SCHEMA activity CASCADE;
