//! Which network each epoch updates: joint training or alternating minimisation
//! (`train.schedule`, docs/paper-notes.md, Training).

use serde::{Deserialize, Serialize};

use crate::config_error::ConfigError;

/// One of the two networks of an attention model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Network {
    /// The focus ("where") network.
    Focus,
    /// The classification ("what") network.
    Classifier,
}

impl Network {
    /// `focus` or `classifier`, as in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::Focus => "focus",
            Self::Classifier => "classifier",
        }
    }

    fn other(self) -> Self {
        match self {
            Self::Focus => Self::Classifier,
            Self::Classifier => Self::Focus,
        }
    }
}

/// Which network each epoch updates (`train.schedule`, docs/paper-notes.md, Training).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ScheduleToml", into = "ScheduleToml")]
pub enum Schedule {
    /// Both networks step after every batch ("simultaneous" training).
    #[default]
    Joint,
    /// Alternating minimisation: blocks of `every` epochs update only `first`, then only the
    /// other network, and so on. Gradients reach both; only one optimiser steps.
    Alternating {
        /// Epochs per block, `>= 1`.
        every: usize,
        /// The network of the first block (`focus`: the paper's "focus-classify").
        first: Network,
    },
}

/// The TOML form of [`Schedule`]: `joint` is an empty struct so that stray keys next to its
/// tag are refused (serde ignores them for unit variants).
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum ScheduleToml {
    Joint {},
    Alternating { every: usize, first: Network },
}

impl From<ScheduleToml> for Schedule {
    fn from(t: ScheduleToml) -> Self {
        match t {
            ScheduleToml::Joint {} => Self::Joint,
            ScheduleToml::Alternating { every, first } => Self::Alternating { every, first },
        }
    }
}

impl From<Schedule> for ScheduleToml {
    fn from(s: Schedule) -> Self {
        match s {
            Schedule::Joint => Self::Joint {},
            Schedule::Alternating { every, first } => Self::Alternating { every, first },
        }
    }
}

impl Schedule {
    /// Whether `network` is updated in `epoch` (1-based, as the training loop counts). With
    /// `e = epoch - 1`, the first network steps when `e mod 2n < n` (docs/paper-notes.md, Training).
    pub fn updates(&self, network: Network, epoch: usize) -> bool {
        match self {
            Self::Joint => true,
            Self::Alternating { every, first } => {
                let e = epoch.saturating_sub(1);
                let first_block = e % (2 * every) < *every;
                let active = if first_block { *first } else { first.other() };
                active == network
            }
        }
    }

    /// Checks the parameters, naming the key (`train.schedule.*`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Self::Alternating { every: 0, .. } => Err(ConfigError::range(
                "train.schedule.every",
                0,
                ">= 1 (epochs per block)",
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn active(schedule: &Schedule, epochs: std::ops::RangeInclusive<usize>) -> String {
        epochs
            .map(|e| {
                match (
                    schedule.updates(Network::Focus, e),
                    schedule.updates(Network::Classifier, e),
                ) {
                    (true, true) => 'B',
                    (true, false) => 'F',
                    (false, true) => 'C',
                    (false, false) => '-',
                }
            })
            .collect()
    }

    #[test]
    fn schedules_follow_the_papers_epoch_rule() {
        // docs/paper-notes.md, Training: with e = epoch - 1, focus-first updates the focus when e mod 2n < n.
        let alt = |every, first| Schedule::Alternating { every, first };
        assert_eq!(active(&Schedule::Joint, 1..=4), "BBBB");
        assert_eq!(active(&alt(1, Network::Focus), 1..=6), "FCFCFC");
        assert_eq!(active(&alt(1, Network::Classifier), 1..=6), "CFCFCF");
        assert_eq!(active(&alt(2, Network::Focus), 1..=8), "FFCCFFCC");
        assert_eq!(
            active(&alt(5, Network::Classifier), 1..=20),
            "CCCCCFFFFFCCCCCFFFFF"
        );
        assert!(alt(0, Network::Focus).validate().is_err());
        assert!(alt(1, Network::Focus).validate().is_ok());
    }

    #[test]
    fn schedules_parse_from_toml_and_refuse_stray_keys() {
        let parse = |s: &str| {
            toml::from_str::<toml::Table>(&format!("s = {s}")).expect("toml")["s"]
                .clone()
                .try_into::<Schedule>()
        };
        assert_eq!(
            parse("{ kind = \"joint\" }").expect("joint"),
            Schedule::Joint
        );
        assert_eq!(
            parse("{ kind = \"alternating\", every = 5, first = \"classifier\" }")
                .expect("alternating"),
            Schedule::Alternating {
                every: 5,
                first: Network::Classifier
            }
        );
        assert!(parse("{ kind = \"joint\", every = 5 }").is_err());
        assert!(parse("{ kind = \"alternating\", every = 5, first = \"both\" }").is_err());
    }
}
