-- The archiver's statistics and WAL verification, for monitoring (docs/monitoring.md).
-- Readable by pg_monitor, as PostgreSQL's own statistics views are, and not by PUBLIC.
-- Resetting is for superusers and the roles they grant it to:
--   GRANT EXECUTE ON FUNCTION walrs_stat_reset() TO ops_role;
CREATE VIEW walrs_stat_archiver AS SELECT * FROM @extschema@.walrs_stat_get_archiver();
COMMENT ON VIEW walrs_stat_archiver IS 'the walrs archiver: what it archived, what failed and why, how fast it goes';

REVOKE ALL ON walrs_stat_archiver FROM PUBLIC;
GRANT SELECT ON walrs_stat_archiver TO pg_monitor;
REVOKE EXECUTE ON FUNCTION walrs_stat_get_archiver() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION walrs_stat_get_archiver() TO pg_monitor;
REVOKE EXECUTE ON FUNCTION walrs_wal_verify() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION walrs_wal_verify() TO pg_monitor;
REVOKE EXECUTE ON FUNCTION walrs_stat_reset() FROM PUBLIC;
