//! Generated name variants for measuring the matcher: labelled pairs (transliterations,
//! reorderings, initials, typos, dropped middle names, nicknames, legal forms; and hard
//! negatives), perturbed listed names, and common names that are on no list.
//! Seeded: the same seed, the same sets.

use crate::sanctions::LabelledPair;
use rand::rngs::SmallRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use vigil_shared::sanctions::{SanctionsLists, Schema};

/// Spellings of one name across transliterations (first is the usual English one).
const SPELLINGS: &[&[&str]] = &[
    &["Mohammed", "Muhammad", "Mohamed", "Mohammad", "Muhammed", "Mohamad"],
    &["Ahmed", "Ahmad", "Akhmed"],
    &["Osama", "Usama", "Usamah"],
    &["Hussein", "Husayn", "Hussain", "Husein", "Hossein"],
    &["Yusuf", "Yousef", "Youssef", "Yousif", "Yusef"],
    &["Abdullah", "Abdallah", "Abdulla", "Abd Allah"],
    &["Abdulrahman", "Abdul Rahman", "Abd al-Rahman", "Abdel Rahman", "Abdurrahman"],
    &["Omar", "Umar", "Omer"],
    &["Khalid", "Khaled", "Halid", "Chalid"],
    &["Qaddafi", "Gaddafi", "Kadhafi", "Qadhafi", "Gadafi"],
    &["Laden", "Ladin"],
    &["Zawahiri", "Zawahari", "Zawahry"],
    &["Nasrallah", "Nasrullah", "Nasralla"],
    &["Aleksandr", "Alexander", "Aleksander", "Alexandr"],
    &["Sergei", "Sergey", "Sergej", "Serguei"],
    &["Yevgeny", "Evgeny", "Evgeniy", "Yevgeniy", "Jewgeni"],
    &["Dmitry", "Dmitri", "Dmitriy", "Dmitrij"],
    &["Tatiana", "Tatyana", "Tatjana"],
    &["Yuri", "Yury", "Yuriy", "Iurii", "Juri"],
    &["Mikhail", "Michail", "Mihail"],
    &["Nikolai", "Nikolay", "Nicolai"],
    &["Andrei", "Andrey", "Andrej"],
    &["Alexei", "Aleksei", "Alexey", "Aleksey"],
    &["Vladimirovich", "Vladimirovitch"],
    &["Ivanov", "Iwanow", "Ivanoff"],
    &["Khodorkovsky", "Khodorkovskiy", "Chodorkowski"],
    &["Tchaikovsky", "Chaikovsky", "Tschaikowski"],
    &["Jose", "José"],
    &["Muller", "Müller", "Mueller"],
    &["Hezbollah", "Hizballah", "Hizbullah"],
    &["Qaida", "Qaeda"],
    &["Shekau", "Shekaw"],
    &["Mahmoud", "Mahmud", "Mahmood"],
    &["Mustafa", "Mostafa", "Moustafa"],
    &["Saeed", "Said", "Sa'id", "Saied"],
    &["Rahim", "Raheem"],
    &["Karim", "Kareem"],
    &["Ibrahim", "Ebrahim", "Ibragim"],
    &["Ali", "Aly"],
    &["Hassan", "Hasan"],
    &["Jong Un", "Jong-un"],
    &["Zhang", "Chang"],
];

const GIVEN: &[&str] = &[
    "John",
    "Peter",
    "Maria",
    "Anna",
    "Robert",
    "William",
    "Michael",
    "Elizabeth",
    "Carlos",
    "Juan",
    "Luis",
    "Ana",
    "Mohammed",
    "Ahmed",
    "Ali",
    "Omar",
    "Khalid",
    "Yusuf",
    "Hassan",
    "Ibrahim",
    "Mustafa",
    "Fatima",
    "Aisha",
    "Aleksandr",
    "Sergei",
    "Dmitry",
    "Yevgeny",
    "Tatiana",
    "Olga",
    "Igor",
    "Viktor",
    "Wei",
    "Li",
    "Hui",
    "Jin",
    "Kim",
    "Hiroshi",
    "Rajesh",
    "Priya",
    "Hans",
    "Klaus",
    "Pierre",
    "Jean",
    "Giuseppe",
    "Marco",
    "Ayman",
    "Usama",
    "Nikolai",
    "Andrei",
    "Mikhail",
    "Alexei",
    "Abdullah",
    "Mahmoud",
    "Karim",
    "Rahim",
    "Gulbuddin",
    "Jalaluddin",
    "Emeka",
    "Chinedu",
    "Kwame",
    "Segun",
    "Oleksandr",
    "Bogdan",
    "Tomasz",
    "Zoltan",
    "Farid",
    "Reza",
    "Dariush",
];

const SURNAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Garcia",
    "Rodriguez",
    "Martinez",
    "Lopez",
    "Hernandez",
    "Gonzalez",
    "Perez",
    "Sanchez",
    "Ivanov",
    "Petrov",
    "Sidorov",
    "Volkov",
    "Kuznetsov",
    "Popov",
    "Sokolov",
    "Khodorkovsky",
    "Tchaikovsky",
    "Laden",
    "Zawahiri",
    "Nasrallah",
    "Qaddafi",
    "Haqqani",
    "Rahman",
    "Hussein",
    "Mahmoud",
    "Mustafa",
    "Khalil",
    "Wang",
    "Zhang",
    "Chen",
    "Liu",
    "Nakamura",
    "Tanaka",
    "Sharma",
    "Patel",
    "Singh",
    "Muller",
    "Schmidt",
    "Dubois",
    "Rossi",
    "Bianchi",
    "Okafor",
    "Adeyemi",
    "Mensah",
    "Kowalski",
    "Novak",
    "Horvath",
    "Tehrani",
    "Karimi",
    "Shekau",
    "Baghdadi",
    "Zarqawi",
    "Hekmatyar",
    "Abramovich",
    "Deripaska",
    "Vekselberg",
    "Rotenberg",
];

const MIDDLE: &[&str] = &[
    "Paul",
    "James",
    "Ali",
    "Abdul",
    "Maria",
    "Vladimirovich",
    "Ivanovich",
    "Ahmed",
    "Jose",
    "Lee",
    "Hassan",
];

const NICKNAMES: &[(&str, &str)] = &[
    ("Robert", "Bob"),
    ("William", "Bill"),
    ("Michael", "Mike"),
    ("Elizabeth", "Liz"),
    ("Aleksandr", "Sasha"),
    ("Dmitry", "Dima"),
    ("Yevgeny", "Zhenya"),
    ("Mikhail", "Misha"),
    ("Jose", "Pepe"),
    ("Francisco", "Paco"),
    ("James", "Jim"),
    ("Thomas", "Tom"),
];

const COMPANY_BASES: &[&str] = &[
    "Rosneft",
    "Gazprom",
    "Sovcomflot",
    "Rosoboronexport",
    "Mahan Air",
    "Tidewater Middle East",
    "Al Noor",
    "Al Rashid",
    "Golden Crescent",
    "Orient Star",
    "Sinaloa Cartel",
    "Banco Delta",
    "Korea Kwangson",
    "Islamic Republic Shipping",
    "Naftiran Intertrade",
    "Hesco",
    "Anglo Caribbean",
    "Petropars",
    "Kala Naft",
    "Sepehr Energy",
    "Triliance Petrochemical",
    "Zhongxing",
    "Huawei Technologies",
    "Caspian Star",
    "Nordic Blue",
    "Pacific Dragon",
    "Baltic Amber",
    "Sahara Gold",
    "Atlas Maritime",
    "Crescent Moon",
    "Delta Mining",
];

const LEGAL_FORMS: &[&str] = &[
    "LLC", "Ltd", "Limited", "GmbH", "OOO", "S.A.", "Co.", "Inc.", "Corp.", "PJSC", "JSC", "Company", "AG",
    "FZE",
];

const COMPANY_WORDS: &[&str] = &[
    "Trading",
    "Shipping",
    "Holding",
    "Group",
    "International",
    "Industries",
    "Energy",
    "Logistics",
    "Petroleum",
];

