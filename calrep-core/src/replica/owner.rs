//! Who holds a mailbox lease, written so that another process on the same
//! machine can tell whether the holder is still alive.
//!
//! An owner is `task:pid:start:nanos@machine/boot`: the run's task, its
//! process id and that process's start time (so a reused pid is not
//! mistaken for the holder), the run's start, and the machine and boot it
//! ran on. A holder is *provably* dead only on the same machine: its boot
//! ended, or its process is gone. Anything else (another machine, a system
//! without `/proc`, a machine without a machine id) waits for the lease
//! to expire, so two live runs never interleave.
//!
//! This trusts `/etc/machine-id` to name one machine, as systemd requires
//! (an image cloned without resetting it breaks that promise for every
//! tool that relies on it); an SQLite replica lives on one machine anyway.

use crate::TaskId;

/// The owner string of a run of `task` started at `nanos` in this process.
pub(crate) fn this_process(task: &TaskId, nanos: i64) -> String {
    let pid = std::process::id();
    let start = process_start(pid).unwrap_or_default();
    let (machine, boot) = machine_and_boot().unwrap_or_default();
    format!("{task}:{pid}:{start}:{nanos}@{machine}/{boot}")
}

/// Whether the run that wrote `owner` has certainly stopped.
pub(crate) fn is_provably_dead(owner: &str) -> bool {
    let Some(theirs) = Owner::parse(owner) else {
        return false;
    };
    let Some((machine, boot)) = machine_and_boot() else {
        return false;
    };
    if theirs.machine.is_empty() || theirs.machine != machine {
        return false;
    }
    if theirs.boot != boot {
        // The machine restarted since: every process of that boot is gone.
        return true;
    }
    match process_start(theirs.pid) {
        None => true,
        Some(start) => start != theirs.start,
    }
}

/// What asking for a mailbox's lease gives `owner` at `now` (Unix
/// seconds), when `held` is the lease stored now as (task, owner, expiry):
/// `Err` with the holder when another owner that may be alive holds it
/// unexpired; else the lease to write, taken over if its holder died.
pub(crate) fn lease_outcome(
    held: Option<(String, String, i64)>,
    owner: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<crate::replica::Lease, crate::replica::Lease> {
    use crate::replica::Lease;
    let Some((task, holder, expires)) = held else {
        return Ok(Lease::Acquired);
    };
    if holder == owner || expires <= now.timestamp() {
        return Ok(Lease::Acquired);
    }
    // A run that died on this machine frees its mailboxes at once; one
    // that may be alive keeps them until its lease expires.
    if is_provably_dead(&holder) {
        Ok(Lease::TakenOver {
            task: TaskId::new(task),
            owner: holder,
        })
    } else {
        Err(Lease::HeldBy {
            task: TaskId::new(task),
            until: chrono::DateTime::from_timestamp(expires, 0).unwrap_or(now),
        })
    }
}

/// Whether run `owner` may write a batch to `mailbox` whose lease is
/// stored as `held` (task, owner): only while the lease is its own.
pub(crate) fn fence(
    held: Option<(String, String)>,
    owner: &str,
    mailbox: &crate::address::EmailAddress,
) -> Result<(), crate::replica::ReplicaError> {
    match held {
        Some((_, holder)) if holder == owner => Ok(()),
        Some((task, holder)) => Err(crate::replica::ReplicaError::LeaseLost {
            mailbox: mailbox.to_string(),
            holder,
            task,
        }),
        None => Err(crate::replica::ReplicaError::LeaseLost {
            mailbox: mailbox.to_string(),
            holder: "nobody (it was released)".into(),
            task: "none".into(),
        }),
    }
}

/// The process id in an owner string, for messages.
pub(crate) fn pid_of(owner: &str) -> Option<u32> {
    Owner::parse(owner).map(|o| o.pid)
}

struct Owner<'a> {
    pid: u32,
    start: u64,
    machine: &'a str,
    boot: &'a str,
}

impl<'a> Owner<'a> {
    fn parse(owner: &'a str) -> Option<Self> {
        let (run, host) = owner.rsplit_once('@')?;
        let (machine, boot) = host.split_once('/')?;
        let mut parts = run.rsplitn(4, ':');
        let _nanos = parts.next()?;
        let start = parts.next()?.parse().ok()?;
        let pid = parts.next()?.parse().ok()?;
        parts.next()?;
        Some(Self {
            pid,
            start,
            machine,
            boot,
        })
    }
}

/// This machine's id and current boot id (Linux), or `None`.
fn machine_and_boot() -> Option<(String, String)> {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty() && !s.contains(['@', '/', ':']))
    };
    let machine = read("/etc/machine-id").or_else(|| read("/var/lib/dbus/machine-id"))?;
    let boot = read("/proc/sys/kernel/random/boot_id")?;
    Some((machine, boot))
}

/// A process's start time in clock ticks after boot (`/proc/PID/stat`
/// field 22), or `None` if there is no such process.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')')?.1;
    after.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_gone_one_is_dead() {
        let me = this_process(&TaskId::new("t:with:colons"), 42);
        assert!(!is_provably_dead(&me), "{me}");
        if machine_and_boot().is_none() {
            return; // no /proc: nothing is ever provably dead
        }
        // A child that has exited and been reaped.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let dead = me.replacen(&format!(":{}:", std::process::id()), &format!(":{pid}:"), 1);
        assert!(is_provably_dead(&dead), "{dead}");
        // Another boot of this machine, or another machine.
        let (machine, boot) = machine_and_boot().unwrap();
        assert!(is_provably_dead(&me.replace(&boot, "00000000-old-boot")));
        assert!(!is_provably_dead(&me.replace(&machine, "another-machine")));
        assert!(!is_provably_dead("garbage"));
        assert_eq!(pid_of(&me), Some(std::process::id()));
    }
}
