use super::with_repo;
use crate::cli::Global;
use walrs_core::ops::backup_mark;
use walrs_core::Error;

pub fn run(global: &Global, name: &str, impermanent: bool, json: bool) -> Result<(), Error> {
    let permanent = !impermanent;
    let name = name.to_string();
    let outcome = with_repo(global, None, |storage, _| async move { backup_mark(&storage, &name, permanent).await })?;
    if json {
        let shape =
            serde_json::json!({"backup": outcome.name.to_string(), "permanent": permanent, "changed": outcome.changed});
        println!("{}", serde_json::to_string_pretty(&shape).expect("JSON of plain values"));
        return Ok(());
    }
    let state = if permanent { "permanent" } else { "impermanent" };
    match outcome.changed {
        true => println!("backup {} is now {state}", outcome.name),
        false => println!("backup {} already is {state}", outcome.name),
    }
    Ok(())
}
