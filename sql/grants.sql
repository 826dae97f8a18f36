-- Functions that change the repository or start work in the server are for superusers and
-- the roles they grant EXECUTE to (GRANT EXECUTE ON FUNCTION walrs_backup_push(bool) TO backup_role).
REVOKE EXECUTE ON FUNCTION walrs_backup_push(bool) FROM PUBLIC;
