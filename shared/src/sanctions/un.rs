//! The UN Security Council consolidated list (XML, optionally gzip): `INDIVIDUAL` and
//! `ENTITY` elements with `DATAID`, `FIRST_NAME`…`FOURTH_NAME`, `UN_LIST_TYPE`,
//! `REFERENCE_NUMBER`, `NAME_ORIGINAL_SCRIPT` and `*_ALIAS` (`QUALITY`, `ALIAS_NAME`).
//!
//! Streamed with quick-xml (end tags checked); the list must close its root element, so
//! a cut download fails the load.

use super::Schema;
use super::list::{
    Entry, Hashing, ListError, ListParser, ListedName, MAX_ENTRIES, MAX_NAMES_PER_ENTRY, ParsedList,
    maybe_gzipped, split_listed,
};
use quick_xml::events::Event;
use rustc_hash::FxHashSet;
use std::io::Read;

const FILE: &str = "un_consolidated.xml";
/// Deepest element nesting accepted (the list nests 4 deep).
const MAX_DEPTH: usize = 32;
/// Longest text of one element kept (comments run to a few kB; names are short).
const MAX_TEXT: usize = 64 * 1024;

pub struct Un<R> {
    xml: R,
}

impl<R: Read> Un<R> {
    /// The list's bytes, plain or gzip.
    pub fn new(xml: R) -> Self {
        Self { xml }
    }
}

/// An `INDIVIDUAL` or `ENTITY` being read.
#[derive(Default)]
struct Draft {
    dataid: Option<String>,
    parts: [Option<String>; 4],
    list_type: Option<String>,
    reference: Option<String>,
    names: Vec<ListedName>,
    alias: Option<(Option<String>, Option<String>)>,
}

impl<R: Read> ListParser for Un<R> {
    const SOURCE: &'static str = "un";

