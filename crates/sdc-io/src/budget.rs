//! Memory budgets: a size from a config or a file header is checked against what the machine
//! has before anything of that size is allocated.

/// How many bytes a process may plan to hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    bytes: u64,
}

/// A planned allocation larger than the budget (or than any address space).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TooLarge {
    /// The configuration key or header field that sets the size.
    pub key: String,
    /// `KEY = VALUE needs BYTES for WHAT; what the machine has`.
    pub message: String,
}

impl Budget {
    /// The machine's physical memory (Linux: `MemTotal` of `/proc/meminfo`); without a way to
    /// know it, no limit beyond the address space.
    pub fn machine() -> Self {
        Self {
            bytes: physical_memory().unwrap_or(u64::MAX),
        }
    }

    /// A fixed budget of `bytes`.
    pub fn of(bytes: u64) -> Self {
        Self { bytes }
    }

    /// The budget in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Checks that `count` items of `item_bytes` each (`None`: the count itself overflowed)
    /// fit. `key`/`value` name the setting responsible and `what` the allocation, for the
    /// error. Returns the bytes.
    pub fn check(
        &self,
        key: &str,
        value: impl std::fmt::Display,
        what: &str,
        count: Option<u64>,
        item_bytes: u64,
    ) -> Result<u64, TooLarge> {
        let needs = count.and_then(|c| c.checked_mul(item_bytes));
        match needs {
            Some(bytes) if bytes <= self.bytes => Ok(bytes),
            _ => {
                let needs = needs.map_or_else(|| "more than 16 EiB".to_string(), human_bytes);
                let available = if self.bytes == u64::MAX {
                    "more than any address space holds".to_string()
                } else {
                    format!("this machine has {} of memory", human_bytes(self.bytes))
                };
                Err(TooLarge {
                    key: key.to_string(),
                    message: format!("{key} = {value} needs {needs} for {what}; {available}"),
                })
            }
        }
    }
}

/// `bytes` in binary units, e.g. `23.4 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    bytesize::ByteSize::b(bytes).display().iec().to_string()
}

fn physical_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_within_the_budget_pass_and_others_name_the_key() {
        let budget = Budget::of(1 << 30);
        assert_eq!(
            budget.check("data.n_train", 10, "mosaics", Some(10), 100),
            Ok(1000)
        );
        let err = budget
            .check(
                "data.n_train",
                1_000_000_000_000u64,
                "the training mosaics",
                Some(1_000_000_000_000),
                180,
            )
            .expect_err("180 TB");
        let text = err.to_string();
        assert!(
            text.starts_with("data.n_train = 1000000000000 needs 163.7 TiB"),
            "{text}"
        );
        assert!(text.contains("1.0 GiB"), "{text}");
        let overflow = budget
            .check("model.hidden", "[huge]", "weights", None, 4)
            .expect_err("overflow");
        assert!(
            overflow.to_string().contains("more than 16 EiB"),
            "{overflow}"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_machine_budget_is_its_memory() {
        let bytes = Budget::machine().bytes();
        assert!(bytes > 1 << 28 && bytes < u64::MAX, "{bytes}");
    }
}
