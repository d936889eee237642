//! Detection metrics as the Fraud Detection Handbook defines them (chapter 4).

use rustc_hash::{FxHashMap, FxHashSet};

/// Area under the ROC curve; tied scores count half (Mann–Whitney U).
pub fn auc_roc(scores: &[f32], labels: &[bool]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    // Sum of (average) ranks of the positives.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += avg_rank * order[i..=j].iter().filter(|&&k| labels[k]).count() as f64;
        i = j + 1;
    }
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// Average precision: sum over distinct thresholds of precision × recall gained
/// (scikit-learn's `average_precision_score`).
pub fn average_precision(scores: &[f32], labels: &[bool]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    if positives == 0.0 {
        return None;
    }
    let (mut tp, mut seen, mut ap) = (0.0, 0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let mut gained = 0.0;
        let threshold = scores[order[i]];
        while i < order.len() && scores[order[i]] == threshold {
            seen += 1.0;
            if labels[order[i]] {
                gained += 1.0;
            }
            i += 1;
        }
        tp += gained;
        ap += (gained / positives) * (tp / seen);
    }
    Some(ap)
}

/// One scored transaction for card precision.
#[derive(Debug, Clone)]
pub struct DayScore<'a> {
    pub day: i64,
    pub customer: &'a str,
    pub score: f32,
    pub fraud: bool,
}

/// Card precision top-k: per day, the customers with the highest max score; the share
/// of them with a fraud that day. Customers already caught on an earlier day are left
/// out of later days. Returns the mean over days.
pub fn card_precision_top_k(rows: &[DayScore<'_>], k: usize) -> Option<f64> {
    let mut by_day: FxHashMap<i64, FxHashMap<&str, (f32, bool)>> = FxHashMap::default();
    for r in rows {
        let entry = by_day.entry(r.day).or_default().entry(r.customer).or_insert((f32::MIN, false));
        entry.0 = entry.0.max(r.score);
        entry.1 |= r.fraud;
    }
    let mut days: Vec<_> = by_day.into_iter().collect();
    days.sort_by_key(|(d, _)| *d);
    if days.is_empty() {
        return None;
    }
    let mut detected: FxHashSet<&str> = FxHashSet::default();
    let mut total = 0.0;
    for (_, customers) in &days {
        let mut ranked: Vec<(&str, f32, bool)> = customers
            .iter()
            .filter(|(c, _)| !detected.contains(*c))
            .map(|(c, (s, f))| (*c, *s, *f))
            .collect();
        // Highest score first; ties broken by customer id so results are reproducible.
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        let caught: Vec<&str> = ranked.iter().take(k).filter(|r| r.2).map(|r| r.0).collect();
        total += caught.len() as f64 / k as f64;
        detected.extend(caught);
    }
    Some(total / days.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_perfect_random_and_tied_rankings() {
        assert_eq!(auc_roc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]), Some(1.0));
        assert_eq!(auc_roc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]), Some(0.0));
        assert_eq!(auc_roc(&[0.5, 0.5, 0.5, 0.5], &[false, true, false, true]), Some(0.5));
        // Positives 0.1 and 0.8, negatives 0.4 and 0.35: of the four (positive, negative)
        // pairs, 0.8 beats both and 0.1 neither → 2/4.
        assert_eq!(auc_roc(&[0.1, 0.4, 0.35, 0.8], &[true, false, false, true]), Some(0.5));
        assert_eq!(auc_roc(&[0.1], &[true]), None);
    }

    #[test]
    fn average_precision_by_hand() {
        // Ranked: T(0.9) F(0.8) T(0.7) F(0.1): P@1 = 1, P@3 = 2/3 → (1 + 2/3) / 2.
        let ap = average_precision(&[0.1, 0.7, 0.8, 0.9], &[false, true, false, true]).unwrap();
        assert!((ap - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        // A tie between a fraud and a genuine: precision 1/2 at that threshold.
        let ap = average_precision(&[0.5, 0.5], &[true, false]).unwrap();
        assert!((ap - 0.5).abs() < 1e-12);
        assert_eq!(average_precision(&[0.5], &[false]), None);
    }

    #[test]
    fn card_precision_counts_customers_and_drops_those_already_caught() {
        let row = |day, customer, score, fraud| DayScore { day, customer, score, fraud };
        let rows = [
            // Day 0: top-2 customers are a (max 0.9, fraud) and b (0.8, genuine): 1/2.
            row(0, "a", 0.9, true),
            row(0, "a", 0.1, false),
            row(0, "b", 0.8, false),
            row(0, "c", 0.3, true),
            // Day 1: a was caught on day 0 and is skipped; top-2 = c (fraud), b: 1/2.
            row(1, "a", 0.99, true),
            row(1, "c", 0.7, true),
            row(1, "b", 0.6, false),
        ];
        assert_eq!(card_precision_top_k(&rows, 2), Some(0.5));
        // Top-1: day 0 → a ✓ (1), day 1 → c ✓ (1).
        assert_eq!(card_precision_top_k(&rows, 1), Some(1.0));
        assert_eq!(card_precision_top_k(&[], 1), None);
    }
}