const VESSELS: &[&str] = &[
    "Ocean Star",
    "Sea Breeze",
    "Golden Eagle",
    "Grace",
    "Adrian Darya",
    "Sakina",
    "Pacific Pearl",
    "Nordic Wind",
    "Sun Rise",
    "Blue Whale",
    "Silver Moon",
    "Happy Venus",
    "Arctic Sunrise",
    "Lady Maria",
    "Coral Sea",
];

fn pick<'a>(rng: &mut SmallRng, from: &[&'a str]) -> &'a str {
    from.choose(rng).copied().unwrap_or_default()
}

/// Another spelling of `word`, if it has one.
fn respell(rng: &mut SmallRng, word: &str) -> Option<String> {
    let group = SPELLINGS.iter().find(|g| g.iter().any(|w| w.eq_ignore_ascii_case(word)))?;
    let others: Vec<&str> = group.iter().copied().filter(|w| !w.eq_ignore_ascii_case(word)).collect();
    others.choose(rng).map(|w| (*w).to_owned())
}

/// One random edit (substitution, deletion, insertion or transposition) in a word of
/// five letters or more, never its first letter.
fn typo(rng: &mut SmallRng, word: &str) -> String {
    let mut chars: Vec<char> = word.chars().collect();
    if chars.len() < 5 {
        return word.to_owned();
    }
    let at = rng.random_range(1..chars.len() - 1);
    let letter = char::from(b'a' + rng.random_range(0..26u8));
    match rng.random_range(0..4) {
        0 => chars[at] = letter,
        1 => {
            chars.remove(at);
        }
        2 => chars.insert(at, letter),
        _ => chars.swap(at, at + 1),
    }
    chars.into_iter().collect()
}

fn person(rng: &mut SmallRng) -> (String, String) {
    (pick(rng, GIVEN).to_owned(), pick(rng, SURNAMES).to_owned())
}

/// `n` labelled pairs, about half of them matches.
pub fn labelled_pairs(n: usize, seed: u64) -> Vec<LabelledPair> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let kind = rng.random_range(0..16);
        let (given, surname) = person(&mut rng);
        let full = format!("{given} {surname}");
        let p = |a: String, b: String, same: bool, category: &str| LabelledPair {
            name1: a,
            name2: b,
            schema: Some(Schema::Person),
            same,
            category: category.to_owned(),
        };
        let pair = match kind {
            0 => {
                let (g, s) = (respell(&mut rng, &given), respell(&mut rng, &surname));
                if g.is_none() && s.is_none() {
                    continue;
                }
                let other = format!("{} {}", g.unwrap_or(given), s.unwrap_or(surname));
                p(full, other, true, "transliteration")
            }
            1 => p(full, format!("{}, {given}", surname.to_uppercase()), true, "word order"),
            2 => p(full, format!("{} {given}", surname), true, "word order"),
            3 => {
                let middle = pick(&mut rng, MIDDLE);
                p(format!("{given} {middle} {surname}"), full, true, "dropped middle")
            }
            4 => {
                let middle = pick(&mut rng, MIDDLE);
                let initial = &middle[..1];
                p(
                    format!("{given} {middle} {surname}"),
                    format!("{given} {initial}. {surname}"),
                    true,
                    "initials",
                )
            }
            5 => p(full, format!("{} {}", typo(&mut rng, &given), surname), true, "typo"),
            6 => p(full.clone(), format!("{given} {}", typo(&mut rng, &surname)), true, "typo"),
            7 => {
                let Some((formal, nick)) = NICKNAMES.choose(&mut rng) else { continue };
                p(format!("{formal} {surname}"), format!("{nick} {surname}"), true, "nickname")
            }
            8 | 9 => {
                let other = pick(&mut rng, GIVEN);
                if other == given || respell(&mut rng, other).is_some_and(|o| o == given) {
                    continue;
                }
                p(full, format!("{other} {surname}"), false, "same surname")
            }
            10 => {
                let other = pick(&mut rng, SURNAMES);
                if other == surname {
                    continue;
                }
                p(full, format!("{given} {other}"), false, "same given")
            }
            11 => {
                let (g2, s2) = person(&mut rng);
                if g2 == given || s2 == surname {
                    continue;
                }
                p(full, format!("{g2} {s2}"), false, "different")
            }
            12 | 13 => {
                let base = pick(&mut rng, COMPANY_BASES);
                let word = if rng.random_bool(0.5) {
                    format!(" {}", pick(&mut rng, COMPANY_WORDS))
                } else {
                    String::new()
                };
                let (f1, f2) = (pick(&mut rng, LEGAL_FORMS), pick(&mut rng, LEGAL_FORMS));
                let a = format!("{base}{word} {f1}");
                let b = match rng.random_range(0..3) {
                    0 => format!("{}{word} {f2}", base.to_uppercase()),
                    1 => format!("{base}{word}"),
                    _ => format!("{}{word} {f2}", typo(&mut rng, base)),
                };
                LabelledPair {
                    name1: a,
                    name2: b,
                    schema: Some(Schema::Company),
                    same: true,
                    category: "company".into(),
                }
            }
            14 => {
                let (a, b) = (pick(&mut rng, COMPANY_BASES), pick(&mut rng, COMPANY_BASES));
                if a == b {
                    continue;
                }
                let word = pick(&mut rng, COMPANY_WORDS);
                let f = pick(&mut rng, LEGAL_FORMS);
                LabelledPair {
                    name1: format!("{a} {word} {f}"),
                    name2: format!("{b} {word} {f}"),
                    schema: Some(Schema::Company),
                    same: false,
                    category: "company negative".into(),
                }
            }
            _ => {
                let a = pick(&mut rng, VESSELS);
                let same = rng.random_bool(0.5);
                let b = if same {
                    if rng.random_bool(0.5) { a.to_uppercase() } else { typo(&mut rng, a) }
                } else {
                    let b = pick(&mut rng, VESSELS);
                    if a == b {
                        continue;
                    }
                    b.to_owned()
                };
                let category = if same { "vessel" } else { "vessel negative" };
                LabelledPair {
                    name1: a.to_owned(),
                    name2: b,
                    schema: Some(Schema::Vessel),
                    same,
                    category: category.into(),
                }
            }
        };
        if pair.name1 != pair.name2 || pair.same {
            out.push(pair);
        }
    }
    out
}

