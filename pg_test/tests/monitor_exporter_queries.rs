//! The postgres_exporter queries shipped in `docs/postgres_exporter/queries.yaml` work as the
//! exporter runs them: each query, run by a role with only `pg_monitor`, gives one row in
//! which every documented metric is a number. The file is read as YAML by Debian's python3
//! (PyYAML), so a file postgres_exporter could not load fails here too.

use std::process::Command;
use std::time::Duration;
use walrs_pg_test::*;

/// The queries file, as (query name, its metric columns, its SQL).
fn exporter_queries() -> Vec<(String, Vec<String>, String)> {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/postgres_exporter/queries.yaml");
    // One line per query: name, metric columns (comma-separated), then the SQL on one line.
    let script = r#"
import sys, yaml
for name, q in yaml.safe_load(open(sys.argv[1])).items():
    metrics = [next(iter(m)) for m in q["metrics"]]
    assert all(next(iter(m.values()))["usage"] in ("GAUGE", "COUNTER") for m in q["metrics"]), name
    print(name, ",".join(metrics), " ".join(q["query"].split()), sep="\t")
"#;
    let out = run(Command::new("/usr/bin/python3").arg("-c").arg(script).arg(file));
    out.lines()
        .map(|line| {
            let mut parts = line.splitn(3, '\t');
            let name = parts.next().unwrap().to_string();
            let metrics = parts.next().unwrap().split(',').map(str::to_string).collect();
            (name, metrics, parts.next().unwrap().to_string())
        })
        .collect()
}

/// Every `walrs_…` metric the alerting rules in `docs/postgres_exporter/alerts.yaml` use.
fn alert_metrics() -> Vec<String> {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/postgres_exporter/alerts.yaml");
    let script = r#"
import re, sys, yaml
for group in yaml.safe_load(open(sys.argv[1]))["groups"]:
    for rule in group["rules"]:
        assert rule["alert"] and rule["annotations"]["summary"], rule
        print("\n".join(sorted(set(re.findall(r"walrs_[a-z_]+", rule["expr"])))))
"#;
    run(Command::new("/usr/bin/python3").arg("-c").arg(script).arg(file)).lines().map(str::to_string).collect()
}

#[test]
fn every_documented_metric_is_a_number_for_pg_monitor() {
    let queries = exporter_queries();
    let names: Vec<&str> = queries.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, ["walrs_archiver", "walrs_backup_running", "walrs_backup", "walrs_wal"], "the queries file");
    let exported: Vec<String> =
        queries.iter().flat_map(|(name, metrics, _)| metrics.iter().map(move |m| format!("{name}_{m}"))).collect();
    for used in alert_metrics() {
        assert!(exported.contains(&used), "the alert rules use {used}, which the queries file does not export");
    }

    let work = Workdir::new("monitor-exporter");
    let repo = Repo::new(&work);
    let pg = archiving_cluster(&work, &repo, "shared_preload_libraries = 'walrs'");
    pg.start();
    pg.sql("CREATE EXTENSION walrs");
    pg.sql("CREATE ROLE exporter LOGIN IN ROLE pg_monitor");
    pg.pgbench(&["-i", "-s", "1", "-q"]);
    let backup = pg.sql("SELECT walrs_backup_push()");
    let last = pg.switch_wal();
    pg.wait_archived(&last, Duration::from_secs(60));

    for (name, metrics, sql) in &queries {
        for metric in metrics {
            let got = pg
                .try_sql_as("exporter", &format!("SELECT {metric}::float8 FROM ({sql}) q"))
                .unwrap_or_else(|e| panic!("{name}.{metric} as a pg_monitor role: {e}"));
            let rows: Vec<&str> = got.lines().collect();
            assert_eq!(rows.len(), 1, "{name}.{metric} gives one row: {got:?}");
            let value: f64 = rows[0].parse().unwrap_or_else(|_| panic!("{name}.{metric} is a number: {got:?}"));
            println!("{name}_{metric} = {value}");
        }
    }
    // The values say what happened: archiving works, one backup, nothing lost.
    let metric = |sql: &str| pg.try_sql_as("exporter", sql).unwrap();
    let (_, _, archiver) = &queries[0];
    let (_, _, backups) = &queries[2];
    let (_, _, wal) = &queries[3];
    assert_eq!(metric(&format!("SELECT preloaded FROM ({archiver}) q")), "1");
    assert_eq!(metric(&format!("SELECT failures_in_a_row FROM ({archiver}) q")), "0");
    assert!(metric(&format!("SELECT archived_count FROM ({archiver}) q")).parse::<i64>().unwrap() >= 2);
    assert_eq!(metric(&format!("SELECT backup_count FROM ({backups}) q")), "1", "{backup}");
    let age: f64 = metric(&format!("SELECT newest_age_seconds FROM ({backups}) q")).parse().unwrap();
    assert!((0.0..120.0).contains(&age), "the backup finished moments ago: {age}");
    assert_eq!(metric(&format!("SELECT lost_segments FROM ({wal}) q")), "0");
    pg.stop();
}
