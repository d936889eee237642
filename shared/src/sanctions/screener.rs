//! Screening a name against all loaded lists.
//!
//! Every listed name is normalised once, at load, and indexed by its tokens, their
//! phonetic keys, their one-letter deletions (so a typo still finds its name, as in
//! SymSpell) and its spaceless form. A query looks up its own tokens, ranks the names it
//! reaches by how much rare evidence they share (particles and common names count
//! little), and fully compares only the best [`CANDIDATES`]: a screening costs
//! microseconds whatever the lists' size.
//!
//! A query of unknown schema is normalised as a person, an organisation and a vessel,
//! and each listed name is compared with the form of its own schema: `MS-13` is not
//! read as `Ms. 13`, nor `Hua Pao` as a Russian company.

use super::Schema;
use super::list::{Entry, ListVersion, SanctionsLists};
use super::matcher::{DEFAULT_THRESHOLD, compare_prepared};
use super::normalise::{PreparedName, Token, TokenKind, normalise};
use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::hash::{Hash, Hasher};

/// Names fully compared per screening, the most promising first.
pub const CANDIDATES: usize = 32;
/// A match on a weak alias counts this much of one on a name.
const WEAK_ALIAS: f64 = 0.95;
/// Postings longer than this (a particle such as `al`) are not walked when the query
/// has other tokens: they would only add noise.
const MAX_POSTINGS: usize = 2_000;

/// The best listed name for a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit<'a> {
    pub entry: &'a Entry,
    /// The listed name (primary or alias) that matched, as the list spells it.
    pub matched_name: &'a str,
    /// In [0, 1]; schema-adjusted.
    pub score: f64,
    /// At or above the screener's threshold.
    pub matched: bool,
    pub list_version: &'a ListVersion,
}

impl Hit<'_> {
    /// `ofac:<ent_num>` or `un:<DATAID>`.
    pub fn entry_id(&self) -> &str {
        &self.entry.id
    }

    pub fn programs(&self) -> &[String] {
        &self.entry.programs
    }
}

struct IndexedName {
    entry: u32,
    name: u32,
    prepared: PreparedName,
}

/// The lists, prepared for screening. Build once per container (a load of the full OFAC
/// and UN lists takes tens of milliseconds) and share it by reference.
pub struct Screener {
    lists: SanctionsLists,
    names: Vec<IndexedName>,
    postings: FxHashMap<u64, Vec<u32>>,
    threshold: f64,
}

