-- Which server holds each live call, and which servers are alive (see the SQLite migration).
CREATE TABLE nodes (
    id           TEXT   PRIMARY KEY,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);
ALTER TABLE calls ADD COLUMN node_id TEXT;
CREATE INDEX calls_open_node ON calls (node_id) WHERE status = 'open';
GRANT SELECT, INSERT, UPDATE, DELETE ON nodes TO callscribe_app;

-- Recovery crosses tenants: this function (running as the owner) marks `interrupted` the open
-- calls of one node (`only_node`: a server restarting under the id it had) or of every node
-- whose heartbeat is older than `stale_before`, and returns them (tenant, call, node) so each
-- can be audited. Nothing else about the calls is visible through it.
CREATE FUNCTION interrupt_orphaned_calls(only_node TEXT, stale_before BIGINT, ended BIGINT)
RETURNS TABLE (tenant_id TEXT, id TEXT, node_id TEXT)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    UPDATE calls c SET status = 'interrupted', ended_at = ended
    WHERE c.status = 'open' AND c.node_id IS NOT NULL
      AND (c.node_id = only_node
           OR (only_node IS NULL
               AND NOT EXISTS (SELECT 1 FROM nodes n
                               WHERE n.id = c.node_id AND n.heartbeat_at >= stale_before)))
    RETURNING c.tenant_id, c.id, c.node_id
$$;
REVOKE ALL ON FUNCTION interrupt_orphaned_calls(TEXT, BIGINT, BIGINT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION interrupt_orphaned_calls(TEXT, BIGINT, BIGINT) TO callscribe_app;