    fn parse(self) -> Result<ParsedList, ListError> {
        let mut raw = Hashing::new(self.xml);
        let input = maybe_gzipped(&mut raw).map_err(|e| ListError::io(FILE, e))?;
        let mut reader = quick_xml::Reader::from_reader(input);
        let mut buf = Vec::new();
        let mut stack: Vec<Vec<u8>> = Vec::new();
        let mut text = String::new();
        let mut draft: Option<(Schema, Draft)> = None;
        let mut entries = Vec::new();
        let mut seen = FxHashSet::default();
        let (mut generated, mut closed) = (None, false);
        loop {
            let position = reader.buffer_position();
            let xml_error = |reason: String| ListError::Xml { file: FILE, position, reason };
            let event = reader.read_event_into(&mut buf).map_err(|e| match e {
                quick_xml::Error::Io(io) => {
                    ListError::io(FILE, std::io::Error::new(io.kind(), io.to_string()))
                }
                e => xml_error(e.to_string()),
            })?;
            match event {
                Event::Start(e) => {
                    let name = e.name().as_ref().to_vec();
                    if stack.is_empty() {
                        if name != b"CONSOLIDATED_LIST" {
                            return Err(xml_error("the root element is not CONSOLIDATED_LIST".into()));
                        }
                        generated = e
                            .try_get_attribute("dateGenerated")
                            .ok()
                            .flatten()
                            .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()));
                    }
                    if stack.len() == MAX_DEPTH {
                        return Err(xml_error(format!("nested deeper than {MAX_DEPTH} elements")));
                    }
                    match (name.as_slice(), stack.last().map(Vec::as_slice)) {
                        (b"INDIVIDUAL", Some(b"INDIVIDUALS")) => {
                            draft = Some((Schema::Person, Draft::default()))
                        }
                        (b"ENTITY", Some(b"ENTITIES")) => {
                            draft = Some((Schema::LegalEntity, Draft::default()))
                        }
                        (b"INDIVIDUAL_ALIAS" | b"ENTITY_ALIAS", _) => {
                            if let Some((_, d)) = draft.as_mut() {
                                d.alias = Some((None, None));
                            }
                        }
                        _ => {}
                    }
                    stack.push(name);
                    text.clear();
                }
                Event::Empty(_) if stack.is_empty() => {
                    return Err(ListError::Empty { file: FILE });
                }
                Event::Text(t) => {
                    let t = t.decode().map_err(|e| xml_error(e.to_string()))?;
                    push_text(&mut text, &t);
                }
                Event::CData(t) => push_text(&mut text, &String::from_utf8_lossy(&t)),
                Event::GeneralRef(r) => {
                    let c = match r.resolve_char_ref().map_err(|e| xml_error(e.to_string()))? {
                        Some(c) => c,
                        None => match r.as_ref() {
                            b"amp" => '&',
                            b"lt" => '<',
                            b"gt" => '>',
                            b"quot" => '"',
                            b"apos" => '\'',
                            other => {
                                let other = String::from_utf8_lossy(other);
                                return Err(xml_error(format!("unknown entity &{other};")));
                            }
                        },
                    };
                    let mut utf8 = [0; 4];
                    push_text(&mut text, c.encode_utf8(&mut utf8));
                }
                Event::End(_) => {
                    let Some(name) = stack.pop() else {
                        return Err(xml_error("an end tag without a start".into()));
                    };
                    let value = Some(text.trim().to_owned()).filter(|v| !v.is_empty());
                    text.clear();
                    if stack.is_empty() {
                        closed = true;
                        continue;
                    }
                    let Some((schema, d)) = draft.as_mut() else { continue };
                    let in_alias = d.alias.is_some();
                    match (name.as_slice(), in_alias) {
                        (b"DATAID", false) => d.dataid = value,
                        (b"FIRST_NAME", false) => d.parts[0] = value,
                        (b"SECOND_NAME", false) => d.parts[1] = value,
                        (b"THIRD_NAME", false) => d.parts[2] = value,
                        (b"FOURTH_NAME", false) => d.parts[3] = value,
                        (b"UN_LIST_TYPE", false) => d.list_type = value,
                        (b"REFERENCE_NUMBER", false) => d.reference = value,
                        (b"NAME_ORIGINAL_SCRIPT", false) => {
                            if let Some(v) = value {
                                split_listed(&v, true, &mut d.names);
                            }
                        }
                        (b"QUALITY", true) => {
                            if let Some(a) = d.alias.as_mut() {
                                a.0 = value;
                            }
                        }
                        (b"ALIAS_NAME", true) => {
                            if let Some(a) = d.alias.as_mut() {
                                a.1 = value;
                            }
                        }
                        (b"INDIVIDUAL_ALIAS" | b"ENTITY_ALIAS", true) => {
                            if let Some((quality, Some(alias))) = d.alias.take() {
                                let weak = quality.is_some_and(|q| q.eq_ignore_ascii_case("low"));
                                split_listed(&alias, weak, &mut d.names);
                            }
                        }
                        (b"INDIVIDUAL" | b"ENTITY", false) => {
                            let schema = *schema;
                            if let Some((_, d)) = draft.take() {
                                let entry = finish(schema, d).map_err(xml_error)?;
                                if !seen.insert(entry.id.clone()) {
                                    return Err(xml_error(format!("{} listed twice", entry.id)));
                                }
                                if entries.len() == MAX_ENTRIES {
                                    return Err(ListError::TooMany {
                                        file: FILE,
                                        what: "entries",
                                        limit: MAX_ENTRIES,
                                    });
                                }
                                entries.push(entry);
                            }
                        }
                        _ => {}
                    }
                    if draft.as_ref().is_some_and(|(_, d)| d.names.len() > MAX_NAMES_PER_ENTRY) {
                        return Err(ListError::TooMany {
                            file: FILE,
                            what: "names per entry",
                            limit: MAX_NAMES_PER_ENTRY,
                        });
                    }
                }
                Event::Eof => break,
                _ => {}
            }
            buf.clear();
        }
        drop(reader);
        if !closed {
            return Err(ListError::Truncated { file: FILE });
        }
        if entries.is_empty() {
            return Err(ListError::Empty { file: FILE });
        }
        let version = match generated {
            Some(date) => format!("{}:{date}", Self::SOURCE),
            None => format!("{}:fnv64-{:016x}", Self::SOURCE, raw.hash()),
        };
        Ok(ParsedList { entries, version })
    }
}

fn push_text(text: &mut String, more: &str) {
    if text.len() + more.len() <= MAX_TEXT {
        text.push_str(more);
    }
}