/// A listed name, perturbed.
pub struct Perturbed {
    pub entry_id: String,
    pub original: String,
    pub name: String,
    pub schema: Option<Schema>,
    pub how: &'static str,
}

/// `n` primary names of random OFAC entries (the SDN list), each perturbed one way: a typo, another word
/// order, a dropped middle word, an initial, case and punctuation, a legal form
/// changed, or accents added. Half carry their schema, half none.
pub fn perturbed_listed(lists: &SanctionsLists, n: usize, seed: u64) -> Vec<Perturbed> {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x5eed);
    let mut out = Vec::with_capacity(n);
    let sdn: Vec<_> = lists.entries.iter().filter(|e| e.id.starts_with("ofac:")).collect();
    let mut tries = 0;
    while out.len() < n && tries < n * 20 {
        tries += 1;
        let Some(entry) = sdn.choose(&mut rng) else { break };
        let Some(primary) = entry.names.first() else { continue };
        let original = primary.name.clone();
        // In the order one would write it: `LAST, First` undone.
        let written = match original.split_once(", ") {
            Some((last, first)) if entry.schema == Schema::Person && !first.contains(',') => {
                format!("{first} {last}")
            }
            _ => original.clone(),
        };
        let words: Vec<&str> = written.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        let long: Vec<usize> = (0..words.len()).filter(|&i| words[i].chars().count() >= 5).collect();
        let (how, name) = match rng.random_range(0..7) {
            0 if !long.is_empty() => {
                let Some(&i) = long.choose(&mut rng) else { continue };
                let mut w: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
                w[i] = typo(&mut rng, &w[i]);
                ("typo", w.join(" "))
            }
            1 if words.len() >= 2 => {
                let mut w = words.clone();
                w.rotate_left(1);
                ("word order", w.join(" "))
            }
            2 if words.len() >= 3 && entry.schema == Schema::Person => {
                let mut w = words.clone();
                w.remove(rng.random_range(1..words.len() - 1));
                ("dropped middle", w.join(" "))
            }
            3 if words.len() >= 3 && entry.schema == Schema::Person => {
                let mut w: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
                let i = rng.random_range(1..words.len() - 1);
                w[i] = format!("{}.", w[i].chars().next().unwrap_or('x'));
                ("initial", w.join(" "))
            }
            4 => {
                let clean: String = written
                    .chars()
                    .map(|c| if c.is_alphanumeric() { c } else { ' ' })
                    .collect::<String>()
                    .to_lowercase();
                ("case and punctuation", clean)
            }
            5 if entry.schema != Schema::Person => {
                ("legal form", format!("{written} {}", pick(&mut rng, LEGAL_FORMS)))
            }
            6 => {
                let accented: String = written
                    .chars()
                    .map(|c| match c {
                        'e' => 'é',
                        'a' => 'á',
                        'o' => 'ö',
                        'E' => 'É',
                        'A' => 'Á',
                        _ => c,
                    })
                    .collect();
                ("accents", accented)
            }
            _ => continue,
        };
        let schema = rng.random_bool(0.5).then_some(entry.schema);
        out.push(Perturbed { entry_id: entry.id.clone(), original, name, schema, how });
    }
    out
}

