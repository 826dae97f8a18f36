//! Every retention function given bad arguments gets a clear error (the table below lists each
//! call and the error it must get); no backend crashes and nothing is deleted. A role without
//! EXECUTE gets "permission denied"; pg_monitor may list; a granted role may delete.

use walrs_pg_test::*;

/// (call, part of the error it must raise)
const BAD_CALLS: &[(&str, &str)] = &[
    ("walrs_delete_retain(NULL)", "full_count must not be NULL"),
    ("walrs_delete_retain(0)", "full_count must be at least 1, not 0"),
    ("walrs_delete_retain(-5)", "full_count must be at least 1, not -5"),
    ("walrs_delete_retain(2, dry_run => NULL)", "dry_run must not be NULL"),
    ("walrs_delete_retain('abc')", "invalid input syntax for type integer"),
    ("walrs_delete_retain(99999999999)", "does not exist"),
    ("walrs_delete_retain(2147483647, true)", ""), // huge but valid: keeps everything
    ("walrs_delete_before(NULL::timestamptz)", "the time must not be NULL"),
    ("walrs_delete_before(NULL::text)", "the backup name or time must not be NULL"),
    ("walrs_delete_before(now() + interval '1 day')", "is in the future"),
    ("walrs_delete_before('infinity'::timestamptz)", "the time must be finite"),
    ("walrs_delete_before(now())", "this would delete all of them"),
    ("walrs_delete_before('')", "is neither a backup name nor a time"),
    ("walrs_delete_before('next tuesday')", "is neither a backup name nor a time"),
    ("walrs_delete_before('base_')", "is not a backup name"),
    ("walrs_delete_before('base_0000000100000000000000FF')", "there is no complete backup named"),
    ("walrs_delete_target(NULL)", "the backup name must not be NULL"),
    ("walrs_delete_target('')", "is not a backup name"),
    ("walrs_delete_target('../../etc/passwd')", "is not a backup name"),
    ("walrs_delete_target(repeat('A', 100000))", "is not a backup name"),
    ("walrs_delete_target('base_0000000100000000000000FF')", "there is no complete backup named"),
    ("walrs_delete_retain_within(NULL)", "the interval must not be NULL"),
    ("walrs_delete_retain_within('-1 day')", "the interval must be positive"),
    ("walrs_delete_retain_within('0')", "the interval must be positive"),
    ("walrs_delete_retain_within('soon')", "invalid input syntax for type interval"),
    ("walrs_delete_garbage(NULL)", "dry_run must not be NULL"),
    ("walrs_backup_mark(NULL)", "the backup name must not be NULL"),
    ("walrs_backup_mark('nope')", "is not a backup name"),
    ("walrs_backup_mark('base_0000000100000000000000FF')", "has no sentinel"),
    ("walrs_backup_mark('LATEST')", "is not a backup name"),
    ("walrs_backup_push(NULL)", "permanent must not be NULL"),
    ("walrs_backup_push('maybe')", "invalid input syntax for type boolean"),
];

#[test]
fn bad_arguments_get_clear_errors_and_privileges_hold() {
    let work = Workdir::new("retention-input");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, "");
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    let name = pg.sql("SELECT walrs_backup_push()");
    let postmaster = pg.sql("SELECT pg_postmaster_start_time()");
    let before = repo.files();

    let mut table = String::from("| call | error |\n|---|---|\n");
    for (call, expected) in BAD_CALLS {
        let got = pg.try_sql(&format!("SELECT count(*) FROM {call}"));
        let got = match got {
            Ok(rows) => {
                assert!(expected.is_empty(), "{call} succeeded ({rows} rows) but should fail with \"{expected}\"");
                format!("ok, {rows} rows")
            }
            Err(e) => {
                assert!(!expected.is_empty() && e.contains(expected), "{call}: expected \"{expected}\", got: {e}");
                assert!(e.len() < 2000, "{call}: the error repeats the input at length: {} bytes", e.len());
                e.lines().next().unwrap_or("").trim_start_matches("psql:").to_string()
            }
        };
        table.push_str(&format!("| `{call}` | {} |\n", got.replace('|', "\\|")));
    }
    println!("{table}");
    assert_eq!(repo.files(), before, "nothing was deleted by bad calls");
    assert_eq!(pg.sql("SELECT pg_postmaster_start_time()"), postmaster, "no backend crash restarted the server");
    assert!(!pg.server_log().contains("terminated by signal"), "no backend died");

    // Privileges.
    pg.sql("CREATE ROLE alice LOGIN");
    let denied = pg.try_sql_as("alice", "SELECT * FROM walrs_delete_retain(1)").unwrap_err();
    assert!(denied.contains("permission denied for function walrs_delete_retain"), "{denied}");
    for call in ["walrs_backup_mark('x')", "walrs_delete_garbage()", "walrs_delete_target('x')", "walrs_backup_push()"]
    {
        let e = pg.try_sql_as("alice", &format!("SELECT * FROM {call}")).unwrap_err();
        assert!(e.contains("permission denied"), "{call}: {e}");
    }
    assert!(pg.try_sql_as("alice", "SELECT * FROM walrs_backup_list()").unwrap_err().contains("permission denied"));
    assert_eq!(repo.files(), before, "a refused call deletes nothing");
    pg.sql("GRANT pg_monitor TO alice");
    assert_eq!(pg.try_sql_as("alice", "SELECT backup_name FROM walrs_backup_list()").unwrap(), name);
    pg.sql("GRANT EXECUTE ON FUNCTION walrs_delete_retain(int, bool) TO alice");
    assert_eq!(
        pg.try_sql_as("alice", "SELECT count(*) FROM walrs_delete_retain(1, dry_run => true)").unwrap(),
        pg.sql("SELECT count(*) FROM walrs_delete_retain(1, true)")
    );
}
