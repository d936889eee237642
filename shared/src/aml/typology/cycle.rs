//! Cycles (round-tripping): money comes back to an account it left, through one or more
//! hops, within a window.
//!
//! Found online with bounded state by provenance tags: an account that pays keeps its
//! identity on the payee as a tag (origin, when, how much). An account that pays on
//! about as much as a tagged inflow brought passes the tag along, appending itself to the
//! tag's path. A transfer whose payee is the origin of one of the payer's tags closes a
//! cycle, and the tag's path names every member. Tags per account, hops per tag and their
//! age are all capped (see [`crate::aml::state`]); propagation is the engine's.

use super::{Hit, TransferCx, Typology, hours};
use crate::aml::config::CycleConfig;
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;

pub struct Cycle(pub CycleConfig);

impl Typology for Cycle {
    fn code(&self) -> &'static str {
        "AML_CYCLE"
    }

    fn on_transfer(&self, cx: &TransferCx<'_>, hits: &mut Vec<Hit>) {
        let t = cx.transfer;
        let tolerance = Decimal::from_f64(self.0.amount_tolerance).unwrap_or_default();
        let back = t.amount.value();
        let closing = cx.payer.tags.iter().filter(|tag| {
            tag.origin == t.payee
                && tag.left_at > cx.at - hours(self.0.window_hours)
                && tag.path.len() + 2 <= self.0.max_hops as usize
        });
        // The closest amount wins: the likeliest to be the same money.
        let Some(tag) = closing.min_by_key(|tag| (back - tag.amount_left).abs()) else {
            return;
        };
        let matched = (back - tag.amount_left).abs() <= tag.amount_left * tolerance;
        let mut participants = vec![t.payee.clone()];
        participants.extend(tag.path.iter().cloned());
        participants.push(t.payer.clone());
        let route: Vec<&str> = participants.iter().map(|a| a.as_str()).chain([t.payee.as_str()]).collect();
        hits.push(Hit {
            code: self.code(),
            subject: t.payee.clone(),
            weight: if matched { self.0.matched_weight } else { self.0.weight },
            detail: format!(
                "{} left {} and {back} came back within {} h through {} hops: {}",
                tag.amount_left,
                t.payee,
                (cx.at - tag.left_at) / 3600,
                participants.len(),
                route.join(" → ")
            ),
            participants,
        });
    }
}

#[cfg(test)]
mod tests {
    // Cycles need tags to travel, which the engine does: see `engine::tests`.
}
