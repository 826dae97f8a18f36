//! Where scheduled base backups run (`walrs.backup_on`). The scheduler runs on every node that
//! preloads walrs, primary and hot standbys alike; nodes that share one configuration must
//! still take one scheduled backup between them, so each node asks this before a due run.
//! A backup asked for by hand (`walrs_backup_push()`) is not subject to it.

/// The `walrs.backup_on` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupOn {
    Primary,
    Standby,
    Any,
}

impl BackupOn {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupOn::Primary => "primary",
            BackupOn::Standby => "standby",
            BackupOn::Any => "any",
        }
    }
}

/// What the node is when the run is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Primary,
    /// In recovery: a hot standby (streaming or fed from the archive).
    Standby,
}

impl Role {
    pub fn of(in_recovery: bool) -> Role {
        if in_recovery {
            Role::Standby
        } else {
            Role::Primary
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "the primary",
            Role::Standby => "a standby",
        }
    }
}

/// Take the scheduled backup here, or skip it and say why (for the scheduler's log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Run,
    Skip(String),
}

pub fn scheduled_backup(on: BackupOn, role: Role) -> Decision {
    let runs = match on {
        BackupOn::Any => true,
        BackupOn::Primary => role == Role::Primary,
        BackupOn::Standby => role == Role::Standby,
    };
    if runs {
        return Decision::Run;
    }
    let elsewhere = match on {
        BackupOn::Primary => "the primary takes it",
        _ => "a standby takes it",
    };
    Decision::Skip(format!("this server is {} and walrs.backup_on = '{}': {elsewhere}", role.as_str(), on.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_scheduled_backups_run() {
        use BackupOn::*;
        let cases = [
            (Any, Role::Primary, None),
            (Any, Role::Standby, None),
            (Primary, Role::Primary, None),
            (
                Primary,
                Role::Standby,
                Some("this server is a standby and walrs.backup_on = 'primary': the primary takes it"),
            ),
            (Standby, Role::Standby, None),
            (
                Standby,
                Role::Primary,
                Some("this server is the primary and walrs.backup_on = 'standby': a standby takes it"),
            ),
        ];
        for (on, role, skip) in cases {
            let want = skip.map_or(Decision::Run, |why| Decision::Skip(why.to_string()));
            assert_eq!(scheduled_backup(on, role), want, "{on:?} on {role:?}");
        }
    }

    #[test]
    fn role_from_recovery() {
        assert_eq!(Role::of(true), Role::Standby);
        assert_eq!(Role::of(false), Role::Primary);
    }
}