/// Common given names with common surnames, and everyday company names: names a bank's
/// customers have that no list holds.
pub fn common_names(n: usize, seed: u64) -> Vec<(String, Option<Schema>)> {
    const COMMON_GIVEN: &[&str] = &[
        "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David", "Sarah",
        "Maria", "Jose", "Juan", "Ana", "Luis", "Carmen", "Wei", "Li", "Min", "Hiroshi", "Yuki", "Priya",
        "Amit", "Rahul", "Mohammed", "Fatima", "Ahmed", "Aisha", "Omar", "Olga", "Ivan", "Elena", "Hans",
        "Anna", "Pierre", "Sophie", "Giulia", "Luca", "Emeka", "Ngozi", "Kofi", "Thomas", "Emma", "Noah",
        "Olivia", "Lucas", "Mia",
    ];
    const COMMON_SURNAMES: &[&str] = &[
        "Smith",
        "Johnson",
        "Williams",
        "Brown",
        "Jones",
        "Miller",
        "Davis",
        "Wilson",
        "Anderson",
        "Taylor",
        "Moore",
        "Jackson",
        "Martin",
        "Lee",
        "Thompson",
        "White",
        "Harris",
        "Clark",
        "Lewis",
        "Walker",
        "Young",
        "Garcia",
        "Fernandez",
        "Torres",
        "Ramos",
        "Wang",
        "Li",
        "Zhang",
        "Liu",
        "Sato",
        "Suzuki",
        "Kumar",
        "Gupta",
        "Shah",
        "Khan",
        "Ahmed",
        "Hassan",
        "Ivanova",
        "Smirnov",
        "Schneider",
        "Fischer",
        "Weber",
        "Dupont",
        "Bernard",
        "Ricci",
        "Esposito",
        "Okonkwo",
        "Mensah",
        "Nielsen",
        "Jensen",
        "Novak",
        "Kowalski",
    ];
    const SHOPS: &[&str] = &[
        "Sunrise Bakery",
        "Green Valley Farms",
        "Main Street Dental",
        "Blue Sky Consulting",
        "Riverside Auto Repair",
        "Northwind Traders",
        "Maple Leaf Cafe",
        "City Plumbing",
        "Bright Smile Clinic",
        "Oak Tree Nursery",
        "Harbor View Hotel",
        "Summit Accounting",
        "Golden Gate Deli",
        "Pine Hill Builders",
        "Silver Lake Books",
    ];
    let mut rng = SmallRng::seed_from_u64(seed ^ 0xc0ffee);
    (0..n)
        .map(|_| {
            if rng.random_bool(0.1) {
                let shop = pick(&mut rng, SHOPS);
                let form = pick(&mut rng, &["LLC", "Ltd", "Inc.", "GmbH"]);
                (format!("{shop} {form}"), rng.random_bool(0.5).then_some(Schema::Company))
            } else {
                let name = format!("{} {}", pick(&mut rng, COMMON_GIVEN), pick(&mut rng, COMMON_SURNAMES));
                (name, rng.random_bool(0.5).then_some(Schema::Person))
            }
        })
        .collect()
}
