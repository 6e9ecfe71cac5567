-- Which server holds each live call, and which servers are alive: a server that stops without
-- closing its calls (killed, crashed, power lost) leaves them `open`; the same server on its
-- restart, or any other server once the dead one's heartbeat is stale, marks them
-- `interrupted`. Calls created outside `serve` (batch transcription) have no node.
CREATE TABLE nodes (
    id           TEXT    PRIMARY KEY,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
) STRICT;
ALTER TABLE calls ADD COLUMN node_id TEXT;
CREATE INDEX calls_open_node ON calls (node_id) WHERE status = 'open';