/// What a posting is keyed by. Keys are hashed: a collision only adds a candidate.
#[derive(Hash, Clone, Copy)]
enum Key<'a> {
    Token(&'a str),
    Sound(&'a str),
    /// A token, or the token less one letter (tokens of four letters or more).
    Deletion(&'a str),
    Compact(&'a str),
}

impl Key<'_> {
    fn hash(self) -> u64 {
        let mut h = rustc_hash::FxHasher::default();
        Hash::hash(&self, &mut h);
        h.finish()
    }
}

/// Calls `each` with `token` and, when it has four letters or more, each way of
/// deleting one of them.
fn deletions(token: &str, mut each: impl FnMut(&str)) {
    each(token);
    let b = token.as_bytes();
    if b.len() < 4 || b.len() > 40 {
        return;
    }
    let mut buf = [0u8; 40];
    for i in 0..b.len() {
        if i > 0 && b[i] == b[i - 1] {
            continue; // deleting either of a double letter gives the same string
        }
        buf[..i].copy_from_slice(&b[..i]);
        buf[i..b.len() - 1].copy_from_slice(&b[i + 1..]);
        if let Ok(deleted) = std::str::from_utf8(&buf[..b.len() - 1]) {
            each(deleted);
        }
    }
}

/// Schemata normalise alike within each class: persons, organisations, the rest.
fn class(schema: Schema) -> usize {
    match schema {
        Schema::Person => 0,
        s if s.is_organisation() => 1,
        _ => 2,
    }
}

const CLASS_SCHEMA: [Schema; 3] = [Schema::Person, Schema::LegalEntity, Schema::Vessel];

/// A query normalised once per schema class it may be compared under.
struct Query {
    forms: [Option<PreparedName>; 3],
}

impl Query {
    fn new(name: &str, schema: Option<Schema>) -> Self {
        let forms = match schema {
            Some(s) => {
                let mut forms = [None, None, None];
                forms[class(s)] = Some(normalise(name, Some(s)));
                forms
            }
            None => CLASS_SCHEMA.map(|s| Some(normalise(name, Some(s)))),
        };
        Self { forms }
    }

    /// The form to compare with a name of `schema`.
    fn form(&self, schema: Schema) -> Option<&PreparedName> {
        self.forms[class(schema)].as_ref().or_else(|| self.forms.iter().flatten().next())
    }

    fn is_empty(&self) -> bool {
        self.forms.iter().flatten().all(PreparedName::is_empty)
    }
}

impl Screener {
    pub fn new(lists: SanctionsLists) -> Self {
        let mut names = Vec::with_capacity(lists.names());
        let mut postings: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
        for (e, entry) in lists.entries.iter().enumerate() {
            for (n, listed) in entry.names.iter().enumerate() {
                let prepared = normalise(&listed.name, Some(entry.schema));
                if prepared.is_empty() {
                    continue;
                }
                let at = names.len() as u32;
                let mut post = |key: Key<'_>| {
                    let list = postings.entry(key.hash()).or_default();
                    if list.last() != Some(&at) {
                        list.push(at);
                    }
                };
                for t in prepared.tokens.iter().filter(|t| t.kind != TokenKind::Initial) {
                    post(Key::Token(&t.text));
                    post(Key::Sound(&t.key));
                    deletions(&t.text, |d| post(Key::Deletion(d)));
                }
                post(Key::Compact(&prepared.compact));
                names.push(IndexedName { entry: e as u32, name: n as u32, prepared });
            }
        }
        Self { lists, names, postings, threshold: DEFAULT_THRESHOLD }
    }

    /// Matches are scores at or above `threshold` (default [`DEFAULT_THRESHOLD`]).
    pub fn with_threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }

    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    pub fn lists(&self) -> &SanctionsLists {
        &self.lists
    }

    pub fn version(&self) -> &ListVersion {
        &self.lists.version
    }

    /// The matching listed name, if any scores at or above the threshold.
    pub fn screen(&self, name: &str, schema: Option<Schema>) -> Option<Hit<'_>> {
        self.best(name, schema).filter(|h| h.matched)
    }

    /// The best-scoring listed name whatever its score; `None` when no listed name
    /// shares anything with `name`.
    pub fn best(&self, name: &str, schema: Option<Schema>) -> Option<Hit<'_>> {
        let query = Query::new(name, schema);
        if query.is_empty() {
            return None;
        }
        SCRATCH.with_borrow_mut(|scratch| {
            let candidates = self.candidates(&query, scratch);
            let mut best: Option<(f64, u32)> = None;
            for &i in candidates {
                let indexed = &self.names[i as usize];
                let entry = &self.lists.entries[indexed.entry as usize];
                let Some(form) = query.form(entry.schema) else { continue };
                let mut score = compare_prepared(form, &indexed.prepared)
                    * Schema::compatibility(schema, Some(entry.schema));
                if entry.names[indexed.name as usize].weak {
                    score *= WEAK_ALIAS;
                }
                // Ties go to the earlier name: primary names before aliases, lists in load order.
                if best.is_none_or(|(s, j)| score > s || (score == s && i < j)) {
                    best = Some((score, i));
                }
            }
            best.map(|(score, i)| self.hit(i, score))
        })
    }

    fn hit(&self, i: u32, score: f64) -> Hit<'_> {
        let indexed = &self.names[i as usize];
        let entry = &self.lists.entries[indexed.entry as usize];
        Hit {
            entry,
            matched_name: &entry.names[indexed.name as usize].name,
            score,
            matched: score >= self.threshold,
            list_version: &self.lists.version,
        }
    }

    /// The indexed names most worth comparing with `query`, at most [`CANDIDATES`].
    fn candidates<'s>(&self, query: &Query, scratch: &'s mut Scratch) -> &'s [u32] {
        scratch.start(self.names.len());
        let total = self.names.len().max(1) as f32;
        let idf = |len: usize| (total / len.max(1) as f32).ln().max(0.1);
        // The query's distinct tokens over its forms.
        let mut tokens: Vec<&Token> = Vec::with_capacity(8);
        for t in query.forms.iter().flatten().flat_map(|f| &f.tokens) {
            if t.kind != TokenKind::Initial && !tokens.iter().any(|u| u.text == t.text) {
                tokens.push(t);
            }
        }
        let lookups = tokens.len();
        let postings =
            |key: Key<'_>| self.postings.get(&key.hash()).filter(|l| lookups == 1 || l.len() <= MAX_POSTINGS);
        for t in tokens {
            let by_key = postings(Key::Sound(&t.key));
            let by_text = postings(Key::Token(&t.text));
            // A name with the same text has the same key: text adds what the key did not.
            let sound = by_key.map_or(0.0, |l| 0.8 * t.weight * idf(l.len()));
            let exact = by_text.map_or(0.0, |l| t.weight * idf(l.len()));
            for &i in by_key.into_iter().flatten() {
                scratch.add(i, sound);
            }
            for &i in by_text.into_iter().flatten() {
                scratch.add(i, (exact - sound).max(0.0));
            }
            // A token the lists do not hold may be a typo: names one edit away are found
            // through shared deletions, each counted once per token.
            if self.postings.contains_key(&Key::Token(&t.text).hash()) {
                continue;
            }
            scratch.next_token();
            deletions(&t.text, |d| {
                if let Some(list) = postings(Key::Deletion(d)) {
                    let typo = 0.6 * t.weight * idf(list.len());
                    for &i in list {
                        scratch.add_once(i, typo);
                    }
                }
            });
        }
        for form in query.forms.iter().flatten() {
            for &i in self.postings.get(&Key::Compact(&form.compact).hash()).into_iter().flatten() {
                scratch.add(i, 100.0);
            }
        }
        scratch.best(CANDIDATES)
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Per-thread accumulators over all indexed names, reset in O(1) per query by a
/// generation number instead of being cleared.
#[derive(Default)]
struct Scratch {
    generation: u32,
    seen: Vec<u32>,
    score: Vec<f32>,
    touched: Vec<u32>,
    /// Per name, the last query token ([`Scratch::token`]) that credited it a typo.
    typo_of: Vec<u32>,
    token: u32,
}

