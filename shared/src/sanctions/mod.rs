//! Sanctions screening: list parsing (OFAC SDN CSV, UN consolidated XML), name
//! normalisation and a fuzzy name matcher with a calibrated score.
//!
//! Built once per container and held by the caller:
//! `let s = Screener::new(SanctionsLists::from_dir(dir)?); s.screen("Usama bin Ladin", None)`.
//! Nothing here knows about AWS: the scorer hands it the list objects' bytes.

mod list;
mod matcher;
mod normalise;
mod ofac;
mod screener;
mod un;

pub use list::{
    Entry, ListError, ListParser, ListVersion, ListedName, MAX_LIST_BYTES, ParsedList, SanctionsLists,
};
pub use matcher::{DEFAULT_THRESHOLD, compare, compare_prepared, jaro_winkler};
pub use normalise::{PreparedName, Token, TokenKind, normalise, phonetic_key};
pub use ofac::Ofac;
pub use screener::{CANDIDATES, Hit, Screener};
pub use un::Un;

use std::fmt;
use std::str::FromStr;

/// What a name belongs to (the FollowTheMoney schemata the lists and callers use).
/// Companies, organisations and legal entities are matched alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Schema {
    Person,
    Company,
    Organization,
    LegalEntity,
    Vessel,
    Aircraft,
}

impl Schema {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Person => "Person",
            Self::Company => "Company",
            Self::Organization => "Organization",
            Self::LegalEntity => "LegalEntity",
            Self::Vessel => "Vessel",
            Self::Aircraft => "Aircraft",
        }
    }

    /// Organisations of any kind: their names carry legal forms (LLC, GmbH) to strip.
    pub fn is_organisation(self) -> bool {
        matches!(self, Self::Company | Self::Organization | Self::LegalEntity)
    }

    /// How far a name of schema `a` may match one of schema `b`: a person's name that
    /// equals a vessel's is weak evidence. `None` (unknown) is compatible with all.
    pub fn compatibility(a: Option<Schema>, b: Option<Schema>) -> f64 {
        use Schema::*;
        let (Some(a), Some(b)) = (a, b) else { return 1.0 };
        match (a, b) {
            _ if a == b => 1.0,
            _ if a.is_organisation() && b.is_organisation() => 1.0,
            // Vessels and aircraft are often named after (and owned by) companies.
            (Vessel | Aircraft, o) | (o, Vessel | Aircraft) if o.is_organisation() => 0.85,
            (Vessel, Aircraft) | (Aircraft, Vessel) => 0.85,
            // Firms named after their owner are common ("Ahmed Ali Trading").
            (Person, o) | (o, Person) if o.is_organisation() => 0.8,
            _ => 0.7,
        }
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown schema `{0}` (expected Person, Company, Organization, LegalEntity, Vessel or Aircraft)")]
pub struct UnknownSchema(pub String);

impl FromStr for Schema {
    type Err = UnknownSchema;

    /// Case-insensitive; `Organisation` and `Entity` are accepted too.
    fn from_str(raw: &str) -> Result<Self, UnknownSchema> {
        Ok(match raw.trim().to_ascii_lowercase().as_str() {
            "person" | "individual" => Self::Person,
            "company" => Self::Company,
            "organization" | "organisation" => Self::Organization,
            "legalentity" | "entity" => Self::LegalEntity,
            "vessel" => Self::Vessel,
            "aircraft" | "airplane" => Self::Aircraft,
            _ => return Err(UnknownSchema(raw.to_owned())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_parse_case_insensitively_and_unknown_ones_are_refused() {
        assert_eq!("person".parse(), Ok(Schema::Person));
        assert_eq!(" LegalEntity ".parse(), Ok(Schema::LegalEntity));
        assert_eq!("Organisation".parse(), Ok(Schema::Organization));
        assert!("Thing".parse::<Schema>().is_err());
    }

    #[test]
    fn organisations_match_each_other_fully_and_persons_vessels_weakly() {
        use Schema::*;
        assert_eq!(Schema::compatibility(Some(Company), Some(LegalEntity)), 1.0);
        assert_eq!(Schema::compatibility(None, Some(Vessel)), 1.0);
        assert!(Schema::compatibility(Some(Person), Some(Vessel)) < 0.8);
        assert!(Schema::compatibility(Some(Person), Some(Company)) < 1.0);
    }
}
