//! Card and account numbers never stored in the clear; names never stored at all.
//!
//! At every entry point (producer API and files, the scorer for upstream systems that
//! write to the stream directly, the decision API) an event is [`Privacy::protect`]ed:
//! what compliance must be able to read back (account numbers, counterparty and customer
//! names) is sealed (envelope encryption, [`seal`]), then card and account numbers are
//! replaced by deterministic tokens ([`token`]) and clear names dropped. Everything
//! downstream (state, features, the lake, alerts, reports) works on tokens; the scorer
//! opens sealed names in memory for sanctions screening only ([`Privacy::open_names`]).

pub mod seal;
pub mod token;

pub use seal::{DataKey, Envelope, KeyService, LocalKeys, Purpose, SealError, Sealed};
pub use token::{TokenError, TokenKey, Tokeniser};

use crate::aml::{FlowEvent, PartyName};
use crate::ids::{AccountId, CustomerId, TransactionId};
use crate::wire::Event;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Where data keys come from: KMS when deployed, a local master key in tests and the CLI.
pub enum Keys {
    Local(LocalKeys),
    #[cfg(feature = "aws")]
    Kms(crate::aws::kms::KmsKeys),
}

impl KeyService for Keys {
    async fn generate(&self, purpose: Purpose) -> Result<DataKey, SealError> {
        match self {
            Keys::Local(k) => k.generate(purpose).await,
            #[cfg(feature = "aws")]
            Keys::Kms(k) => k.generate(purpose).await,
        }
    }

    async fn unwrap(&self, wrapped: &[u8], purpose: Purpose) -> Result<[u8; 32], SealError> {
        match self {
            Keys::Local(k) => k.unwrap(wrapped, purpose).await,
            #[cfg(feature = "aws")]
            Keys::Kms(k) => k.unwrap(wrapped, purpose).await,
        }
    }
}

/// A deployment's tokeniser and envelope.
pub struct Privacy {
    pub tokens: Tokeniser,
    pub envelope: Envelope<Keys>,
    /// Keys the record ids of customer profiles (a digest of the profile's fields).
    profile_key: Vec<u8>,
}

impl Privacy {
    pub fn new(tokens: Tokeniser, keys: Keys) -> Self {
        let profile_key = tokens.tokenise("vigil:profile-id").into_bytes();
        Self { tokens, envelope: Envelope::new(keys), profile_key }
    }

    /// Fixed keys, for tests and local runs that need no deployment: never for real data.
    pub fn for_tests() -> Self {
        let key = TokenKey::new(1, b"vigil-test-token-key-not-secret!", None)
            .unwrap_or_else(|_| unreachable!("32 bytes, version 1"));
        Self::new(Tokeniser::new(key, Vec::new()), Keys::Local(LocalKeys::new([0x5a; 32])))
    }

    /// Seals what compliance must read back, then tokenises: the event as it may be
    /// published and stored. Safe to repeat: tokens are not tokenised again, sealed
    /// copies are kept.
    pub async fn protect(&self, mut event: Event) -> Result<Event, SealError> {
        let party = Purpose::Party;
        match &mut event {
            Event::Flow(flow) => {
                let sealed = &mut flow.sealed;
                match &mut flow.event {
                    FlowEvent::Transfer(t) => {
                        if sealed.account.is_none() && !self.tokens.is_token(t.payer.as_str()) {
                            sealed.account =
                                Some(self.envelope.seal(party, t.payer.as_str().as_bytes()).await?);
                        }
                        if sealed.payee_account.is_none() && !self.tokens.is_token(t.payee.as_str()) {
                            sealed.payee_account =
                                Some(self.envelope.seal(party, t.payee.as_str().as_bytes()).await?);
                        }
                        if let Some(name) = t.payee_name.take()
                            && sealed.payee_name.is_none()
                        {
                            sealed.payee_name =
                                Some(self.envelope.seal(party, name.as_str().as_bytes()).await?);
                        }
                    }
                    FlowEvent::Cash(c) => {
                        if sealed.account.is_none() && !self.tokens.is_token(c.account.as_str()) {
                            sealed.account =
                                Some(self.envelope.seal(party, c.account.as_str().as_bytes()).await?);
                        }
                    }
                }
            }
            Event::Customer(p) => {
                if let Some(name) = p.name.take()
                    && p.sealed_name.is_none()
                {
                    p.sealed_name = Some(self.envelope.seal(party, name.as_str().as_bytes()).await?);
                }
            }
            Event::Transaction(_) | Event::Label(_) => {}
        }
        Ok(self.tokenise(event))
    }

    /// Card and account numbers → tokens (synchronous: no key service), with no sealed
    /// copy: for card payments, whose numbers nobody reads back.
    pub fn tokenise(&self, mut event: Event) -> Event {
        let account = |a: &mut AccountId| {
            if !self.tokens.is_token(a.as_str()) {
                *a = self.account_token(a);
            }
        };
        match &mut event {
            Event::Transaction(tx) => tx.customer = self.customer_token(&tx.customer),
            Event::Flow(flow) => match &mut flow.event {
                FlowEvent::Transfer(t) => {
                    account(&mut t.payer);
                    account(&mut t.payee);
                }
                FlowEvent::Cash(c) => account(&mut c.account),
            },
            Event::Customer(p) => {
                p.customer = self.customer_token(&p.customer);
                p.accounts.iter_mut().for_each(account);
                p.id = self.profile_id(&p.id);
            }
            Event::Label(_) => {}
        }
        event
    }

    /// Fills in names from their sealed copies, in memory, for screening.
    pub async fn open_names(&self, event: &mut Event) -> Result<(), SealError> {
        let party = Purpose::Party;
        match event {
            Event::Flow(flow) => {
                if let (FlowEvent::Transfer(t), Some(sealed)) = (&mut flow.event, &flow.sealed.payee_name)
                    && t.payee_name.is_none()
                {
                    t.payee_name = PartyName::parse(&self.envelope.open_text(party, sealed).await?).ok();
                }
            }
            Event::Customer(p) => {
                if let (None, Some(sealed)) = (&p.name, &p.sealed_name) {
                    p.name = PartyName::parse(&self.envelope.open_text(party, sealed).await?).ok();
                }
            }
            Event::Transaction(_) | Event::Label(_) => {}
        }
        Ok(())
    }

    fn customer_token(&self, c: &CustomerId) -> CustomerId {
        // A token is at most 4 + 7 + 5 + 20 characters of the id alphabet.
        CustomerId::parse(&self.tokens.tokenise(c.as_str())).unwrap_or_else(|_| c.clone())
    }

    fn account_token(&self, a: &AccountId) -> AccountId {
        AccountId::parse(&self.tokens.tokenise(a.as_str())).unwrap_or_else(|_| a.clone())
    }

    /// A profile's content digest keyed, so the digest of guessable fields (a name, a
    /// date of birth) cannot be tested against guesses. Already keyed ids stay.
    fn profile_id(&self, id: &TransactionId) -> TransactionId {
        if id.as_str().starts_with("profile:k") {
            return id.clone();
        }
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.profile_key)
            .unwrap_or_else(|_| unreachable!("any length"));
        mac.update(id.as_str().as_bytes());
        let hex: String = mac.finalize().into_bytes()[..12].iter().map(|b| format!("{b:02x}")).collect();
        TransactionId::parse(&format!("profile:k{hex}")).unwrap_or_else(|_| id.clone())
    }
}

#[cfg(test)]
mod tests;