impl Scratch {
    fn start(&mut self, names: usize) {
        if self.seen.len() < names {
            self.seen.resize(names, 0);
            self.score.resize(names, 0.0);
            self.typo_of.resize(names, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.seen.fill(0);
            self.generation = 1;
        }
        self.touched.clear();
    }

    fn next_token(&mut self) {
        self.token = self.token.wrapping_add(1);
        if self.token == 0 {
            self.typo_of.fill(0);
            self.token = 1;
        }
    }

    /// Like [`Scratch::add`], at most once per name for the current token.
    fn add_once(&mut self, i: u32, amount: f32) {
        if self.typo_of[i as usize] != self.token {
            self.typo_of[i as usize] = self.token;
            self.add(i, amount);
        }
    }

    fn add(&mut self, i: u32, amount: f32) {
        let at = i as usize;
        if self.seen[at] != self.generation {
            self.seen[at] = self.generation;
            self.score[at] = 0.0;
            self.touched.push(i);
        }
        self.score[at] += amount;
    }

    fn best(&mut self, n: usize) -> &[u32] {
        let score = &self.score;
        let by_score = |a: &u32, b: &u32| score[*b as usize].total_cmp(&score[*a as usize]).then(a.cmp(b));
        if self.touched.len() > n {
            self.touched.select_nth_unstable_by(n, by_score);
            self.touched.truncate(n);
        }
        &self.touched
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sanctions::{ListParser, Ofac, Un};

    const SDN: &str = "\
2676,\"AL ZAWAHIRI, Dr. Ayman\",\"individual\",\"SDGT] [SDT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- 
2677,\"SMITH, John Paul\",\"individual\",\"SDGT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- 
6365,\"BIN LADEN, Usama bin Muhammad bin Awad\",\"individual\",\"SDGT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- 
4234,\"HERMANN\",\"vessel\",\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- 
10001,\"ROSOBORONEXPORT OAO\",-0- ,\"UKRAINE-EO13662\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- 
10002,\"HERMANN TRADING CO. LTD.\",-0- ,\"SDGT\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ";
    const ALT: &str = "6365,1,\"aka\",\"BIN LADIN, Osama\",-0- \n10001,2,\"aka\",\"ROE\",\"weak\"\n";
    const UN: &str = "<CONSOLIDATED_LIST dateGenerated=\"2026-01-01\"><INDIVIDUALS><INDIVIDUAL><DATAID>77</DATAID>\
        <FIRST_NAME>HASSAN</FIRST_NAME><SECOND_NAME>NASRALLAH</SECOND_NAME><UN_LIST_TYPE>X</UN_LIST_TYPE>\
        </INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>";

    fn screener() -> Screener {
        let ofac = Ofac::new(SDN.as_bytes(), ALT.as_bytes()).parse().unwrap();
        let un = Un::new(UN.as_bytes()).parse().unwrap();
        Screener::new(SanctionsLists::join(vec![ofac, un]))
    }

    #[test]
    fn a_listed_name_in_another_spelling_hits_its_entry() {
        let s = screener();
        let hit = s.screen("Osama bin Ladin", Some(Schema::Person)).unwrap();
        assert_eq!(hit.entry_id(), "ofac:6365");
        assert!(hit.matched && hit.score > 0.9);
        assert_eq!(hit.list_version.as_str(), s.version().as_str());
        assert!(hit.list_version.as_str().contains("un:2026-01-01"));
        assert_eq!(s.screen("Ayman al-Zawahiri", None).unwrap().entry_id(), "ofac:2676");
        assert_eq!(s.screen("Nasrallah, Hasan", None).unwrap().entry_id(), "un:77");
        assert_eq!(
            s.screen("Rosoboronexport", Some(Schema::Company)).unwrap().programs(),
            ["UKRAINE-EO13662"]
        );
    }

    #[test]
    fn unlisted_names_do_not_hit_but_report_their_best_candidate() {
        let s = screener();
        assert!(s.screen("Peter Smith", Some(Schema::Person)).is_none());
        let best = s.best("Peter Smith", Some(Schema::Person)).unwrap();
        assert_eq!(best.entry_id(), "ofac:2677");
        assert!(!best.matched);
        assert!(s.best("Zbigniew Brzezinski", None).is_none());
        assert!(s.best("", None).is_none());
    }

    #[test]
    fn the_schema_steers_between_a_vessel_and_a_company() {
        let s = screener();
        assert_eq!(s.best("Hermann", Some(Schema::Vessel)).unwrap().entry_id(), "ofac:4234");
        let person = s.best("Hermann", Some(Schema::Person)).unwrap();
        assert!(person.score < 0.8, "{}", person.score);
        assert_eq!(s.best("Hermann Trading", Some(Schema::Company)).unwrap().entry_id(), "ofac:10002");
    }

    proptest::proptest! {
        #[test]
        fn screening_any_name_never_panics_and_scores_within_bounds(name in "\\PC{0,80}", schema in 0..7usize) {
            let s = screener();
            let schema = [None, Some(Schema::Person), Some(Schema::Company), Some(Schema::Organization),
                Some(Schema::LegalEntity), Some(Schema::Vessel), Some(Schema::Aircraft)][schema];
            if let Some(hit) = s.best(&name, schema) {
                proptest::prop_assert!((0.0..=1.0).contains(&hit.score));
            }
        }
    }

    #[test]
    fn a_weak_alias_counts_less_than_a_name() {
        let s = screener();
        let hit = s.best("ROE", Some(Schema::Company)).unwrap();
        assert_eq!(hit.entry_id(), "ofac:10001");
        assert!(hit.score < 1.0);
    }
}
