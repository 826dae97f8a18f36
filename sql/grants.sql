-- Who may run what. Functions that change the repository or start work in the server are for
-- superusers and the roles they grant EXECUTE to, e.g.
--   GRANT EXECUTE ON FUNCTION walrs_backup_push(bool) TO backup_role;
-- Listing reads the repository: granted to pg_monitor, as PostgreSQL does for its statistics.
REVOKE EXECUTE ON FUNCTION walrs_backup_push(bool) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION walrs_backup_mark(text, bool) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION walrs_delete_retain(int, bool) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION walrs_delete_retain_within(interval, bool) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION walrs_delete_before(timestamptz, bool) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION walrs_delete_before(text, bool) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION walrs_delete_target(text, bool) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION walrs_delete_garbage(bool) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION walrs_backup_list_raw() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION walrs_backup_list() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION walrs_backup_list_raw() TO pg_monitor;
GRANT EXECUTE ON FUNCTION walrs_backup_list() TO pg_monitor;
