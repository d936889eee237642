use super::*;
use pollster::block_on;

fn record(i: usize) -> AuditRecord {
    AuditRecord::new(
        "arn:aws:sts::1:assumed-role/vigil-compliance/jane",
        AuditAction::Reveal,
        "sealed:party",
        "opened 1 value(s)",
    )
    .input("reason", format!("case {i}").as_bytes())
}

fn trail(n: usize) -> AuditTrail<MemoryAuditStore> {
    let trail = AuditTrail::new(MemoryAuditStore::default());
    for i in 0..n {
        block_on(trail.append(record(i))).unwrap();
    }
    trail
}

fn verified(trail: &AuditTrail<MemoryAuditStore>) -> Result<Verified, Broken> {
    block_on(trail.verify()).unwrap()
}

#[test]
fn entries_chain_each_to_the_one_before() {
    let trail = trail(3);
    let entries: Vec<AuditEntry> =
        (1..=3).map(|seq| AuditEntry::parse(&trail.store.latest(seq).unwrap()).unwrap()).collect();
    assert_eq!(entries[0].prev, chain::GENESIS);
    assert_eq!(entries[1].prev, entries[0].hash);
    assert_eq!(entries[2].prev, entries[1].hash);
    assert!(entries[0].inputs["reason"].starts_with("sha256:"), "inputs are hashes, not values");
    assert!(!String::from_utf8(trail.store.latest(1).unwrap()).unwrap().contains("case 0"));
    assert_eq!(verified(&trail), Ok(Verified { entries: 3, head: entries[2].hash.clone() }));
}

#[test]
fn an_edited_entry_is_named() {
    let trail = trail(5);
    let text = String::from_utf8(trail.store.latest(3).unwrap()).unwrap();
    // Written over: a second version of entry 3.
    trail.store.overwrite(3, text.replace("opened 1", "opened 0").into_bytes());
    let broken = verified(&trail).unwrap_err();
    assert_eq!((broken.seq, broken.problem.clone()), (3, Problem::Rewritten { versions: 2 }));
    assert_eq!(broken.intact, 2);
    // Edited in place (a store without Object Lock): its own hash no longer matches.
    trail.store.replace(3, text.replace("opened 1", "opened 0").into_bytes());
    assert_eq!(
        verified(&trail).unwrap_err().problem,
        Problem::Altered("its hash does not match its content")
    );
    // Edited and re-hashed: the next entry's link gives it away.
    let mut forged = AuditEntry::parse(text.as_bytes()).unwrap();
    forged.result = "opened 0 value(s)".into();
    forged.hash = String::new();
    forged.hash = sha256_tag(&forged.to_bytes());
    trail.store.replace(3, forged.to_bytes());
    assert_eq!(verified(&trail).unwrap_err(), Broken { seq: 3, problem: Problem::Replaced, intact: 2 });
    // Reformatted: same meaning, not the bytes written.
    trail.store.replace(3, text.replace(',', ", ").into_bytes());
    assert_eq!(verified(&trail).unwrap_err().problem, Problem::Altered("not as it was written"));
}

#[test]
fn a_deleted_or_garbled_entry_is_named() {
    let trail = trail(4);
    trail.store.delete(2);
    assert_eq!(verified(&trail).unwrap_err(), Broken { seq: 2, problem: Problem::Missing, intact: 1 });
    let trail = self::trail(2);
    trail.store.replace(1, b"{}".to_vec());
    assert!(matches!(verified(&trail).unwrap_err().problem, Problem::Unreadable(_)));
    let two = trail.store.latest(2).unwrap();
    trail.store.replace(1, two);
    assert_eq!(verified(&trail).unwrap_err().problem, Problem::Misplaced { carries: 2 });
}

#[test]
fn a_chain_that_cannot_be_read_is_not_appended_to() {
    let trail = trail(1);
    trail.store.replace(1, b"garbage".to_vec());
    assert!(matches!(block_on(trail.append(record(9))), Err(AuditError::Corrupt { seq: 1, .. })));
}

#[test]
fn configuration_is_recorded_when_it_changes_and_carried_forward() {
    let trail = trail(0);
    let first = block_on(trail.record_configuration("lambda:scorer", "sha256:aa", "model m1, rules r1"));
    assert!(first.unwrap().is_some());
    assert_eq!(
        block_on(trail.record_configuration("lambda:scorer", "sha256:aa", "model m1, rules r1")),
        Ok(None)
    );
    let reveal = block_on(trail.append(record(1))).unwrap();
    assert_eq!(reveal.configuration.as_deref(), Some("sha256:aa"), "carried forward");
    assert_eq!(block_on(trail.record_configuration("lambda:scorer", "sha256:aa", "same")), Ok(None));
    let changed =
        block_on(trail.record_configuration("lambda:scorer", "sha256:bb", "model m2")).unwrap().unwrap();
    assert_eq!((changed.seq, changed.action), (3, AuditAction::ConfigurationChange));
    assert!(verified(&trail).is_ok());
}

/// Yields between reading the head and creating the next entry, as a store across a
/// network does: writers interleave there.
struct Yielding(MemoryAuditStore);

impl AuditStore for Yielding {
    async fn head(&self) -> Result<Option<StoredEntry>, AuditError> {
        let head = self.0.head().await;
        tokio::task::yield_now().await;
        head
    }
    async fn create(&self, seq: u64, bytes: Vec<u8>) -> Result<bool, AuditError> {
        self.0.create(seq, bytes).await
    }
    async fn entries(&self) -> Result<Vec<StoredEntry>, AuditError> {
        self.0.entries().await
    }
}

#[test]
fn concurrent_writers_never_fork_the_chain() {
    let trail = std::sync::Arc::new(AuditTrail::new(Yielding(MemoryAuditStore::default())));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let trail = trail.clone();
                tokio::spawn(async move { trail.append(record(i)).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    });
    assert_eq!(block_on(trail.verify()).unwrap().map(|v| v.entries), Ok(20));
}
