//! AML typologies: each is built from its section of [`AmlConfig`](super::AmlConfig) and
//! looks at one event with the states it touched, reporting a [`Hit`] per subject account.

mod cycle;
mod dormant;
mod fan_in;
mod fan_out;
mod gather_scatter;
mod geography;
mod pass_through;
mod split;
mod structuring;
mod token;
mod unusual;
mod velocity;

pub use cycle::Cycle;
pub use dormant::Dormant;
pub use fan_in::FanIn;
pub use fan_out::FanOut;
pub use gather_scatter::GatherScatter;
pub use geography::Geography;
pub use pass_through::PassThrough;
pub use split::SplitPayments;
pub use structuring::Structuring;
pub use token::TokenPayment;
pub use unusual::UnusualPayment;
pub use velocity::Velocity;

use super::config::AmlConfig;
use super::event::{CashMovement, Transfer};
use super::state::{AccountState, SECS_PER_HOUR};
use crate::ids::AccountId;
use rust_decimal::Decimal;

/// The code of [`UnusualPayment`], whose hits the payer's baseline does not learn from.
pub const UNUSUAL: &str = "AML_UNUSUAL_PAYMENT";

/// One typology matched: whose score it raises, by how much, who took part, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub code: &'static str,
    pub subject: AccountId,
    pub weight: f32,
    /// Every account of the pattern, the subject included.
    pub participants: Vec<AccountId>,
    /// What an analyst reads.
    pub detail: String,
}

/// A transfer and the two accounts' states after recording it, with what they were before.
pub struct TransferCx<'a> {
    pub transfer: &'a Transfer,
    pub at: i64,
    pub payer: &'a AccountState,
    pub payee: &'a AccountState,
    /// Whether the payer had paid this payee before.
    pub payer_knew_payee: bool,
    /// The payer's usual payment before this one (or its opening balance).
    pub payer_reference: Option<Decimal>,
    pub payer_last_activity: Option<i64>,
    pub payee_last_activity: Option<i64>,
}

/// A cash movement and its account's state after recording it.
pub struct CashCx<'a> {
    pub cash: &'a CashMovement,
    pub at: i64,
    pub account: &'a AccountState,
    pub last_activity: Option<i64>,
}

pub trait Typology: Send + Sync {
    fn code(&self) -> &'static str;

    fn on_transfer(&self, _cx: &TransferCx<'_>, _hits: &mut Vec<Hit>) {}

    fn on_cash(&self, _cx: &CashCx<'_>, _hits: &mut Vec<Hit>) {}
}

/// The typologies a configuration describes, in reporting order.
pub fn build(config: &AmlConfig) -> Vec<Box<dyn Typology>> {
    vec![
        Box::new(Structuring { config: config.structuring.clone(), ctr_threshold: config.ctr.threshold }),
        Box::new(UnusualPayment(config.unusual_payment.clone())),
        Box::new(TokenPayment(config.token_payment.clone())),
        Box::new(SplitPayments(config.split_payments.clone())),
        Box::new(FanIn(config.fan_in.clone())),
        Box::new(FanOut(config.fan_out.clone())),
        Box::new(GatherScatter(config.gather_scatter.clone())),
        Box::new(PassThrough(config.pass_through.clone())),
        Box::new(Cycle(config.cycle.clone())),
        Box::new(Dormant(config.dormant.clone())),
        Box::new(Geography(config.geography.clone())),
        Box::new(Velocity(config.velocity.clone())),
    ]
}

fn hours(h: u32) -> i64 {
    i64::from(h) * SECS_PER_HOUR
}

/// `subject` first, then `others` not already listed.
fn members(subject: &AccountId, others: impl IntoIterator<Item = AccountId>) -> Vec<AccountId> {
    let mut all = vec![subject.clone()];
    for a in others {
        if !all.contains(&a) {
            all.push(a);
        }
    }
    all
}

/// Account ids for a detail line, at most five then a count.
fn list(accounts: &[AccountId]) -> String {
    let mut s: Vec<&str> = accounts.iter().take(5).map(AccountId::as_str).collect();
    let more;
    if accounts.len() > 5 {
        more = format!("+{} more", accounts.len() - 5);
        s.push(&more);
    }
    s.join(", ")
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::aml::event::AccountProfile;
    use crate::ids::TransactionId;
    use crate::money::Amount;

    pub const H: i64 = SECS_PER_HOUR;
    pub const D: i64 = 24 * H;

    pub fn acct(s: &str) -> AccountId {
        AccountId::parse(s).unwrap()
    }

    pub fn transfer(payer: &str, payee: &str, amount: &str, at: i64) -> Transfer {
        Transfer {
            id: TransactionId::parse(&format!("{payer}-{payee}-{at}")).unwrap(),
            payer: acct(payer),
            payee: acct(payee),
            amount: Amount::parse(amount).unwrap(),
            at: chrono::DateTime::from_timestamp(at, 0).unwrap(),
            payee_name: None,
            payee_bic: None,
            payee_country: None,
        }
    }

    /// Runs `t` through `typology` alone on `payer`/`payee`, recording it as the engine does.
    pub fn run(
        typology: &dyn Typology,
        t: &Transfer,
        payer: &mut AccountState,
        payee: &mut AccountState,
    ) -> Vec<Hit> {
        let at = t.at.timestamp();
        let (knew, reference) = (payer.has_paid(&t.payee), payer.reference_payment(3));
        let (pl, ql) = (payer.last_activity, payee.last_activity);
        payer.record_outflow(at, &t.payee, t.amount.value());
        payee.record_inflow(at, &t.payer, t.amount.value());
        let cx = TransferCx {
            transfer: t,
            at,
            payer,
            payee,
            payer_knew_payee: knew,
            payer_reference: reference,
            payer_last_activity: pl,
            payee_last_activity: ql,
        };
        let mut hits = Vec::new();
        typology.on_transfer(&cx, &mut hits);
        if !hits.iter().any(|h| h.code == UNUSUAL) {
            payer.learn_payment(t.amount.value());
        }
        hits
    }

    /// Payer/payee states keyed by name, for scenario tests of one typology.
    #[derive(Default)]
    pub struct Accounts(pub std::collections::BTreeMap<String, AccountState>);

    impl Accounts {
        pub fn send(
            &mut self,
            typology: &dyn Typology,
            payer: &str,
            payee: &str,
            amount: &str,
            at: i64,
        ) -> Vec<Hit> {
            let t = transfer(payer, payee, amount, at);
            let mut p = self.0.remove(payer).unwrap_or_default();
            let mut q = self.0.remove(payee).unwrap_or_default();
            let hits = run(typology, &t, &mut p, &mut q);
            self.0.insert(payer.into(), p);
            self.0.insert(payee.into(), q);
            hits
        }

        pub fn open(&mut self, account: &str, opening_balance: &str) {
            let profile = AccountProfile {
                opening_balance: Some(Amount::parse(opening_balance).unwrap()),
                ..Default::default()
            };
            self.0.insert(account.into(), AccountState::with_profile(profile));
        }
    }
}
