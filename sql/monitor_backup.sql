-- Running backups and backup health, for monitoring (docs/monitoring.md). Readable by
-- pg_monitor, as PostgreSQL's own statistics views are, and not by PUBLIC.
CREATE VIEW walrs_stat_backup AS SELECT * FROM @extschema@.walrs_stat_get_backup();
COMMENT ON VIEW walrs_stat_backup IS 'one row per running walrs base backup: its phase and progress';

REVOKE ALL ON walrs_stat_backup FROM PUBLIC;
GRANT SELECT ON walrs_stat_backup TO pg_monitor;
REVOKE EXECUTE ON FUNCTION walrs_stat_get_backup() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION walrs_stat_get_backup() TO pg_monitor;
REVOKE EXECUTE ON FUNCTION walrs_backup_status_raw() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION walrs_backup_status_raw() TO pg_monitor;
REVOKE EXECUTE ON FUNCTION walrs_backup_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION walrs_backup_status() TO pg_monitor;
