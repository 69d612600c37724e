//! `provenance.json`: who made a run, with what, when. One session per process that trained
//! the run (a resumed run has several), each with the command line, host, start and end time and
//! how it ended. Kept out of `summary.json`, whose bytes are deterministic.

use serde::{Deserialize, Serialize};

use crate::device::{BackendKind, Precision};
use crate::error::TrainError;
use crate::run_dir::RunDir;

/// The provenance file of a run directory.
pub const PROVENANCE_FILE: &str = "provenance.json";

/// The build that trained a run, and the processes that did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// sdc's version.
    pub sdc_version: String,
    /// The git commit sdc was built from (absent when built outside a git checkout).
    pub git_commit: Option<String>,
    /// The backend the run trained on.
    pub backend: BackendKind,
    /// Its precision.
    pub precision: Precision,
    /// Every process that trained the run, in order.
    pub sessions: Vec<Session>,
}

/// One process's part of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The process's command line.
    pub command_line: Vec<String>,
    /// The machine's host name.
    pub host: String,
    /// The process id.
    pub pid: u32,
    /// The first epoch this process trained (> 1 after a resume).
    pub first_epoch: usize,
    /// When it started (RFC 3339, UTC).
    pub started_utc: String,
    /// When it ended; absent while it runs or when it was killed.
    pub ended_utc: Option<String>,
    /// How it ended: `completed`, `diverged`, `interrupted` or the error; absent while it runs
    /// or when it was killed.
    pub outcome: Option<String>,
}

/// The git commit this build came from, when it was built from a git checkout.
pub fn git_commit() -> Option<&'static str> {
    Some(env!("SDC_GIT_COMMIT")).filter(|c| !c.is_empty())
}

/// The current UTC time, RFC 3339.
pub use sdc_io::now_utc;

impl Provenance {
    /// Reads the run's provenance (if any) and appends a session for this process, starting at
    /// `first_epoch`; written at once, so a killed process still leaves its start behind. An
    /// unreadable earlier file is replaced, with a warning: it describes the run, it is not a
    /// result.
    pub(crate) fn start(
        run: &RunDir,
        backend: BackendKind,
        precision: Precision,
        first_epoch: usize,
    ) -> Result<Self, TrainError> {
        let earlier = if run.file(PROVENANCE_FILE).is_file() {
            match run.read_json::<Provenance>(PROVENANCE_FILE) {
                Ok(p) => p.sessions,
                Err(e) => {
                    tracing::warn!("replacing an unreadable provenance file: {e}");
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        let mut provenance = Provenance {
            sdc_version: env!("CARGO_PKG_VERSION").into(),
            git_commit: git_commit().map(Into::into),
            backend,
            precision,
            sessions: earlier,
        };
        provenance.sessions.push(Session {
            command_line: std::env::args().collect(),
            host: hostname::get()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "unknown".into()),
            pid: std::process::id(),
            first_epoch,
            started_utc: now_utc(),
            ended_utc: None,
            outcome: None,
        });
        run.write_json(PROVENANCE_FILE, &provenance)?;
        Ok(provenance)
    }

    /// Records how this process's session ended.
    pub(crate) fn end(&mut self, run: &RunDir, outcome: &str) -> Result<(), TrainError> {
        if let Some(session) = self.sessions.last_mut() {
            session.ended_utc = Some(now_utc());
            session.outcome = Some(outcome.to_string());
        }
        run.write_json(PROVENANCE_FILE, self)
    }
}
