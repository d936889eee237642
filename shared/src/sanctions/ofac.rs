//! OFAC's Specially Designated Nationals list in its legacy CSV files: `sdn.csv`
//! (`ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage, GRT,
//! Vess_flag, Vess_owner, Remarks`) and `alt.csv` (`ent_num, alt_num, alt_type,
//! alt_name, alt_remarks`). No header; `-0-` means empty.
//!
//! Read with the bounded [`RowReader`] the batch files use. Every row must have its
//! full column count: a file cut mid-row fails the load instead of losing entries.

use super::list::{
    Entry, Hashing, ListError, ListParser, ListedName, MAX_ENTRIES, MAX_NAMES_PER_ENTRY, ParsedList,
};
use super::{Schema, list::split_listed};
use crate::csvio::{Row, RowReader};
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::io::{BufReader, Read};

const SDN_COLUMNS: usize = 12;
const ALT_COLUMNS: usize = 5;

/// The two OFAC files, parsed together (aliases refer to entries by `ent_num`).
pub struct Ofac<S, A> {
    sdn: S,
    alt: A,
}

impl<S: Read, A: Read> Ofac<S, A> {
    pub fn new(sdn: S, alt: A) -> Self {
        Self { sdn, alt }
    }
}

impl<S: Read, A: Read> ListParser for Ofac<S, A> {
    const SOURCE: &'static str = "ofac";

