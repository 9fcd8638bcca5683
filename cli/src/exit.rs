//! The exit codes, in one place: 0 pass, 1 a finding, 2 a usage, input, policy or access
//! error, 3 (`gate --wait`, `wait`) what was waited for did not happen in time.

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Compliant; every copy made.
    Pass,
    /// A violation, a scan over the bar, a failed copy.
    Fail,
    /// The command could not do its work: bad arguments, input, policy or access.
    Error,
    /// `gate`: the scan was still running when the wait ran out; `wait`: a replica was not
    /// complete.
    TimedOut,
}

impl Exit {
    /// `Pass` when `ok`, else `Fail`.
    pub fn from_passed(ok: bool) -> Self {
        if ok {
            Self::Pass
        } else {
            Self::Fail
        }
    }
}

impl Exit {
    /// Every exit, in order, for the generated reference.
    pub const ALL: [Exit; 4] = [Exit::Pass, Exit::Fail, Exit::Error, Exit::TimedOut];

    /// The process's exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Pass => 0,
            Exit::Fail => 1,
            Exit::Error => 2,
            Exit::TimedOut => 3,
        }
    }

    /// What the code means, for the generated reference (docs/cli.md).
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Pass => "compliant; every copy made; nothing found",
            Exit::Fail => "a violation, a scan over the bar, a failed copy, a finding (with `--strict`, a warning too)",
            Exit::Error => "the command could not do its work: bad arguments, input, policy or access; `gate`: scanning is off (with tags that comply)",
            Exit::TimedOut => "`gate`: the scan is still running (with tags that comply); `wait`: a replica was not complete in time",
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}
