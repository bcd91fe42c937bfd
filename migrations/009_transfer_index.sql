-- The zone a case file had on a past day (report/reportpg): a transfer
-- overwrites case_files.zone, and its transfer_accepted events (one per
-- zone involved, both with from_zone and to_zone) are the file's zone
-- history. The surveys look them up by file and date.
CREATE INDEX events_transfers_idx ON activity.events (case_id, on_date, seq) WHERE kind = 'transfer_accepted';

---- create above / drop below ----

DROP INDEX activity.events_transfers_idx;