    fn parse(self) -> Result<ParsedList, ListError> {
        let mut sdn = Hashing::new(self.sdn);
        let mut entries: Vec<Entry> = Vec::new();
        let mut index: FxHashMap<u32, usize> = FxHashMap::default();
        each_row("sdn.csv", &mut sdn, SDN_COLUMNS, |line, row| {
            let bad = |reason: String| ListError::Row { file: "sdn.csv", line, reason };
            let ent_num = ent_num(row, "sdn.csv", line)?;
            let name = field(row, 1).ok_or_else(|| bad("no SDN_Name".into()))?;
            let schema = match field(row, 2).as_deref().map(str::to_ascii_lowercase).as_deref() {
                None => Schema::LegalEntity,
                Some("individual") => Schema::Person,
                Some("vessel") => Schema::Vessel,
                Some("aircraft") => Schema::Aircraft,
                Some(other) => return Err(bad(format!("unknown SDN_Type `{other}`"))),
            };
            let programs = field(row, 3)
                .map(|p| {
                    p.split("] [")
                        .map(|p| {
                            p.trim_matches(|c: char| c == '[' || c == ']' || c.is_whitespace()).to_owned()
                        })
                        .filter(|p| !p.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            let mut names = Vec::new();
            split_listed(&name, false, &mut names);
            if names.is_empty() {
                return Err(bad("no SDN_Name".into()));
            }
            if index.insert(ent_num, entries.len()).is_some() {
                return Err(bad(format!("ent_num {ent_num} listed twice")));
            }
            if entries.len() == MAX_ENTRIES {
                return Err(ListError::TooMany { file: "sdn.csv", what: "entries", limit: MAX_ENTRIES });
            }
            entries.push(Entry { id: format!("ofac:{ent_num}"), schema, names, programs, reference: None });
            Ok(())
        })?;
        if entries.is_empty() {
            return Err(ListError::Empty { file: "sdn.csv" });
        }

        let mut alt = Hashing::new(self.alt);
        each_row("alt.csv", &mut alt, ALT_COLUMNS, |line, row| {
            let bad = |reason: String| ListError::Row { file: "alt.csv", line, reason };
            let ent_num = ent_num(row, "alt.csv", line)?;
            let &at =
                index.get(&ent_num).ok_or_else(|| bad(format!("alias of unknown ent_num {ent_num}")))?;
            let Some(name) = field(row, 3) else { return Ok(()) };
            let weak = field(row, 4).is_some_and(|r| r.to_ascii_lowercase().contains("weak"));
            let names: &mut Vec<ListedName> = &mut entries[at].names;
            split_listed(&name, weak, names);
            if names.len() > MAX_NAMES_PER_ENTRY {
                return Err(ListError::TooMany {
                    file: "alt.csv",
                    what: "names per entry",
                    limit: MAX_NAMES_PER_ENTRY,
                });
            }
            Ok(())
        })?;

        let version = format!("{}:fnv64-{:016x}-{:016x}", Self::SOURCE, sdn.hash(), alt.hash());
        Ok(ParsedList { entries, version })
    }
}

/// Calls `each` per row of exactly `columns` fields; any other row fails the file.
fn each_row<R: Read>(
    file: &'static str,
    input: &mut R,
    columns: usize,
    mut each: impl FnMut(u64, &Row<'_>) -> Result<(), ListError>,
) -> Result<(), ListError> {
    let mut rows = RowReader::new(BufReader::with_capacity(1 << 16, input));
    loop {
        let row = match rows.next_row() {
            Ok(Some(row)) => row,
            Ok(None) => return Ok(()),
            Err(e) => return Err(ListError::io(file, e)),
        };
        let line = row.line;
        // Blank lines, and the DOS end-of-file byte some OFAC downloads end with.
        if row.len() == 1 && row.field(0).is_some_and(|f| f.trim_ascii().is_empty() || f == b"\x1a") {
            continue;
        }
        if row.oversized {
            return Err(ListError::Row { file, line, reason: "row too long".into() });
        }
        if row.len() != columns {
            let reason =
                format!("{} fields where {columns} were expected (a cut or malformed file?)", row.len());
            return Err(ListError::Row { file, line, reason });
        }
        each(line, &row)?;
    }
}

fn ent_num(row: &Row<'_>, file: &'static str, line: u64) -> Result<u32, ListError> {
    let raw = field(row, 0).unwrap_or_default();
    raw.parse().map_err(|_| ListError::Row { file, line, reason: format!("ent_num `{raw}` is not a number") })
}

/// Field `i`, trimmed; `None` when empty or OFAC's `-0-`. Not UTF-8 is read as Latin-1
/// (older OFAC downloads), never refused: a name must not vanish over its accents.
fn field<'a>(row: &'a Row<'_>, i: usize) -> Option<Cow<'a, str>> {
    let bytes = row.field(i)?.trim_ascii();
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    };
    match text.trim() {
        "" | "-0-" => None,
        _ => Some(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDN: &str = "36,\"AEROCARIBBEAN AIRLINES\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n\
        2676,\"AL ZAWAHIRI, Dr. Ayman\",\"individual\",\"SDGT] [SDT\",\"Leader\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"DOB 19 Jun 1951.\"\n\
        4234,\"HERMANN\",\"vessel\",\"CUBA\",-0- ,\"CL2685\",\"General Cargo\",\"2597\",\"1098\",\"Cuba\",\"Owner S.A.\",-0- \n\
        15431,\"EP-GOM\",\"aircraft\",\"SDGT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"Aircraft\"";
    const ALT: &str =
        "36,12,\"aka\",\"AERO-CARIBBEAN\",-0- \n2676,1,\"aka\",\"AL-ZAWAHIRI, Ayman\",\"weak alias\"\n";

    fn parse(sdn: &str, alt: &str) -> Result<ParsedList, ListError> {
        Ofac::new(sdn.as_bytes(), alt.as_bytes()).parse()
    }

    #[test]
    fn entries_carry_their_schema_programs_and_aliases() {
        let list = parse(SDN, ALT).unwrap();
        let ids: Vec<&str> = list.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["ofac:36", "ofac:2676", "ofac:4234", "ofac:15431"]);
        let schemas: Vec<Schema> = list.entries.iter().map(|e| e.schema).collect();
        assert_eq!(schemas, [Schema::LegalEntity, Schema::Person, Schema::Vessel, Schema::Aircraft]);
        let zawahiri = &list.entries[1];
        assert_eq!(zawahiri.programs, ["SDGT", "SDT"]);
        assert_eq!(zawahiri.names[0], ListedName { name: "AL ZAWAHIRI, Dr. Ayman".into(), weak: false });
        assert_eq!(zawahiri.names[1], ListedName { name: "AL-ZAWAHIRI, Ayman".into(), weak: true });
        assert_eq!(list.entries[0].names[1].name, "AERO-CARIBBEAN");
        assert!(list.version.starts_with("ofac:fnv64-"));
    }

    #[test]
    fn the_version_changes_with_the_bytes() {
        let a = parse(SDN, ALT).unwrap().version;
        let b = parse(SDN, &ALT.replace("AERO", "AIRO")).unwrap().version;
        assert_ne!(a, b);
        assert_eq!(a, parse(SDN, ALT).unwrap().version);
    }

    #[test]
    fn a_cut_file_fails_the_load() {
        let cut = &SDN[..SDN.len() - 40];
        let err = parse(cut, ALT).unwrap_err();
        assert!(matches!(err, ListError::Row { file: "sdn.csv", line: 4, .. }), "{err}");
        let err = parse(SDN, "36,12,\"aka\"\n").unwrap_err();
        assert!(matches!(err, ListError::Row { file: "alt.csv", line: 1, .. }), "{err}");
    }

    #[test]
    fn empty_files_bad_numbers_and_orphan_aliases_fail_the_load() {
        assert!(matches!(parse("", ""), Err(ListError::Empty { .. })));
        assert!(matches!(parse("\n\x1a", ""), Err(ListError::Empty { .. })));
        let bad_num = SDN.replacen("36,", "x36,", 1);
        assert!(matches!(parse(&bad_num, ALT), Err(ListError::Row { line: 1, .. })));
        assert!(matches!(parse(SDN, "99,1,\"aka\",\"X\",-0- "), Err(ListError::Row { .. })));
        let twice = format!("{SDN}\n{}", SDN.lines().next().unwrap());
        assert!(matches!(parse(&twice, ALT), Err(ListError::Row { line: 5, .. })));
        let odd_type = SDN.replace("\"vessel\"", "\"boat\"");
        assert!(matches!(parse(&odd_type, ALT), Err(ListError::Row { line: 3, .. })));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(sdn in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
                                       alt in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = Ofac::new(&sdn[..], &alt[..]).parse();
        }

        #[test]
        fn mangled_rows_never_panic(cut in 0..SDN.len(), junk in "[\"\\n,a-z0-9 -]{0,30}") {
            let mangled = format!("{}{junk}{}", &SDN[..cut], &SDN[cut..]);
            let _ = parse(&mangled, ALT);
        }
    }

    #[test]
    fn latin1_names_are_read_not_refused() {
        let sdn = b"1,\"JOS\xc9 P\xc9REZ\",\"individual\",\"X\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ";
        let list = Ofac::new(&sdn[..], &b""[..]).parse().unwrap();
        assert_eq!(list.entries[0].names[0].name, "JOSÉ PÉREZ");
    }
}