/// The entry a finished draft makes: its name parts joined as the primary name, before
/// the aliases (which were collected as they came).
fn finish(schema: Schema, d: Draft) -> Result<Entry, String> {
    let dataid = d.dataid.ok_or("an entry without DATAID")?;
    if !dataid.bytes().all(|b| b.is_ascii_alphanumeric()) || dataid.len() > 32 {
        return Err(format!("DATAID `{dataid}` is not an identifier"));
    }
    let primary = d.parts.iter().flatten().map(String::as_str).collect::<Vec<_>>().join(" ");
    let mut names = Vec::with_capacity(d.names.len() + 1);
    split_listed(&primary, false, &mut names);
    if names.is_empty() {
        return Err(format!("entry {dataid} has no name"));
    }
    for n in d.names {
        if !names.iter().any(|m| m.name == n.name) {
            names.push(n);
        }
    }
    Ok(Entry {
        id: format!("un:{dataid}"),
        schema,
        names,
        programs: d.list_type.into_iter().collect(),
        reference: d.reference,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<CONSOLIDATED_LIST dateGenerated="2026-02-27T00:00:09.554Z">
  <INDIVIDUALS>
    <INDIVIDUAL>
      <DATAID>6908555</DATAID>
      <FIRST_NAME>AYMAN</FIRST_NAME>
      <SECOND_NAME>MUHAMMED RABI</SECOND_NAME>
      <THIRD_NAME>AL-ZAWAHARI</THIRD_NAME>
      <UN_LIST_TYPE>Al-Qaida</UN_LIST_TYPE>
      <REFERENCE_NUMBER>QDi.006</REFERENCE_NUMBER>
      <NAME_ORIGINAL_SCRIPT>أيمن الظواهري</NAME_ORIGINAL_SCRIPT>
      <INDIVIDUAL_ALIAS><QUALITY>Good</QUALITY><ALIAS_NAME>Ahmad Fuad Salim</ALIAS_NAME></INDIVIDUAL_ALIAS>
      <INDIVIDUAL_ALIAS><QUALITY>Low</QUALITY><ALIAS_NAME>Abu Mohammed</ALIAS_NAME></INDIVIDUAL_ALIAS>
      <INDIVIDUAL_ALIAS><QUALITY/><ALIAS_NAME/></INDIVIDUAL_ALIAS>
    </INDIVIDUAL>
  </INDIVIDUALS>
  <ENTITIES>
    <ENTITY>
      <DATAID>6908024</DATAID>
      <FIRST_NAME>BUTEMBO AIRLINES (BAL) &amp; CO</FIRST_NAME>
      <UN_LIST_TYPE>DRC</UN_LIST_TYPE>
      <ENTITY_ALIAS><QUALITY>a.k.a.</QUALITY><ALIAS_NAME>BAL AIR</ALIAS_NAME></ENTITY_ALIAS>
    </ENTITY>
  </ENTITIES>
</CONSOLIDATED_LIST>"#;

    fn parse(xml: &[u8]) -> Result<ParsedList, ListError> {
        Un::new(xml).parse()
    }

    #[test]
    fn individuals_and_entities_are_read_with_their_aliases() {
        let list = parse(XML.as_bytes()).unwrap();
        assert_eq!(list.version, "un:2026-02-27T00:00:09.554Z");
        let [person, entity] = &list.entries[..] else { panic!("{:?}", list.entries) };
        assert_eq!(person.id, "un:6908555");
        assert_eq!(person.schema, Schema::Person);
        assert_eq!(person.programs, ["Al-Qaida"]);
        assert_eq!(person.reference.as_deref(), Some("QDi.006"));
        let names: Vec<(&str, bool)> = person.names.iter().map(|n| (n.name.as_str(), n.weak)).collect();
        assert_eq!(
            names,
            [
                ("AYMAN MUHAMMED RABI AL-ZAWAHARI", false),
                ("أيمن الظواهري", true),
                ("Ahmad Fuad Salim", false),
                ("Abu Mohammed", true),
            ]
        );
        assert_eq!(entity.schema, Schema::LegalEntity);
        let names: Vec<&str> = entity.names.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["BUTEMBO AIRLINES & CO", "BAL", "BAL AIR"]);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(xml in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = parse(&xml);
        }

        #[test]
        fn mangled_xml_never_panics(cut in 0..XML.len(), junk in "[<>/&;#a-zA-Z0-9 ]{0,20}") {
            let (head, tail) = XML.split_at(XML.floor_char_boundary(cut));
            let _ = parse(format!("{head}{junk}{tail}").as_bytes());
        }
    }

    #[test]
    fn gzip_is_read_too() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(XML.as_bytes()).unwrap();
        let list = parse(&gz.finish().unwrap()).unwrap();
        assert_eq!(list.entries.len(), 2);
    }

    #[test]
    fn a_cut_or_malformed_list_fails_the_load() {
        for cut in [XML.len() - 30, XML.len() / 2, 10] {
            let err = parse(&XML.as_bytes()[..cut]).unwrap_err();
            assert!(matches!(err, ListError::Truncated { .. } | ListError::Xml { .. }), "{cut}: {err}");
        }
        let mismatched = XML.replace("</FIRST_NAME>", "</FIRSTNAME>");
        assert!(matches!(parse(mismatched.as_bytes()), Err(ListError::Xml { .. })));
        assert!(matches!(parse(b"<OTHER></OTHER>"), Err(ListError::Xml { .. })));
        assert!(matches!(parse(b"<CONSOLIDATED_LIST/>"), Err(ListError::Empty { .. })));
        assert!(matches!(parse(b"<CONSOLIDATED_LIST></CONSOLIDATED_LIST>"), Err(ListError::Empty { .. })));
        assert!(matches!(parse(b""), Err(ListError::Truncated { .. })));
        let no_id = XML.replace("<DATAID>6908555</DATAID>", "");
        assert!(matches!(parse(no_id.as_bytes()), Err(ListError::Xml { .. })));
        let gz_garbage = [0x1f, 0x8b, 1, 2, 3];
        assert!(parse(&gz_garbage).is_err());
    }
}
