//! Compatibility levels and registry modes, spelled as Confluent's REST API spells them.

/// Which earlier versions a new schema is checked against, and in which direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compatibility {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

/// Confluent's default level.
pub const DEFAULT_COMPATIBILITY: Compatibility = Compatibility::Backward;

impl Compatibility {
    pub fn parse(s: &str) -> Option<Compatibility> {
        use Compatibility::*;
        Some(match s.to_ascii_uppercase().as_str() {
            "NONE" => None,
            "BACKWARD" => Backward,
            "BACKWARD_TRANSITIVE" => BackwardTransitive,
            "FORWARD" => Forward,
            "FORWARD_TRANSITIVE" => ForwardTransitive,
            "FULL" => Full,
            "FULL_TRANSITIVE" => FullTransitive,
            _ => return Option::None,
        })
    }

    pub fn as_str(self) -> &'static str {
        use Compatibility::*;
        match self {
            None => "NONE",
            Backward => "BACKWARD",
            BackwardTransitive => "BACKWARD_TRANSITIVE",
            Forward => "FORWARD",
            ForwardTransitive => "FORWARD_TRANSITIVE",
            Full => "FULL",
            FullTransitive => "FULL_TRANSITIVE",
        }
    }

    /// Checked against every earlier version, not only the latest.
    pub fn transitive(self) -> bool {
        use Compatibility::*;
        matches!(
            self,
            BackwardTransitive | ForwardTransitive | FullTransitive
        )
    }

    /// The new schema must read data written with the old one.
    pub fn backward(self) -> bool {
        use Compatibility::*;
        matches!(self, Backward | BackwardTransitive | Full | FullTransitive)
    }

    /// The old schema must read data written with the new one.
    pub fn forward(self) -> bool {
        use Compatibility::*;
        matches!(self, Forward | ForwardTransitive | Full | FullTransitive)
    }
}

/// Whether the registry (or one subject) accepts writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    ReadWrite,
    ReadOnly,
    Import,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        Some(match s.to_ascii_uppercase().as_str() {
            "READWRITE" => Mode::ReadWrite,
            "READONLY" => Mode::ReadOnly,
            "IMPORT" => Mode::Import,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::ReadWrite => "READWRITE",
            Mode::ReadOnly => "READONLY",
            Mode::Import => "IMPORT",
        }
    }
}
