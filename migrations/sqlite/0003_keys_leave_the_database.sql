-- The calls' data keys move to the key vault (a separate database, see vault/): callscribe
-- copies every remaining key there before this migration runs, then the columns go.
ALTER TABLE calls DROP COLUMN data_key;
ALTER TABLE calls DROP COLUMN kek_version;
